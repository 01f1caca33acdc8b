"""The dashboard's refresh loop, for any front end: the desktop pane and the web dashboard.

About once a second it opens the backend if needed, runs one `refresh` off the event loop (in an
executor: every backend blocks) and hands the result to every subscriber. Refreshes never
overlap: a slow read skips a beat rather than queueing one. The followed client's track is read
with the beat when asked for (`request_track`, e.g. a click) or on every beat while following.
With `react_s`, a store that can say cheaply when it changed (the local table: its Delta version)
is asked that often, and a refresh follows new data at once instead of waiting for the next second
(the web dashboard: an update reaches pages within about half a second of a commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from zerostream_desktop.core.analytics.model import (
    Analytics,
    AnalyticsError,
    DeviceQuality,
    NotReadyError,
    Quality,
    QualityPoint,
    Refresh,
    Window,
)

if TYPE_CHECKING:
    from zerostream_desktop.core.settings import Settings

log = logging.getLogger(__name__)

UpdateKind = Literal["opened", "data", "quality", "waiting", "error"]
QUALITY_EVERY_S = 10.0  # the data-quality view reads the whole table: not every second
FIRST_READ_NOTE = "first read: on a large table this takes seconds"


@dataclass(frozen=True)
class QualityReport:
    """The data-quality view's read: the summary, the devices with findings, the selected one's points."""

    quality: Quality
    devices: list[DeviceQuality]
    points_of: str | None = None
    points: list[QualityPoint] | None = None


def read_quality(backend: Analytics, selected: str | None) -> QualityReport:
    """One data-quality read (blocks: several whole-table queries)."""
    points = backend.quality_points(selected) if selected else None
    return QualityReport(backend.quality(), backend.quality_devices(), selected, points)


@dataclass(frozen=True)
class DashboardUpdate:
    """What one beat produced. `data` carries a Refresh; the others a message for the user."""

    kind: UpdateKind
    now: dt.datetime
    source: str = ""  # the backend's description, once open
    result: Refresh | None = None
    quality: QualityReport | None = None  # kind "quality"
    message: str = ""
    elapsed_ms: float = 0.0  # the read's own time


Subscriber = Callable[[DashboardUpdate], None]


class DashboardRefresher:
    """`await run()` until cancelled; `subscribe` to get every update (called on the event loop)."""

    def __init__(
        self,
        settings: Settings,
        *,
        opener: Callable[[Settings], Analytics] | None = None,
        interval_s: float = 1.0,
        react_s: float | None = None,
        executor: Executor | None = None,
    ) -> None:
        from zerostream_desktop.core.analytics import open_analytics

        self.settings = settings
        self.interval_s = interval_s
        self.react_s = react_s
        self._version: int | None = None
        self.selected: str | None = None
        self.following = True
        self.last: DashboardUpdate | None = None
        self._opener = opener or open_analytics
        self._executor = executor
        self._subscribers: list[Subscriber] = []
        self._wake: asyncio.Event | None = None  # made in run(): an Event belongs to one loop
        self._track_wanted = False
        self.quality_wanted = False  # a data-quality view is showing: read it every QUALITY_EVERY_S
        self.quality_every_s = QUALITY_EVERY_S
        self._quality_at = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.backend: Analytics | None = None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def select(self, connection_id: str | None) -> None:
        """Follow this client's track (None: no track); its track comes with the next beat, at once."""
        self.selected = connection_id or None
        if self.quality_wanted:
            self._quality_at = float("-inf")  # its marks come with the track
        self.request_track()

    def request_quality(self) -> None:
        """Read the data-quality view with the next beat (it was opened, or another client selected)."""
        self._quality_at = float("-inf")
        if self._wake is not None:
            self._wake.set()

    def request_track(self) -> None:
        self._track_wanted = True
        if self._wake is not None:
            self._wake.set()

    def window(self, now: dt.datetime) -> Window:
        active = self.settings.active_window_seconds
        return Window(now, active, max(300, active))

    def start(self) -> None:
        """Run on the current event loop until `stop()`."""
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        try:
            while True:
                started = loop.time()
                await self.beat()
                await self._until_next_beat(wake, started)
                wake.clear()
        finally:
            self._wake = None
            if self.backend is not None:
                backend, self.backend = self.backend, None
                await loop.run_in_executor(self._executor, backend.close)

    async def _until_next_beat(self, wake: asyncio.Event, started: float) -> None:
        """The next second; sooner if asked (a click), or when `react_s` is set and the store has new data."""
        loop = asyncio.get_running_loop()
        next_beat = started + self.interval_s
        while (left := next_beat - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.05, min(left, self.react_s or left)))
                return
            backend = self.backend
            if self.react_s is not None and backend is not None:
                version = await loop.run_in_executor(self._executor, backend.data_version)
                if version is not None and version != self._version:
                    return

    async def beat(self) -> DashboardUpdate:
        """One refresh, published; also what `run` does each second."""
        loop = asyncio.get_running_loop()
        now = dt.datetime.now(dt.UTC)
        track_of = self.selected if self.selected and (self._track_wanted or self.following) else None
        self._track_wanted = False
        from zerostream_desktop.core.settings import SettingsError

        try:
            if self.backend is None:
                self.backend = await loop.run_in_executor(self._executor, self._opener, self.settings)
                self._publish(DashboardUpdate("opened", now, self.backend.description, message=FIRST_READ_NOTE))
            backend = self.backend
            t0 = time.perf_counter()
            if self.react_s is not None:
                self._version = await loop.run_in_executor(self._executor, backend.data_version)
            result = await loop.run_in_executor(self._executor, backend.refresh, self.window(now), track_of)
            update = DashboardUpdate("data", now, backend.description, result,
                                     elapsed_ms=(time.perf_counter() - t0) * 1000)  # fmt: skip
        except NotReadyError as exc:
            update = DashboardUpdate("waiting", now, self._source(), message=str(exc))
        except (AnalyticsError, SettingsError, OSError) as exc:
            log.warning("dashboard refresh failed: %s", exc)
            update = DashboardUpdate("error", now, self._source(), message=str(exc))
        self._publish(update)
        due = time.monotonic() - self._quality_at >= self.quality_every_s
        if update.kind == "data" and self.quality_wanted and due:
            await self._read_quality(now)
        return update

    async def _read_quality(self, now: dt.datetime) -> None:
        self._quality_at = time.monotonic()
        backend = self.backend
        if backend is None:
            return
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            report = await loop.run_in_executor(self._executor, read_quality, backend, self.selected)
        except AnalyticsError as exc:
            log.warning("data-quality read failed: %s", exc)
            self._publish(DashboardUpdate("error", now, self._source(), message=f"data quality: {exc}"))
            return
        self._publish(DashboardUpdate("quality", now, backend.description, quality=report,
                                      elapsed_ms=(time.perf_counter() - t0) * 1000))  # fmt: skip

    def _source(self) -> str:
        return self.backend.description if self.backend is not None else ""

    def _publish(self, update: DashboardUpdate) -> None:
        self.last = update
        for subscriber in list(self._subscribers):
            try:
                subscriber(update)
            except Exception:  # one broken front end must not stop the others' updates
                log.exception("a dashboard subscriber failed")
