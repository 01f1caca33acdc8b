"""The app when its spool cannot be written (a full disk): the status bar says so, the simulator waits,
and the events already generated go into the spool once there is room (they used to be logged and lost)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject

from tests.unit.test_spool_full_disk import TARGET, fill_up, make_room
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.spool import Spool
from zerostream_desktop.ui.background import Background
from zerostream_desktop.ui.streaming import StreamController

pytestmark = pytest.mark.ui


def test_events_wait_in_memory_and_the_status_says_why(qtbot, tmp_path, qasync_loop):
    owner = QObject()
    stream = StreamController(Background(owner, max_workers=2), owner)
    spool = Spool(tmp_path / "spool" / "s.sqlite")
    fleet = Fleet(4, 100, interval_ms=100)
    fleet.start(1_800_000_000.0)
    stream.attach(TARGET, spool)  # nobody listens there: records stay in the spool, which is what we count
    try:
        fill_up(spool)
        batch = fleet.advance(1_800_000_000.2)
        stream.submit(batch)
        qtbot.waitUntil(lambda: stream.streamer is not None and stream.streamer.stats.spool_error != "", timeout=10_000)
        assert not stream.has_room(1)  # the simulator's backpressure: it waits
        snapshot = stream.snapshot()
        assert snapshot is not None and snapshot.held == len(batch)
        text = snapshot.status_text("localbus")
        assert f"cannot write the spool (database or disk is full): {len(batch):,} events held" in text
        make_room(spool)  # space again: the controller's next update stores them
        qtbot.waitUntil(lambda: spool.depth == len(batch), timeout=10_000)
        assert stream.has_room(1) and "cannot write" not in stream.snapshot().status_text("localbus")
        assert [r.event_id for r in spool.read_after(0, 1000)] == batch.event_ids()
    finally:
        closing = qasync_loop.create_task(stream.close(timeout=1))
        qtbot.waitUntil(closing.done, timeout=30_000)
