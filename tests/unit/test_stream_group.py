"""Several streams for one fleet: each device on one stream, in order; "auto" from the offered rate."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.streamer import StreamState
from zerostream_desktop.core.ingest.streams import (
    MAX_STREAMS,
    StreamGroup,
    parse_streams,
    streams_for_rate,
    worst_state,
)


class _Lane:  # stands in for a Streamer: keeps what it is given
    held = 0

    def __init__(self) -> None:
        self.got: list = []

    def submit(self, batch, timeout=None) -> int:
        self.got.append(batch)
        return len(batch)

    def has_room(self, n: int = 1) -> bool:
        return True

    def notify(self) -> None:
        pass


def test_a_device_always_goes_to_the_same_stream_and_its_events_keep_their_order():
    fleet = Fleet(3, 50, interval_ms=200)
    fleet.start(0.0)
    lanes = [_Lane() for _ in range(4)]
    group = StreamGroup(lanes)  # type: ignore[arg-type]
    sent = []
    for k in range(1, 11):
        batch = fleet.advance(k * 0.25)
        sent += batch.event_ids()
        assert group.submit(batch) == len(batch)
    seen_on: dict[int, int] = {}
    for lane_no, lane in enumerate(lanes):
        for batch in lane.got:
            for device in batch.device_index.tolist():
                assert seen_on.setdefault(device, lane_no) == lane_no
    assert sorted(seen_on) == list(range(50)) and all(d % 4 == k for d, k in seen_on.items())
    for lane in lanes:  # in each stream, the events in the order they were generated
        ids = [i for b in lane.got for i in b.event_ids()]
        assert ids == [i for i in sent if i in set(ids)]
    assert sum(len(b) for lane in lanes for b in lane.got) == len(sent)


def test_auto_opens_one_stream_per_12000_events_a_second():
    assert streams_for_rate(0) == streams_for_rate(500) == streams_for_rate(12_000) == 1
    assert streams_for_rate(12_001) == 2
    assert streams_for_rate(100_000) == 9  # the fleet's maximum, 10,000 devices at 10 Hz
    assert streams_for_rate(10_000_000) == MAX_STREAMS


def test_stream_counts_read_from_text():
    assert parse_streams("auto") is None and parse_streams("AUTO") is None and parse_streams("7") == 7
    for bad in ("0", "-1", str(MAX_STREAMS + 1), "two"):
        with pytest.raises(ValueError, match="auto"):
            parse_streams(bad)


def test_the_state_shown_for_several_streams_is_the_one_needing_attention():
    s = StreamState
    assert worst_state([s.STREAMING, s.PAUSED, s.RECONNECTING]) is s.PAUSED
    assert worst_state([s.STREAMING, s.RECONNECTING]) is s.RECONNECTING
    assert worst_state([s.STREAMING, s.STREAMING]) is s.STREAMING
    assert worst_state([s.STOPPED]) is s.STOPPED


def test_the_offered_rate_counts_every_device_at_its_interval():
    fleet = Fleet(1, 100, interval_ms=250)
    assert fleet.offered_per_s == pytest.approx(400)
    fleet.set_interval(1000, np.arange(50))
    assert fleet.offered_per_s == pytest.approx(250)


def test_auto_opens_streams_as_the_offered_rate_grows_and_never_closes_one():
    made: list[_Lane] = []

    def grow() -> _Lane:
        if len(made) == 3:
            raise OSError("No space left on device")
        made.append(_Lane())
        return made[-1]

    group = StreamGroup([_Lane()], grow=grow)  # type: ignore[list-item,arg-type]

    async def plan() -> list[int]:
        return [await group.plan_for(rate) for rate in (5_000, 30_000, 1_000, 30_000, 100_000)]

    assert asyncio.run(plan()) == [1, 3, 3, 3, 4]  # the fourth new stream could not be opened
    assert "No space left" in group.grow_error and len(group) == 4
    assert asyncio.run(StreamGroup([_Lane()]).plan_for(100_000)) == 1  # a fixed number: nothing to grow with


def test_the_pump_opens_streams_for_what_the_fleet_offers():
    """The web simulator's and `stream`'s producer loop: 2,000 devices at 100 ms offer 20,000 events/s."""
    from zerostream_desktop.core.fleet import DeviceClock
    from zerostream_desktop.core.ingest.pump import FleetPump

    group = StreamGroup([_Lane()], grow=_Lane)  # type: ignore[list-item,arg-type]
    fleet = Fleet(8, 2_000, interval_ms=100)
    clock = DeviceClock()
    fleet.start(clock.schedule())
    pump = FleetPump(fleet, group, clock=clock)  # type: ignore[arg-type]
    asyncio.run(pump.tick())
    assert len(group) == 2 and sum(len(b) for lane in group.streamers for b in lane.got) > 0


def test_the_latency_figures_of_several_streams_weigh_each_stream_alike():
    from zerostream_desktop.core.ingest.streamer import StreamStats

    lanes = [_Lane(), _Lane()]
    for lane, ms in zip(lanes, (10.0, 1000.0), strict=True):
        lane.stats = StreamStats(acked=20_000)
        lane.stats.latencies_ms.extend([ms] * 20_000)  # each stream's history is full
    stats = StreamGroup(lanes).stats  # type: ignore[arg-type]
    assert stats.acked == 40_000
    assert stats.latency(25) == 10.0 and stats.latency(75) == 1000.0  # half of the samples from each


class _SlowLane(_Lane):
    """A stream whose storing (encode + spool) takes `store_s`; `storing` is set while it does."""

    def __init__(self, store_s: float) -> None:
        from zerostream_desktop.core.ingest.streamer import StreamStats

        super().__init__()
        self.stats = StreamStats()
        self.store_s = store_s
        self.storing = threading.Event()

    def submit(self, batch, timeout=None) -> int:
        self.storing.set()
        time.sleep(self.store_s)
        self.storing.clear()
        return super().submit(batch, timeout)


class _CountingFleet(Fleet):
    """Counts the events it makes (`made`, one entry a tick) and whether the lane was storing then."""

    lane: _SlowLane | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made: list[int] = []
        self.overlapped: list[bool] = []

    def advance(self, *args, **kwargs):
        self.overlapped.append(self.lane is not None and self.lane.storing.is_set())
        batch = super().advance(*args, **kwargs)
        self.made.append(len(batch))
        return batch


def _slow_pump(store_s: float, devices: int, interval_ms: int):
    from zerostream_desktop.core.fleet import DeviceClock
    from zerostream_desktop.core.ingest.pump import FleetPump

    lane = _SlowLane(store_s)
    fleet = _CountingFleet(5, devices, interval_ms=interval_ms)
    fleet.lane = lane
    clock = DeviceClock()
    fleet.start(clock.schedule())
    pump = FleetPump(fleet, StreamGroup([lane]), tick_s=0.005, clock=clock)  # type: ignore[arg-type,list-item]
    return pump, fleet, lane, clock


def test_the_pump_makes_the_next_events_while_the_last_are_stored_and_stores_them_in_order():
    """Storing (encode + spool) takes most of a tick here: the fleet does not wait for it, yet every device's
    events reach its stream in time order, and when the pump stops everything it made is stored."""
    pump, fleet, lane, clock = _slow_pump(0.015, 200, 20)
    start = clock.elapsed()
    asyncio.run(pump.run(until=lambda: clock.elapsed() - start > 1.0))
    assert sum(fleet.made) == sum(len(b) for b in lane.got) > 0  # all stored by the time run() returns
    assert any(fleet.overlapped)  # some ticks were generated while the previous one was being stored
    times = np.concatenate([b.columns["event_timestamp"] for b in lane.got])
    devices = np.concatenate([b.device_index for b in lane.got])
    for d in np.unique(devices):
        assert np.all(np.diff(times[devices == d]) > 0)


def test_a_change_of_the_fleet_waits_for_the_last_ticks_events_to_be_stored():
    """Stop returns once what the fleet made is in the spool, so the counts a user then sees are final (the web
    simulator's Stop: its test once saw one more event land after "all acknowledged")."""
    pump, fleet, lane, _ = _slow_pump(0.05, 50, 10)  # storing outlasts the tick that started it

    async def stop_while_storing() -> tuple[int, int]:
        running = asyncio.ensure_future(pump.run())
        while not fleet.made or not fleet.made[-1]:
            await asyncio.sleep(0.001)
        await pump.change(lambda f: f.stop())
        counts = (sum(fleet.made), sum(len(b) for b in lane.got))
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        return counts

    generated, stored = asyncio.run(stop_while_storing())
    assert generated == stored > 0
