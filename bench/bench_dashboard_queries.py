"""Dashboard refresh cost on the local table: KPIs and the client list at a given size.

Writes --rows rows from 10,000 simulated devices (10,000-row commits through localbus's writer)
into a temporary table, then times each query five times and prints the medians. A full
recompute per refresh: the figure the incremental refresh of the analytics issue has to beat.

    PYTHONPATH=. .venv/bin/python bench/bench_dashboard_queries.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus.records import Decoder
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter, WriterConfig

TABLE = "zerostream.sensors.sensor_stream"
DEVICES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        catalog = TableCatalog(root)
        catalog.create_sensor_table(TABLE)
        writer = GroupCommitWriter(catalog, WriterConfig(flush_records=DEVICES, flush_ms=1000))
        fleet = Fleet(1, DEVICES, interval_ms=1000)
        fleet.start(0.0)
        decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)
        futures = [
            writer.submit(TABLE, decoder.decode(encoding.encode_proto(fleet.advance(float(k))), 0))
            for k in range(1, args.rows // DEVICES + 1)
        ]
        for f in futures:
            f.result()
        writer.close()
        info = catalog.describe(TABLE)
        analytics = LocalDeltaAnalytics(catalog.path(TABLE))
        now = dt.datetime.now(dt.UTC)
        print(f"{info.rows:,} rows in {info.files} files, {DEVICES:,} clients; median of 5")
        for name, query in (
            ("KPIs", lambda: analytics.kpis(now, 15)),
            ("client list", lambda: analytics.clients(now, 15)),
        ):
            times = []
            for _ in range(5):
                start = time.perf_counter()
                query()
                times.append(time.perf_counter() - start)
            print(f"{name:<12} {statistics.median(times) * 1000:8.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
