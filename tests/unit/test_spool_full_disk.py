"""A spool that cannot be written (its disk is full) holds the fleet back and drops nothing.

SQLite answers SQLITE_FULL ("database or disk is full") both on a full disk and when the database
reaches its page limit; the limit gives the same error here without a full filesystem (the fault
campaign fills a real one)."""

from __future__ import annotations

import asyncio

import pytest

from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.pump import FleetPump
from zerostream_desktop.core.ingest.spool import Spool, SpoolWriteError
from zerostream_desktop.core.ingest.streamer import Streamer, Target

TARGET = Target("local", "http://127.0.0.1:9", "main.default.t", "http://127.0.0.1:9", bearer_token="x")


def fill_up(spool: Spool) -> None:
    """Its disk is full from now: no page may be added."""
    pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
    spool._db.execute(f"PRAGMA max_page_count = {pages}")


def make_room(spool: Spool) -> None:
    spool._db.execute("PRAGMA max_page_count = 1073741823")


def test_a_write_that_does_not_fit_says_so_and_stores_nothing(tmp_path):
    spool = Spool(tmp_path / "spool" / "s.sqlite")
    spool.append(["a"], ["d"], [b"x"])
    fill_up(spool)
    with pytest.raises(SpoolWriteError, match="database or disk is full.*free space"):
        spool.append([f"e{i}" for i in range(2000)], ["d"] * 2000, [b"y" * 500] * 2000)
    assert spool.depth == 1 and [r.event_id for r in spool.read_after(0, 10)] == ["a"]
    make_room(spool)
    spool.append(["b"], ["d"], [b"z"])  # and the spool works on
    assert [r.event_id for r in spool.read_after(0, 10)] == ["a", "b"]


def test_the_streamer_holds_what_the_spool_cannot_take_and_stores_it_in_order_later(tmp_path):
    spool = Spool(tmp_path / "spool" / "s.sqlite")
    streamer = Streamer(TARGET, spool)
    noted: list[str] = []
    streamer.on_spooled = lambda batch: noted.extend(batch.event_ids())
    fleet = Fleet(5, 300, interval_ms=100)
    fleet.start(1_800_000_000.0)
    first = fleet.advance(1_800_000_000.1)
    assert streamer.submit(first) == len(first)
    fill_up(spool)
    held = [fleet.advance(1_800_000_000.0 + 0.1 * k) for k in (2, 3)]
    assert [streamer.submit(b) for b in held] == [0, 0]
    assert streamer.held == sum(len(b) for b in held) and not streamer.has_room(1)
    assert streamer.stats.spool_error == "database or disk is full"
    assert streamer.retry_held() == 0 and streamer.held  # still full: still held
    make_room(spool)
    assert streamer.retry_held() == streamer.stats.generated - len(first)
    assert not streamer.held and streamer.has_room(1) and not streamer.stats.spool_error
    expected = [e for b in (first, *held) for e in b.event_ids()]
    assert [r.event_id for r in spool.read_after(0, 10_000)] == expected == noted  # in order, each once


def test_the_pump_waits_while_events_are_held_and_goes_on_once_they_are_in(tmp_path):
    spool = Spool(tmp_path / "spool" / "s.sqlite")
    streamer = Streamer(TARGET, spool)
    fleet = Fleet(9, 200, interval_ms=100)
    fleet.start(0.0)
    pump = FleetPump(fleet, streamer)

    async def scenario() -> None:
        await asyncio.sleep(0.15)
        assert await pump.tick() > 0
        fill_up(spool)
        await asyncio.sleep(0.15)
        assert await pump.tick() == 0 and streamer.held  # generated, held, not dropped
        depth, held = spool.depth, streamer.held
        for _ in range(3):
            await asyncio.sleep(0.1)
            assert await pump.tick() == 0
        assert streamer.held == held and spool.depth == depth  # the fleet waited: nothing more generated
        assert pump.throttled_ticks >= 3
        make_room(spool)
        await asyncio.sleep(0.1)
        await pump.tick()
        assert not streamer.held and spool.depth > depth + held - 1

    asyncio.run(scenario())
