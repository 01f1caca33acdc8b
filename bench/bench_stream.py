"""End to end on localbus: fleet -> spool -> SDK -> localbus -> Delta, with the spool on and off.

For each load (devices x interval) it runs the streamer for --seconds, then drains, and prints
sustained acknowledged events/s, ack latency p50/p95, and time to table p50/p95 (event generated
until a reader polling the Delta table every 100 ms sees it, via the change data feed). "spool
off" keeps the spool in memory (no disk, no fsync): the ratio shows the cost of durability.

    PYTHONPATH=. .venv/bin/python bench/bench_stream.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from results import Results  # noqa: E402

from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port  # noqa: E402
from zerostream_desktop.core.fleet import Fleet  # noqa: E402
from zerostream_desktop.core.ingest.spool import Spool  # noqa: E402
from zerostream_desktop.core.ingest.streamer import Streamer, Target  # noqa: E402
from zerostream_desktop.localbus.tables import TableCatalog  # noqa: E402

LOADS = ((1_000, 1000), (10_000, 1000), (10_000, 250))  # devices, interval ms


class TableWatcher(threading.Thread):
    """Polls the Delta table's change feed; records when each event became visible."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(daemon=True)
        self.table = TableCatalog(data_dir).open(TABLE)
        self.version = self.table.version()
        self.delays_s: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.poll()
        self.poll()

    def poll(self) -> None:
        self.table.update_incremental()
        version = self.table.version()
        if version <= self.version:
            return
        seen = time.time()
        changes = pa.table(self.table.load_cdf(starting_version=self.version + 1, ending_version=version,
                                               columns=["event_timestamp"]))  # fmt: skip
        self.version = version
        stamps = changes["event_timestamp"].cast(pa.int64()).to_numpy() / 1e6
        self.delays_s.extend((seen - stamps).tolist())


async def drive(streamer: Streamer, devices: int, interval_ms: int, seconds: float) -> float:
    loop = asyncio.get_running_loop()
    runner = asyncio.create_task(streamer.run())
    fleet = Fleet(11, devices, interval_ms=interval_ms)
    start = time.time()
    fleet.start(start)
    while time.time() - start < seconds:
        await asyncio.sleep(0.1)
        if streamer.spool.has_room(devices):
            await loop.run_in_executor(None, streamer.submit, fleet.advance(time.time()))
            streamer.notify()
    await streamer.stop(60)
    await runner
    return time.time() - start


def run_once(data_dir: Path, endpoint: str, devices: int, interval_ms: int, seconds: float, durable: bool) -> dict:
    spool_path = data_dir / "spool" / f"bench-{devices}-{interval_ms}.sqlite" if durable else Path(":memory:")
    spool = Spool(spool_path)
    streamer = Streamer(Target("local", endpoint, TABLE, "http://127.0.0.1:9", bearer_token=TOKEN), spool)
    watcher = TableWatcher(data_dir)
    watcher.start()
    elapsed = asyncio.run(drive(streamer, devices, interval_ms, seconds))
    time.sleep(0.3)
    watcher.stop.set()
    watcher.join()
    spool.close()
    s = streamer.stats
    tt = np.array(watcher.delays_s) if watcher.delays_s else np.array([np.nan])
    return {
        "rate": s.acked / elapsed,
        "ack50": s.latency(50),
        "ack95": s.latency(95),
        "tt50": float(np.percentile(tt, 50)),
        "tt95": float(np.percentile(tt, 95)),
        "lost": s.generated - s.acked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    bus = LocalBusProcess(data_dir, free_port()).start()
    figures = Results("stream")
    print(f"end-to-end benchmark on localbus, {args.seconds:.0f} s per run (events/s acknowledged; latencies)")
    print(f"{'devices':>8} {'interval':>9} {'spool':>6} {'events/s':>10} {'ack p50':>8} {'ack p95':>8} "
          f"{'table p50':>10} {'table p95':>10} {'unacked':>8} {'vs off':>7}")  # fmt: skip
    try:
        for devices, interval in LOADS:
            results = {}
            for durable in (False, True):
                results[durable] = r = run_once(data_dir, bus.endpoint, devices, interval, args.seconds, durable)
                ratio = r["rate"] / results[False]["rate"]
                print(f"{devices:>8,} {interval:>7}ms {'on' if durable else 'off':>6} {r['rate']:>10,.0f} "
                      f"{r['ack50']:>6.0f}ms {r['ack95']:>6.0f}ms {r['tt50']:>9.2f}s {r['tt95']:>9.2f}s "
                      f"{r['lost']:>8,} {ratio:>6.2f}x")  # fmt: skip
                load = f"{devices:,} devices every {interval} ms, spool {'on' if durable else 'off'}"
                figures.add(f"stream {load}: events/s", r["rate"], "events/s", ("spool off", results[False]["rate"]))
                figures.add(f"stream {load}: ack p95", r["ack95"], "ms")
                figures.add(f"stream {load}: time to table p95", r["tt95"], "s")
                figures.add(f"stream {load}: unacknowledged at the end", r["lost"], "events")
        figures.save()
    finally:
        bus.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
