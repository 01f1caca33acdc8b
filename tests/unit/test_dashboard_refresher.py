"""The Qt-free dashboard refresh loop the desktop pane and the web dashboard share."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from zerostream_desktop.core.analytics import AnalyticsError, NotReadyError, Refresh, Window
from zerostream_desktop.core.analytics.model import Kpis, Track
from zerostream_desktop.core.analytics.refresher import DashboardRefresher, DashboardUpdate
from zerostream_desktop.core.settings import load_settings


class RecordingBackend:
    """Answers like a backend and records how it was called (from which thread, how many at once)."""

    description = "the recording backend"

    def __init__(self, delay_s: float = 0.0, failures: list[Exception] | None = None) -> None:
        self.delay_s = delay_s
        self.failures = list(failures or [])
        self.calls: list[str | None] = []
        self.threads: set[str] = set()
        self.running = 0
        self.most_at_once = 0
        self.closed = False
        self._lock = threading.Lock()

    def refresh(self, window: Window, track_of: str | None = None, series_s: int = 60) -> Refresh:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.threads.add(threading.current_thread().name)
            time.sleep(self.delay_s)
            if self.failures:
                raise self.failures.pop(0)
            self.calls.append(track_of)
            track = Track(track_of, [], 0) if track_of else None
            return Refresh(window, Kpis(total_events=len(self.calls)), track=track)
        finally:
            with self._lock:
                self.running -= 1

    def close(self) -> None:
        self.closed = True


def settings() -> Any:
    return load_settings(environ={}, search_dirs=[])


async def run_for(refresher: DashboardRefresher, seconds: float, during: Any = None) -> None:
    task = asyncio.create_task(refresher.run())
    await asyncio.sleep(seconds / 2)
    if during is not None:
        during()
    await asyncio.sleep(seconds / 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_every_subscriber_gets_each_update_even_if_another_fails():
    backend = RecordingBackend()
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=0.05)
    got: list[DashboardUpdate] = []

    def broken(update: DashboardUpdate) -> None:
        raise RuntimeError("a socket went away")

    refresher.subscribe(broken)
    refresher.subscribe(got.append)
    asyncio.run(run_for(refresher, 0.5))
    assert got[0].kind == "opened" and got[0].source == "the recording backend"
    data = [u for u in got if u.kind == "data"]
    assert len(data) >= 4
    assert [u.result.kpis.total_events for u in data] == list(range(1, len(data) + 1))
    assert backend.closed  # cancelling the loop closes the backend
    assert "MainThread" not in backend.threads  # the reads never block the event loop's thread


def test_refreshes_never_overlap_a_slow_read_skips_beats():
    backend = RecordingBackend(delay_s=0.2)
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=0.01)
    for _ in range(5):
        refresher.request_track()  # clicks while a read is out do not start another
    asyncio.run(run_for(refresher, 1.0, during=refresher.request_track))
    assert backend.most_at_once == 1
    assert 3 <= len(backend.calls) <= 6


def test_the_track_comes_when_asked_for_and_on_every_beat_while_following():
    backend = RecordingBackend()
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=0.05)
    refresher.following = False
    asyncio.run(run_for(refresher, 0.4, during=lambda: refresher.select("dev-7")))
    asked = [c for c in backend.calls if c is not None]
    assert asked == ["dev-7"]  # once, for the click; not on the other beats
    backend.calls.clear()
    refresher.following = True
    asyncio.run(run_for(refresher, 0.4))
    assert backend.calls and set(backend.calls) == {"dev-7"}
    refresher.select(None)
    backend.calls.clear()
    asyncio.run(run_for(refresher, 0.3))
    assert set(backend.calls) == {None}


def test_a_starting_store_waits_a_failing_one_says_why_and_both_recover():
    backend = RecordingBackend(failures=[NotReadyError("the warehouse is starting"), AnalyticsError("table gone")])
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=0.05)
    got: list[DashboardUpdate] = []
    refresher.subscribe(got.append)
    asyncio.run(run_for(refresher, 0.4))
    kinds = [u.kind for u in got]
    assert kinds[:4] == ["opened", "waiting", "error", "data"]
    assert got[1].message == "the warehouse is starting" and got[2].message == "table gone"
    assert refresher.last is not None and refresher.last.kind == "data"


def test_a_backend_that_cannot_be_opened_is_tried_again_on_the_next_beat():
    attempts: list[int] = []
    backend = RecordingBackend()

    def opener(_settings: Any) -> RecordingBackend:
        attempts.append(1)
        if len(attempts) < 3:
            raise AnalyticsError("cannot sign in to the Databricks workspace: no token")
        return backend

    refresher = DashboardRefresher(settings(), opener=opener, interval_s=0.05)
    got: list[DashboardUpdate] = []
    refresher.subscribe(got.append)
    asyncio.run(run_for(refresher, 0.5))
    assert [u.kind for u in got[:3]] == ["error", "error", "opened"]
    assert "no token" in got[0].message
    assert any(u.kind == "data" for u in got)


class VersionedBackend(RecordingBackend):
    """A store that can say when it changed (as the local table does with its Delta version)."""

    def __init__(self) -> None:
        super().__init__()
        self.version: int | None = 1

    def data_version(self) -> int | None:
        return self.version


def test_with_react_s_a_refresh_follows_new_data_at_once_not_a_second_later():
    backend = VersionedBackend()
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=5.0, react_s=0.05)
    beats: list[float] = []
    refresher.subscribe(lambda u: beats.append(time.monotonic()) if u.kind == "data" else None)

    async def scenario() -> float:
        task = asyncio.create_task(refresher.run())
        await asyncio.sleep(0.5)
        assert len(beats) == 1  # nothing new: no refresh before the 5 s cadence
        changed = time.monotonic()
        backend.version = 2  # a commit
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return changed

    changed = asyncio.run(scenario())
    assert len(beats) == 2 and beats[1] - changed < 0.3


def test_a_store_that_cannot_tell_keeps_to_the_cadence():
    backend = VersionedBackend()
    backend.version = None
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=5.0, react_s=0.05)
    asyncio.run(run_for(refresher, 0.6))
    assert len(backend.calls) == 1


class QualityBackend(RecordingBackend):
    def __init__(self) -> None:
        super().__init__()
        self.quality_reads: list[str | None] = []

    def quality(self, thresholds: Any = None) -> Any:
        from zerostream_desktop.core.analytics.model import Quality

        return Quality(events=len(self.calls), late=2)

    def quality_devices(self, thresholds: Any = None) -> list:
        return []

    def quality_points(self, connection_id: str, thresholds: Any = None) -> list:
        self.quality_reads.append(connection_id)
        return []


def test_the_data_quality_view_is_read_only_while_open_and_not_every_beat():
    backend = QualityBackend()
    refresher = DashboardRefresher(settings(), opener=lambda s: backend, interval_s=0.02)
    refresher.quality_every_s = 0.25
    got: list[DashboardUpdate] = []
    refresher.subscribe(got.append)
    asyncio.run(run_for(refresher, 0.3))
    assert not [u for u in got if u.kind == "quality"]  # closed: never read
    refresher.quality_wanted = True
    refresher.selected = "dev-3"
    got.clear()
    asyncio.run(run_for(refresher, 0.8))
    quality = [u for u in got if u.kind == "quality"]
    data = [u for u in got if u.kind == "data"]
    assert 2 <= len(quality) <= 5 and len(data) > 3 * len(quality)  # every quarter second, not every beat
    assert quality[0].quality.quality.late == 2 and quality[0].quality.points_of == "dev-3"
    backend.quality_reads.clear()
    got.clear()
    refresher.quality_every_s = 60
    asyncio.run(run_for(refresher, 0.3, during=lambda: refresher.select("dev-9")))  # a new client: at once
    assert "dev-9" in backend.quality_reads
