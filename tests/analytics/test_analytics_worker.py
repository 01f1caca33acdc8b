"""The desktop reads the local table through a child process: it answers as the in-process backend does,
raises the same errors, survives being killed, and ends when the app does."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from deltalake import write_deltalake

from tests.analytics import dataset
from tests.analytics.conftest import local_table
from zerostream_desktop.core.analytics import open_analytics
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.map_payload import devices_payload
from zerostream_desktop.core.analytics.model import AnalyticsError
from zerostream_desktop.core.analytics.worker import WorkerAnalytics
from zerostream_desktop.core.settings import load_settings

pytestmark = pytest.mark.integration


def test_a_refresh_through_the_worker_is_the_one_made_in_process_with_the_map_json(tmp_path, rows):
    path = local_table(tmp_path, rows[:2000])
    here, there = LocalDeltaAnalytics(path), WorkerAnalytics(path)
    try:
        for more in (rows[:0], rows[2000:3000]):  # then again, from the change feed in both
            write_deltalake(str(path), dataset.arrow(more), mode="append")
            a = here.refresh(dataset.WINDOW, track_of=dataset.LONG)
            b = there.refresh(dataset.WINDOW, track_of=dataset.LONG)
            assert (b.kpis, b.clients, b.track, b.series) == (a.kpis, a.clients, a.track, a.series)
            assert len(b.clients) > 5 and b.track is not None and b.track.points
            assert b.devices is not None and json.loads(b.devices.whole()) == devices_payload(a.clients)
            assert json.loads(b.devices.ids) == [c.connection_id for c in a.clients if c.latitude is not None]
    finally:
        here.close()
        there.close()


def test_an_error_in_the_worker_is_raised_as_itself_and_the_worker_goes_on(tmp_path, rows):
    backend = WorkerAnalytics(local_table(tmp_path, rows[:500]))
    try:
        with pytest.raises(ValueError, match="limit") as raised:
            backend.events(None, limit=-1)
        with pytest.raises(ValueError) as direct:
            LocalDeltaAnalytics(tmp_path / "none").events(None, limit=-1)
        assert str(raised.value) == str(direct.value)
        assert len(backend.events(None, limit=5)) == 5
    finally:
        backend.close()


def test_a_killed_worker_is_reported_with_its_log_and_started_again(tmp_path, rows):
    log_file = tmp_path / "logs" / "analytics.log"
    backend = WorkerAnalytics(local_table(tmp_path, rows[:1000]), log_file=log_file)
    try:
        before = backend.kpis(dataset.WINDOW)
        first = backend.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(AnalyticsError, match=r"stopped with exit code -9; it starts again") as raised:
            backend.kpis(dataset.WINDOW)
        assert str(log_file) in str(raised.value) and "analytics worker serving" in str(raised.value)
        assert backend.kpis(dataset.WINDOW) == before  # a new worker, the same answer
        assert backend.pid not in (None, first)
    finally:
        backend.close()
    with pytest.raises(AnalyticsError, match="closed"):
        backend.kpis(dataset.WINDOW)


def test_the_worker_ends_when_the_app_closes_the_pipe_without_a_word(tmp_path, rows):
    backend = WorkerAnalytics(local_table(tmp_path, rows[:100]))
    backend.kpis(dataset.WINDOW)
    proc = backend._proc  # noqa: SLF001  (what an app that died leaves: its end of the pipe closed)
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_the_desktop_opens_the_local_table_in_a_worker_that_logs_to_the_data_folder(tmp_path, rows):
    local_table(tmp_path, rows[:300])
    settings = load_settings(environ={"ZEROSTREAM_DATA_DIR": str(tmp_path)}, search_dirs=[])
    backend = open_analytics(settings, own_process=True)
    try:
        assert isinstance(backend, WorkerAnalytics)
        assert backend.kpis(dataset.WINDOW) == dataset.expected_kpis(rows[:300], dataset.WINDOW)
    finally:
        backend.close()
    deadline = time.monotonic() + 5
    while "analytics worker serving" not in (log := (tmp_path / "logs" / "analytics.log").read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)


def test_the_worker_makes_its_log_folder_private_but_leaves_an_existing_one_as_it_is(tmp_path, rows):
    path = local_table(tmp_path, rows[:50])
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)  # like /tmp
    for log_file in (tmp_path / "new" / "logs" / "analytics.log", shared / "analytics.log"):
        backend = WorkerAnalytics(path, log_file=log_file)
        backend.kpis(dataset.WINDOW)
        backend.close()
    assert (tmp_path / "new" / "logs").stat().st_mode & 0o7777 == 0o700
    assert shared.stat().st_mode & 0o7777 == 0o1777
