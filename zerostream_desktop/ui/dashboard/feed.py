"""Puts the Qt-free dashboard refresher's updates on the pane, and tells it which track the pane wants.

The refresher runs on the qasync loop, so its updates arrive on the UI thread; the reads
themselves happen on worker threads inside the refresher.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from zerostream_desktop.core.analytics.refresher import DashboardRefresher, DashboardUpdate
from zerostream_desktop.ui.dashboard.pane import DashboardPane


class DashboardFeed(QObject):
    first_data_shown = Signal()

    def __init__(
        self,
        pane: DashboardPane,
        refresher: DashboardRefresher,
        ack_p95_ms: Callable[[], float | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or pane)
        self.pane = pane
        self.refresher = refresher
        self._ack_p95_ms = ack_p95_ms
        self._shown_data = False
        refresher.following = pane.following
        pane.track_requested.connect(refresher.select)
        pane.follow_toggled.connect(self._follow_toggled)
        pane.quality_shown.connect(self._quality_shown)
        refresher.subscribe(self.show)

    def start(self) -> None:
        self.refresher.start()

    async def stop(self) -> None:
        await self.refresher.stop()

    def show(self, update: DashboardUpdate) -> None:
        pane = self.pane
        if update.kind == "opened":
            pane.show_source(f"{update.source} ({update.message})")
        elif update.kind == "waiting":
            pane.show_waiting(update.message)
        elif update.kind == "error":
            pane.show_error(update.message)
        elif update.kind == "quality" and update.quality is not None:
            pane.show_quality(update.quality, update.now, update.elapsed_ms)
        elif update.result is not None:
            result = update.result
            pane.show_source(update.source)
            pane.show_kpis(result.kpis, self._ack_p95_ms(), update.now)
            pane.show_series(result.series, update.now)
            pane.show_clients(result.clients)
            if result.track is not None:
                pane.show_track(result.track)
            if not self._shown_data:
                self._shown_data = True
                self.first_data_shown.emit()

    def _quality_shown(self, shown: bool) -> None:
        self.refresher.quality_wanted = shown
        if shown:
            self.refresher.request_quality()

    def _follow_toggled(self, on: bool) -> None:
        self.refresher.following = on
        if on:
            self.refresher.request_track()
