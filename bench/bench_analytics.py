"""Dashboard refresh on the local table: full recompute versus incremental refresh, at a given size.

Writes --rows rows from 10,000 simulated devices (their real proto records, decoded as localbus
decodes them) into a temporary table, as if streamed at 1 Hz up to now, compacted and
checkpointed as localbus's upkeep leaves it. Then, --refreshes times: one more second of
streaming lands through localbus's writer (10,000 rows, one commit), and one dashboard refresh
(KPIs, client list, one device's track, the per-second series) runs on each backend, alternating
which goes first. Prints median and p95 per backend, their ratio, the time to build the
incremental state, what that state holds, and resident memory before and after building it.

    PYTHONPATH=. .venv/bin/python bench/bench_analytics.py [--rows 1000000] [--refreshes 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, write_deltalake
from results import Results

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


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


ENGINE_SQL = (
    "SELECT connection_id, count(*) AS n, sum(payload_bytes) AS b, max(ingested_at) AS last"
    " FROM t GROUP BY connection_id"
)


def engines(path: Path) -> None:
    """The embedded engine, chosen by this: one client-list aggregate on each, the table's live files."""
    table = DeltaTable(str(path))
    con = duckdb.connect()
    con.read_parquet(list(table.file_uris()), hive_partitioning=True).create_view("t")
    qb = QueryBuilder().register("t", table)
    runs = {
        "DuckDB over the Delta log's file list": lambda: con.execute(ENGINE_SQL).fetchall(),
        "DataFusion (deltalake QueryBuilder)": lambda: pa.table(qb.execute(ENGINE_SQL).read_all()),
    }
    print("engines, one GROUP BY connection_id over the whole table (median of 5):")
    for name, run in runs.items():
        print(f"  {name:<40} {statistics.median(timed(run) for _ in range(5)):7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--refreshes", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        catalog = TableCatalog(root)
        catalog.create_sensor_table(TABLE)
        path = catalog.path(TABLE)
        seconds = args.rows // DEVICES
        start = time.time() - seconds
        fleet = Fleet(1, DEVICES, interval_ms=1000)
        fleet.start(start)
        decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)
        rng = np.random.default_rng(1)

        def one_second(k: int) -> pa.Table:
            return decoder.decode(encoding.encode_proto(fleet.advance(start + k)), 0)

        # The history, as if streamed at 1 Hz for `seconds` seconds up to now: landing 0.1-0.6 s
        # after each event, then compacted and checkpointed as localbus's upkeep leaves a table.
        began = time.perf_counter()
        parts: list[pa.Table] = []
        offset = 0
        for k in range(1, seconds + 1):
            t = one_second(k)
            event_us = t["event_timestamp"].cast(pa.int64()).to_numpy()
            landed = event_us + rng.integers(100_000, 600_000, len(event_us))
            t = t.set_column(t.schema.get_field_index("ingested_at"), "ingested_at",
                             pa.array(landed).cast(pa.timestamp("us", tz="UTC")))  # fmt: skip
            t = t.set_column(t.schema.get_field_index("zerobus_offset"), "zerobus_offset",
                             pa.array(np.arange(offset, offset + len(t)), pa.int64()))  # fmt: skip
            offset += len(t)
            parts.append(t)
            if len(parts) == 10 or k == seconds:
                write_deltalake(str(path), pa.concat_tables(parts).cast(schema.arrow_schema()), mode="append")
                parts = []
        table = DeltaTable(str(path))
        table.optimize.compact()
        table.create_checkpoint()
        info = catalog.describe(TABLE)
        print(f"table: {info.rows:,} rows in {info.files} files, {DEVICES:,} clients, {seconds:,} s of history "
              f"(written in {time.perf_counter() - began:.0f} s)")  # fmt: skip
        engines(path)
        writer = GroupCommitWriter(catalog, WriterConfig(flush_records=DEVICES, flush_ms=1000))
        second = seconds

        def stream_one_second() -> None:
            nonlocal second
            second += 1
            writer.submit(TABLE, one_second(second)).result()

        full = LocalDeltaAnalytics(path, incremental=False)
        inc = LocalDeltaAnalytics(path)
        track_of = full.clients(Window(dt.datetime.now(dt.UTC)))[0].connection_id
        gc.collect()
        rss_before = rss_mib()
        build_ms = timed(lambda: refresh(inc, Window(dt.datetime.now(dt.UTC)), track_of))
        gc.collect()
        state_mib = inc.memory_bytes() / 2**20
        print(f"incremental state built in {build_ms:.0f} ms (first refresh, track included); holds "
              f"{state_mib:.0f} MiB; resident memory {rss_before:.0f} -> {rss_mib():.0f} MiB")  # fmt: skip
        restarts, no_snapshot = [], []
        for _ in range(3):  # a restart: the state saved by the build (or at close), then one commit since
            stream_one_second()
            again = LocalDeltaAnalytics(path)
            restarts.append(timed(lambda a=again: refresh(a, Window(dt.datetime.now(dt.UTC)), track_of)))
            again.close()
        for _ in range(3):
            cold = LocalDeltaAnalytics(path, snapshots=False)
            no_snapshot.append(timed(lambda c=cold: refresh(c, Window(dt.datetime.now(dt.UTC)), track_of)))
            cold.close()
        restart_ms, rebuild_ms = statistics.median(restarts), statistics.median(no_snapshot)
        print(f"first refresh after a restart, from the saved state: {restart_ms:.0f} ms (median of 3); "
              f"rebuilding instead: {rebuild_ms:.0f} ms")  # fmt: skip

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
        results = Results("analytics")
        results.add(f"first refresh at {info.rows:,} rows (incremental state built)", build_ms, "ms")
        results.add(f"first refresh at {info.rows:,} rows after a restart (saved state)", restart_ms, "ms",
                    ("the state rebuilt", rebuild_ms))  # fmt: skip
        for name, xs in times.items():
            results.add(f"refresh at {info.rows:,} rows, {name}: median", statistics.median(xs), "ms")
        inc_ms, full_ms = statistics.median(times["incremental"]), statistics.median(times["full"])
        results.add(f"refresh at {info.rows:,} rows, incremental vs full", inc_ms, "ms", ("full refresh", full_ms))
        results.save()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"resident memory now {rss_mib():.0f} MiB; peak of the process {peak:.0f} MiB (table generation included)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
