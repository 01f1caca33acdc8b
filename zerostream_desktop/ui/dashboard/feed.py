"""Puts the Qt-free dashboard refresher's updates on the pane, and tells it which track the pane wants.

The refresher runs on the qasync loop, so its updates arrive on the UI thread; the reads
themselves happen on worker threads inside the refresher.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from zerostream_desktop.core.analytics.model import Refresh
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
        self._latest: Refresh | None = None  # a refresh whose table and map are still to be shown
        self._showing = False
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
            pane.show_source(update.source)
            pane.show_kpis(update.result.kpis, self._ack_p95_ms(), update.now)
            pane.show_series(update.result.series, update.now)
            self._latest = update.result
            if not self._showing:
                self._showing = True
                QTimer.singleShot(0, self, self._show_table)

    # The table and the map follow the tiles, each in an event-loop turn of its own: with 10,000 clients
    # each is a few ms, and input (and the simulator's ticks) are served between them.
    def _show_table(self) -> None:
        result, self._latest = self._latest, None
        if result is None:
            self._showing = False
            return
        self.pane.show_table(result.clients)
        QTimer.singleShot(0, self, lambda: self._show_map(result))

    def _show_map(self, result: Refresh) -> None:
        self.pane.show_devices(result.clients, result.devices)
        if result.track is not None:
            self.pane.show_track(result.track)
        if not self._shown_data:
            self._shown_data = True
            self.first_data_shown.emit()
        if self._latest is None:
            self._showing = False
        else:  # a newer refresh came meanwhile
            QTimer.singleShot(0, self, self._show_table)

    def _quality_shown(self, shown: bool) -> None:
        self.refresher.quality_wanted = shown
        if shown:
            self.refresher.request_quality()

    def _follow_toggled(self, on: bool) -> None:
        self.refresher.following = on
        if on:
            self.refresher.request_track()
