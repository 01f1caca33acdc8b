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


def test_batches_reach_the_spool_in_the_order_they_were_generated(qtbot, qasync_loop):
    """The simulator hands over a batch every tick and storing one can take longer than a tick: they still
    go into the spool one after another, in order (with several storing threads a later batch could pass)."""
    import random
    import time

    from zerostream_desktop.core.ingest.streams import StreamGroup

    class _Lane:  # stands in for a Streamer: storing takes a random while, then the batch is in
        held = 0

        def __init__(self) -> None:
            self.got: list[float] = []

        def submit(self, batch, timeout=None) -> int:
            time.sleep(random.uniform(0, 0.01))
            self.got.append(float(batch.columns["event_timestamp"][0]))
            return len(batch)

        def notify(self) -> None:
            pass

    owner = QObject()
    stream = StreamController(Background(owner, max_workers=4), owner)
    lane = _Lane()
    stream.streamer = StreamGroup([lane])  # type: ignore[list-item]
    fleet = Fleet(4, 20, interval_ms=100)
    fleet.start(1_800_000_000.0)
    made = []
    for k in range(1, 41):
        batch = fleet.advance(1_800_000_000.0 + k * 0.1)
        made.append(float(batch.columns["event_timestamp"][0]))
        stream.submit(batch)
    qtbot.waitUntil(lambda: len(lane.got) == len(made), timeout=10_000)
    assert lane.got == made
