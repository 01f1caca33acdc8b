"""Dashboard refresh on the local table: full recompute versus incremental refresh, at a given size.

Writes --rows rows from 10,000 simulated devices (their real proto records, decoded as localbus
decodes them, 10,000-row commits through localbus's writer with its upkeep) into a temporary
table. Then, --refreshes times: one more second of streaming lands (10,000 rows, one commit), and
one dashboard refresh (KPIs, client list, one device's track, the per-second series) runs on
each backend, alternating which goes first. Prints median and p95 per backend, their ratio, the
time to build the incremental state, what that state holds and the process's peak memory.

    PYTHONPATH=. .venv/bin/python bench/bench_analytics.py [--rows 1000000] [--refreshes 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.model import Window, refresh
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus.records import Decoder
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter, WriterConfig

TABLE = "zerostream.sensors.sensor_stream"
DEVICES = 10_000


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--refreshes", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        catalog = TableCatalog(root)
        catalog.create_sensor_table(TABLE)
        writer = GroupCommitWriter(catalog, WriterConfig(flush_records=DEVICES, flush_ms=1000))
        fleet = Fleet(1, DEVICES, interval_ms=1000)
        fleet.start(0.0)
        decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)
        second = 0

        def stream_one_second() -> None:
            nonlocal second
            second += 1
            writer.submit(TABLE, decoder.decode(encoding.encode_proto(fleet.advance(float(second))), 0)).result()

        started = time.perf_counter()
        pending = []
        for _ in range(args.rows // DEVICES):
            second += 1
            pending.append(writer.submit(TABLE, decoder.decode(encoding.encode_proto(fleet.advance(float(second))), 0)))
            if len(pending) > 50:
                pending.pop(0).result()
        for f in pending:
            f.result()
        info = catalog.describe(TABLE)
        print(f"table: {info.rows:,} rows in {info.files} files, {DEVICES:,} clients "
              f"(written in {time.perf_counter() - started:.0f} s)")  # fmt: skip

        path = catalog.path(TABLE)
        full = LocalDeltaAnalytics(path, incremental=False)
        inc = LocalDeltaAnalytics(path)
        track_of = full.clients(Window(dt.datetime.now(dt.UTC)))[0].connection_id
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        build_ms = timed(lambda: refresh(inc, Window(dt.datetime.now(dt.UTC)), track_of))
        print(f"incremental state built in {build_ms:.0f} ms (first refresh, track included); "
              f"holds {inc.memory_bytes() / 2**20:.0f} MiB")  # fmt: skip

        times: dict[str, list[float]] = {"full": [], "incremental": []}
        for i in range(args.refreshes):
            stream_one_second()
            order = [("full", full), ("incremental", inc)]
            if i % 2:
                order.reverse()
            for name, backend in order:
                w = Window(dt.datetime.now(dt.UTC))
                times[name].append(timed(lambda b=backend, w=w: refresh(b, w, track_of)))
        writer.close()
        check = Window(dt.datetime.now(dt.UTC))
        same = full.kpis(check) == inc.kpis(check) and full.clients(check) == inc.clients(check)
        print(f"one refresh (KPIs + {DEVICES:,} clients + track + 60 s series), {args.refreshes} refreshes, "
              f"one 10,000-row commit before each:")  # fmt: skip
        for name, xs in times.items():
            print(f"  {name:<12} median {statistics.median(xs):7.0f} ms   p95 {p95(xs):7.0f} ms")
        ratio = statistics.median(times["full"]) / statistics.median(times["incremental"])
        print(f"  full / incremental (medians): {ratio:.1f}x; answers identical at the end: {same}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"peak RSS of this process: {peak / 1024:.0f} MiB (before the incremental state: {rss_before / 1024:.0f} MiB)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
