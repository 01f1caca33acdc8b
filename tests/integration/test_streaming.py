"""The fleet streams through the official SDK with a durable spool: nothing is ever lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.spool import Spool
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState, Target

pytestmark = pytest.mark.integration


def stream_cmd(data_dir: Path, *args: str, token: str = TOKEN, env_extra: dict[str, str] | None = None):
    env = {**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": token, **(env_extra or {})}
    cmd = [
        sys.executable,
        "-m",
        "zerostream_desktop",
        "--data-dir",
        str(data_dir),
        "stream",
        "--quiet",
        "--json",
        *args,
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary_of(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no summary; stderr:\n{err}"
    summary = json.loads(lines[-1])
    summary["stderr_tail"] = err[-2000:]  # shows up in assertion messages when a run goes wrong
    return proc.returncode, summary


def spool_ids(data_dir: Path) -> set[str]:
    ids: set[str] = set()
    for path in (data_dir / "spool").glob("*.sqlite"):
        spool = Spool(path)
        ids.update(spool.waiting().event_ids)
        spool.close()
    return ids


def spool_depth(data_dir: Path) -> int:
    total = 0
    for path in (data_dir / "spool").glob("*.sqlite"):
        spool = Spool(path)
        total += spool.depth
        spool.close()
    return total


def test_every_generated_event_lands_in_the_table(tmp_path: Path):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        spool = Spool(tmp_path / "spool" / "test.sqlite")
        target = Target("local", bus.endpoint, TABLE, "http://127.0.0.1:9", bearer_token=TOKEN)

        async def run() -> tuple[Streamer, list[str]]:
            streamer = Streamer(target, spool, batch_size=200)
            runner = asyncio.create_task(streamer.run())
            fleet = Fleet(21, 300, interval_ms=500)
            fleet.start(0.0)
            generated: list[str] = []
            for k in range(1, 21):
                batch = fleet.advance(k * 0.25)
                generated += batch.event_ids()
                streamer.submit(batch)
                streamer.notify()
                await asyncio.sleep(0.05)
            await streamer.stop(30)
            await runner
            return streamer, generated

        started = time.time()
        streamer, generated = asyncio.run(run())
        assert sorted(bus.event_ids()) == sorted(generated)
        assert streamer.stats.acked == len(generated) and spool.depth == 0
        # each row carries the sender's stamp (ZeroBus fills no column) and its size as sent
        rows = bus.rows("ingested_at", "payload_bytes", "zerobus_offset")
        assert all(started <= r["ingested_at"].timestamp() <= time.time() for r in rows)
        assert sum(r["payload_bytes"] for r in rows) == streamer.stats.bytes_acked
        assert all(r["zerobus_offset"] is None for r in rows)
        assert sum(streamer.stats.per_device.values()) == len(generated)
        assert len(streamer.stats.per_device) == 300
    finally:
        bus.terminate()


def test_stream_command_summary_and_exit_code(tmp_path: Path):
    rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "200", "--interval-ms", "500", "--duration", "3"))
    assert rc == 0, summary
    assert summary["state"] == "drained" and summary["spool_depth"] == 0
    assert summary["generated"] == summary["acknowledged"] > 800
    assert summary["duplicates"] == 0 and summary["rejected"] == 0
    assert summary["ack_latency_ms"]["p95"] < 2000
    assert len(LocalBusProcess(tmp_path, 0).event_ids()) == summary["generated"]


def test_several_streams_share_the_devices_and_each_is_acknowledged(tmp_path: Path):
    rc, summary = summary_of(
        stream_cmd(tmp_path, "--devices", "300", "--interval-ms", "500", "--duration", "3", "--streams", "3")
    )
    assert rc == 0, summary
    streams = summary["streams"]
    assert [s["stream"] for s in streams] == [1, 2, 3] and len({s["spool"] for s in streams}) == 3
    assert all(s["acknowledged"] > 250 and s["spool_depth"] == 0 for s in streams), streams  # 100 devices each
    assert sum(s["acknowledged"] for s in streams) == summary["acknowledged"] == summary["generated"]
    assert summary["duplicates"] == 0 and len(LocalBusProcess(tmp_path, 0).event_ids()) == summary["generated"]


def test_a_load_shape_sets_the_rate_and_the_summary_gives_the_rate_reached_in_each_stage(tmp_path: Path):
    rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "300", "--load", "steps:200,2k,5k/3s"))
    assert rc == 0, summary
    load = summary["load"]
    assert load["shape"] == "steps:200,2k,5k/3s" and [s["stage"] for s in load["stages"]] == [
        "step 1 (200/s)", "step 2 (2,000/s)", "step 3 (5,000/s)"]  # fmt: skip
    low, mid, high = (s["generated_per_s"] for s in load["stages"])
    assert 120 < low < 350 and 1_500 < mid < 2_500, load  # (the first step starts with every device due once)
    assert 2_000 < high <= 3_100 and load["capped"], load  # 300 devices offer at most 3,000/s: capped, and said
    assert summary["generated"] == summary["acknowledged"] == len(LocalBusProcess(tmp_path, 0).event_ids())


def test_a_load_shape_that_cannot_be_read_is_named_with_the_forms_it_takes(tmp_path: Path):
    rc, summary = summary_of_error(stream_cmd(tmp_path, "--load", "ramp:1k/60s"))
    assert rc == 2 and "--load" in summary and "ramp:FROM-TO/LENGTH" in summary


def summary_of_error(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_kill_9_of_the_streamer_then_rerun_loses_nothing(tmp_path: Path):
    bus = LocalBusProcess(tmp_path, free_port()).start()  # stays up; the streamer reuses it
    try:
        proc = stream_cmd(tmp_path, "--devices", "500", "--interval-ms", "200", "--duration", "60", "--seed", "5",
                          "--streams", "3")  # fmt: skip
        deadline = time.monotonic() + 60
        while (len(bus.event_ids()) < 2000 or spool_depth(tmp_path) == 0) and time.monotonic() < deadline:
            time.sleep(0.05)  # kill with records both landed and waiting
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(list((tmp_path / "spool").glob("*@stream*.sqlite"))) == 3  # a spool per stream
        waiting = spool_ids(tmp_path)  # unacknowledged at the kill: the only ones that may land twice
        before = set(bus.event_ids()) | waiting  # every event generated and persisted before the kill
        assert waiting, "the kill should leave unacknowledged records in the spool"
        rc, summary = summary_of(  # one stream now ("auto" at 2,500 events/s): it takes over all three spools
            stream_cmd(tmp_path, "--devices", "500", "--interval-ms", "200", "--duration", "2", "--seed", "5")
        )
        assert rc == 0, summary
        assert len(summary["streams"]) == 1
        landed = bus.event_ids()
        assert before <= set(landed)  # none lost
        assert spool_depth(tmp_path) == 0
        twice = {i for i, n in Counter(landed).items() if n > 1}
        assert twice <= waiting  # duplicates only among records that were in flight
        assert summary["duplicates"] == len(landed) - len(set(landed))  # and counted
    finally:
        bus.terminate()


def test_localbus_down_for_ten_seconds_spool_grows_then_drains(tmp_path: Path):
    port = free_port()
    bus = LocalBusProcess(tmp_path, port).start()
    proc = stream_cmd(tmp_path, "--devices", "200", "--interval-ms", "500", "--duration", "16", "--stop-timeout", "60")
    try:
        deadline = time.monotonic() + 60
        while not bus.event_ids() and time.monotonic() < deadline:  # the streamer has found this bus and sends
            time.sleep(0.1)  # (stopped before that, the streamer would start a localbus of its own)
        time.sleep(1)
        bus.terminate()
        time.sleep(5)
        grown = spool_depth(tmp_path)
        time.sleep(5)
        back = time.time()
        bus = LocalBusProcess(tmp_path, port).start()
        rc, summary = summary_of(proc)
        assert grown > 1000  # while the endpoint was away, events waited in the spool
        assert rc == 0, summary
        assert summary["spool_depth"] == 0 and summary["acknowledged"] == summary["generated"]
        assert len(set(bus.event_ids())) == summary["generated"]
        # the backlog is stamped with the time it was finally sent, not when it was generated
        late = [r for r in bus.rows("event_timestamp", "ingested_at") if r["ingested_at"].timestamp() >= back]
        assert len(late) >= grown and all(r["ingested_at"] > r["event_timestamp"] for r in late)
    finally:
        if proc.poll() is None:
            proc.kill()
        bus.terminate()


def test_wrong_token_pauses_with_a_clear_error_and_keeps_the_records(tmp_path: Path):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "50", "--duration", "3", token="wrong"))
        assert rc == 1
        assert summary["state"] == "paused"
        assert "bearer token" in summary["error"] or "authentication" in summary["error"]
        assert summary["spool_depth"] == summary["generated"] > 0
        assert bus.event_ids() == []
    finally:
        bus.terminate()


def test_unknown_table_pauses_and_names_the_table(tmp_path: Path):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        proc = stream_cmd(tmp_path, "--devices", "50", "--duration", "3", env_extra={"TABLE_NAME": "not_there"})
        rc, summary = summary_of(proc)
        assert rc == 1 and summary["state"] == "paused"
        assert "zerostream.sensors.not_there" in summary["error"]
        assert summary["spool_depth"] == summary["generated"]  # whatever was generated is kept
        assert summary["acknowledged"] == 0
    finally:
        bus.terminate()


def test_a_rejected_record_goes_to_the_dead_letters_with_its_reason(tmp_path: Path):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        spool = Spool(tmp_path / "spool" / f"local-{TABLE}.sqlite")  # left by an older version: taken over
        spool.append(["corrupt-1"], ["device-x"], [b"\x0a\x05short"])
        spool.close()
        rc, summary = summary_of(stream_cmd(tmp_path, "--devices", "100", "--interval-ms", "500", "--duration", "3"))
        assert rc == 0, summary
        assert summary["rejected"] == 1 and summary["dead_letters"] == 1
        letters = Spool(tmp_path / "spool" / f"local-{TABLE}@stream.sqlite").dead_letters()
        assert letters[0].event_id == "corrupt-1"
        assert "column connection_id is NOT NULL" in letters[0].reason
        assert len(bus.event_ids()) == summary["generated"]  # the rest went through
    finally:
        bus.terminate()


def test_paused_streamer_resumes_when_asked(tmp_path: Path):
    """A pause is not final: fix the cause, resume, and the kept records go."""
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        spool = Spool(tmp_path / "spool" / "resume.sqlite")

        async def run() -> Streamer:
            target = Target("local", bus.endpoint, "zerostream.sensors.later", "http://127.0.0.1:9", bearer_token=TOKEN)
            streamer = Streamer(target, spool)
            runner = asyncio.create_task(streamer.run())
            fleet = Fleet(1, 20, interval_ms=500)
            fleet.start(0.0)
            streamer.submit(fleet.advance(1.0))
            streamer.notify()
            for _ in range(100):
                if streamer.stats.state is StreamState.PAUSED:
                    break
                await asyncio.sleep(0.05)
            assert streamer.stats.state is StreamState.PAUSED and spool.depth == 20
            from zerostream_desktop.localbus.tables import TableCatalog

            TableCatalog(tmp_path).create_sensor_table("zerostream.sensors.later")
            streamer.resume()
            for _ in range(200):
                if spool.depth == 0:
                    break
                await asyncio.sleep(0.05)
            await streamer.stop(10)
            await runner
            return streamer

        streamer = asyncio.run(run())
        assert streamer.stats.acked == 20 and spool.depth == 0
    finally:
        bus.terminate()


def test_stream_brings_back_the_localbus_it_started_when_it_is_killed(tmp_path: Path):
    from deltalake import DeltaTable

    from zerostream_desktop.core.paths import local_table_path
    from zerostream_desktop.localbus.state import read_state

    proc = stream_cmd(tmp_path, "--devices", "100", "--interval-ms", "500", "--duration", "14", "--stop-timeout", "60")
    try:
        deadline = time.monotonic() + 30
        while not (state := read_state(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state, "the stream command did not start localbus"
        time.sleep(3)
        os.kill(int(state["pid"]), signal.SIGKILL)
        rc, summary = summary_of(proc)
        assert rc == 0, summary
        assert summary["localbus_restarts"] >= 1
        assert summary["spool_depth"] == 0 and summary["acknowledged"] >= summary["generated"] > 0
        again = read_state(tmp_path)
        assert again is None or again["pid"] != state["pid"]  # the new one was stopped at the end, too
        landed = DeltaTable(str(local_table_path(tmp_path, TABLE))).to_pyarrow_table(columns=["event_id"])
        assert len(set(landed["event_id"].to_pylist())) == summary["generated"]
        # the SDK's own (Rust) warnings during the outage went to the log file, not over the terminal
        log = Path(summary["log"]).read_text(errors="replace")
        assert "WARN" in log, log[-2000:]
        assert "WARN" not in summary["stderr_tail"], summary["stderr_tail"]
        assert summary["state_seconds"].get("streaming", 0) > 5
    finally:
        if proc.poll() is None:
            proc.kill()


def _landed(data_dir: Path) -> bool:
    try:
        return bool(LocalBusProcess(data_dir, 0).event_ids())
    except Exception:  # no table yet
        return False


def test_sigterm_stops_generating_sends_what_is_spooled_and_exits_0(tmp_path: Path):
    proc = stream_cmd(tmp_path, "--devices", "100", "--interval-ms", "200", "--duration", "60")
    deadline = time.monotonic() + 60
    while spool_depth(tmp_path) == 0 and not _landed(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)  # streaming (a busy machine starts localbus slower than 4 s)
    time.sleep(1)
    asked = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc, summary = summary_of(proc, timeout=60)
    assert rc == 0 and summary["stopped_by"] == "SIGTERM" and summary["state"] == "drained", summary
    assert summary["spool_depth"] == 0 and summary["acknowledged"] == summary["generated"] > 0
    assert time.monotonic() - asked < 30


def test_four_shards_make_the_fleet_one_process_makes(tmp_path: Path):
    """Four `--shard i/4` processes into one localbus, and one process for the whole fleet into another, at the
    same time: the same devices, and in the time both ran, the same events (ids, devices, times)."""
    sharded, whole = tmp_path / "sharded", tmp_path / "whole"
    buses = [LocalBusProcess(sharded, free_port()).start(), LocalBusProcess(whole, free_port()).start()]
    try:
        fleet = ("--devices", "40", "--interval-ms", "500", "--seed", "9", "--duration", "5")
        runs = [stream_cmd(sharded, *fleet, "--shard", f"{i}/4") for i in range(1, 5)]
        runs.append(stream_cmd(whole, *fleet))
        summaries = [summary_of(p) for p in runs]
        assert all(rc == 0 for rc, _ in summaries), summaries
        assert [s["shard"]["first_device"] for _, s in summaries[:4]] == [0, 10, 20, 30]
        a = buses[0].rows("event_id", "connection_id", "event_timestamp")
        b = buses[1].rows("event_id", "connection_id", "event_timestamp")
    finally:
        for bus in buses:
            bus.terminate()
    assert len({r["event_id"] for r in a}) == len(a)  # no device was run twice
    assert {r["connection_id"] for r in a} == {r["connection_id"] for r in b} and len(
        {r["connection_id"] for r in b}
    ) == 40
    # the time every process was running: each device is run by one process, so it is the time every device
    # was sending, on both sides (the shard processes start one after another, not at once); from its first
    # event on, a device sends at every slot of its schedule
    firsts, lasts = {}, {}
    for side, rows in enumerate((a, b)):
        for r in rows:
            key, t = (side, r["connection_id"]), r["event_timestamp"].timestamp()
            firsts[key], lasts[key] = min(firsts.get(key, t), t), max(lasts.get(key, t), t)
    start, end = max(firsts.values()), min(lasts.values())
    assert end - start > 1.5, (start, end)  # the runs overlapped

    def within(rows):
        return {(r["event_id"], r["connection_id"], r["event_timestamp"]) for r in rows
                if start <= r["event_timestamp"].timestamp() <= end}  # fmt: skip

    assert len(within(b)) >= 40 * 2 * 1.5 and within(a) == within(b)
    per_device = Counter(c for _, c, _ in within(a))
    assert set(per_device.values()) <= {int((end - start) * 2), int((end - start) * 2) + 1}  # every 500 ms
