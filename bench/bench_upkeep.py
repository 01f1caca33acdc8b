"""Does table upkeep keep a long-streamed local table as fast to read as a fresh one?

Writes the same rows three ways through localbus's group-commit writer: many small commits with
upkeep (compaction, checkpoints, vacuum, log cleanup), the same commits without compaction or
vacuum, and one commit into a fresh table. Then prints, median of 5: open time, a full two-column
scan, data files and log entries.

    PYTHONPATH=. .venv/bin/python bench/bench_upkeep.py [--commits 1500] [--rows 200]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from results import Results

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus.records import Decoder
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter, WriterConfig

TABLE = "bench.upkeep.sensor_stream"


def rows(total: int) -> pa.Table:
    fleet = Fleet(3, 1000, interval_ms=1000)
    fleet.start(0.0)
    decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)
    parts, n, k = [], 0, 0
    while n < total:
        k += 1
        part = decoder.decode(encoding.encode_proto(fleet.advance(k * 0.5)), 0)
        parts.append(part)
        n += part.num_rows
    return pa.concat_tables(parts).slice(0, total)


def write(folder: Path, data: pa.Table, commits: int, config: WriterConfig) -> float:
    catalog = TableCatalog(folder)
    catalog.create_sensor_table(TABLE)
    writer = GroupCommitWriter(catalog, config)
    per = data.num_rows // commits
    start = time.perf_counter()
    for i in range(commits):
        writer.submit(TABLE, data.slice(i * per, per)).result()
    writer.close()
    return time.perf_counter() - start


def measure(folder: Path) -> dict[str, float]:
    path = str(TableCatalog(folder).path(TABLE))
    opens, scans = [], []
    for _ in range(5):
        t = time.perf_counter()
        table = DeltaTable(path)
        opens.append(time.perf_counter() - t)
        t = time.perf_counter()
        table.to_pyarrow_table(columns=["connection_id", "payload_bytes"])
        scans.append(time.perf_counter() - t)
    files = len(table.file_uris())
    log_entries = len(list((Path(path) / "_delta_log").glob("*.json")))
    return {"open": statistics.median(opens), "scan": statistics.median(scans), "files": files, "log": log_entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=1500)
    parser.add_argument("--rows", type=int, default=200, help="rows per commit")
    args = parser.parse_args()
    data = rows(args.commits * args.rows)
    root = Path(tempfile.mkdtemp(prefix="bench-upkeep-"))
    flush_each = {"flush_records": 1, "flush_ms": 0}
    variants = {
        "small commits + upkeep": (args.commits, WriterConfig(**flush_each, vacuum_retention_hours=0)),
        "small commits, no upkeep": (
            args.commits,
            WriterConfig(**flush_each, compact_every_commits=10**9, vacuum_every_commits=10**9),
        ),  # fmt: skip
        "fresh table, one commit": (1, WriterConfig(**flush_each)),
    }
    print(f"{args.commits} commits of {args.rows} rows ({data.num_rows:,} rows); median of 5 reads")
    heads = ("write s", "open ms", "scan ms", "files", "log json", "scan vs fresh")
    print(f"{'variant':<26} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 8, 8, 6, 9, 14), strict=True)))
    results = {}
    try:
        for name, (commits, config) in variants.items():
            folder = root / name.replace(" ", "_").replace(",", "").replace("+", "plus")
            written = write(folder, data, commits, config)
            results[name] = (written, measure(folder))
        fresh = results["fresh table, one commit"][1]["scan"]
        figures = Results("upkeep")
        for name, (written, m) in results.items():
            print(f"{name:<26} {written:>8.1f} {m['open'] * 1000:>8.1f} {m['scan'] * 1000:>8.1f} {m['files']:>6} "
                  f"{m['log']:>9} {m['scan'] / fresh:>13.2f}x")  # fmt: skip
            figures.add(f"{args.commits} commits, {name}: open", m["open"] * 1000, "ms")
            scan_ms = m["scan"] * 1000
            figures.add(f"{args.commits} commits, {name}: scan", scan_ms, "ms", ("a fresh table", fresh * 1000))
        figures.save()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
