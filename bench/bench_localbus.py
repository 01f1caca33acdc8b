"""localbus throughput and ack latency, against a null endpoint measured in the same run.

The real ZeroBus SDK (sync API, one stream, PROTO, batches of --batch records) streams pre-encoded
fleet events at fixed offered loads and then as fast as it can, first into a null endpoint that
acknowledges at once (the ceiling of SDK + gRPC on this machine), then into localbus writing
Delta. Each endpoint runs as its own process, as it would for a user. Prints sustained committed
rows/s (sent / time until all acknowledged), ack latency p50/p95/p99 per batch, and the ratio to the ceiling.
Delta's own write speed on this machine is measured in the same run (`write_deltalake` appends of
the decoded events to a table made as localbus makes it, at 10,000 and 100,000 rows and at the
rows per commit localbus reached at its fastest), and localbus's ratio to it printed.

    .venv/bin/python bench/bench_localbus.py [--seconds 5] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from deltalake import write_deltalake  # noqa: E402
from results import Results  # noqa: E402

from tests.integration.localbus_helpers import (  # noqa: E402
    TABLE,
    LocalBusProcess,
    free_port,
    headers_provider,
    options,
    table_properties,
)
from zerostream_desktop.core import encoding, schema  # noqa: E402
from zerostream_desktop.core.fleet import Fleet  # noqa: E402
from zerostream_desktop.localbus.records import Decoder  # noqa: E402
from zerostream_desktop.localbus.tables import TableCatalog  # noqa: E402

LOADS = (1_000, 10_000, 50_000, 200_000, 400_000, None)  # records/s offered; None = as fast as possible
MAX_INFLIGHT = 400_000  # records sent but not acknowledged, at most (the SDK allows 1,000,000 by default)


def record_pool(n: int) -> list[bytes]:
    fleet = Fleet(5, 10_000, interval_ms=1000)
    fleet.start(0.0)
    out: list[bytes] = []
    k = 0
    while len(out) < n:
        k += 1
        out.extend(encoding.stamp_sent(encoding.encode_proto(fleet.advance(k * 0.5))))  # as the sender sends them
    return out[:n]


def run_load(endpoint: str, pool: list[bytes], batch: int, rate: int | None, seconds: float) -> dict[str, float]:
    from zerobus.sdk.shared import AckCallback
    from zerobus.sdk.sync import ZerobusSdk

    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    acked = [0]

    class Latency(AckCallback):
        def on_ack(self, offset: int) -> None:
            now = time.perf_counter()
            with lock:
                acked[0] += 1
                t = sent_at.pop(offset, None)
                if t is not None:
                    latencies.append(now - t)

        def on_error(self, offset: int, error_message: str) -> None:
            print(f"  error at {offset}: {error_message}", file=sys.stderr)

    sdk = ZerobusSdk(endpoint, "http://127.0.0.1:9")
    stream = sdk.create_stream(
        table_properties=table_properties(),
        options=options(ack_callback=Latency()),
        headers_provider=headers_provider(),
    )
    batches = [pool[i : i + batch] for i in range(0, len(pool) - batch + 1, batch)]
    interval = batch / rate if rate else 0.0
    start = time.perf_counter()
    sent = 0
    k = 0
    while (k * interval if rate else time.perf_counter() - start) < seconds:
        due = start + k * interval
        if rate and time.perf_counter() < due:
            time.sleep(max(0.0, due - time.perf_counter()))
        while (k - acked[0]) * batch > MAX_INFLIGHT:  # a bounded window, like a real producer
            time.sleep(0.0005)
        records = batches[k % len(batches)]
        with lock:
            offset = stream.ingest_records_offset(records)
            sent_at[offset] = time.perf_counter()
        sent += len(records)
        k += 1
    stream.flush()
    elapsed = time.perf_counter() - start
    stream.close()
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "offered": rate or 0,
        "sent": sent,
        "rows_per_s": sent / max(elapsed, seconds),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "p99": float(np.percentile(lat, 99)),
    }


def null_endpoint(port: int) -> subprocess.Popen[str]:
    script = Path(__file__).with_name("null_endpoint.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout and proc.stdout.readline().strip() == "ready"
    return proc


def delta_speed(events: pa.Table, rows_per_append: int, seconds: float, runs: int = 3) -> float:
    """Delta's own append speed here: `write_deltalake` of decoded events, median of `runs`."""
    chunk = pa.concat_tables([events] * (rows_per_append // events.num_rows + 1)).slice(0, rows_per_append)
    rates = []
    for _ in range(runs):
        data_dir = Path(tempfile.mkdtemp(prefix="bench-delta-"))
        try:
            catalog = TableCatalog(data_dir)
            catalog.create_sensor_table(TABLE)
            handle = catalog.open(TABLE)
            write_deltalake(handle, chunk, mode="append")  # warm: first commit and imports
            rows, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                write_deltalake(handle, chunk, mode="append")
                rows += chunk.num_rows
            rates.append(rows / (time.perf_counter() - start))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return statistics.median(rates)


def decode_speeds(pool: list[bytes], results: Results) -> None:
    """localbus's record decoding alone, against the protobuf runtime (one message a record), median of 5."""
    decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), json_mode=False)
    sample = pool[:20_000]

    def rate(fn: object, size: int) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(0, len(sample), size):
                fn(sample[i : i + size], i)  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return len(sample) / statistics.median(times)

    runtime = rate(decoder._decode_rows, 1_000)
    print("\nrecord decoding alone (rows/s, median of 5):")
    print(f"  protobuf runtime, a message a record (baseline): {runtime:>10,.0f}")
    for size in (1_000, 5_000):
        fast = rate(decoder.decode, size)
        print(f"  localbus, batches of {size:>5,}:                   {fast:>10,.0f}  {fast / runtime:5.1f}x")
        results.add(f"localbus decode, batches of {size:,}", fast, "rows/s", ("protobuf runtime decode", runtime))


def decoded(pool: list[bytes]) -> pa.Table:
    descriptor = schema.descriptor_proto().SerializeToString()
    return Decoder(TABLE, schema.arrow_schema(), descriptor, json_mode=False).decode(pool, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load (default 5)")
    parser.add_argument("--batch", type=int, default=1000, help="records per ingest call (default 1000)")
    args = parser.parse_args()
    pool = record_pool(50_000)
    results = Results("localbus")
    print(f"localbus benchmark: SDK -> endpoint, PROTO, batches of {args.batch}, {args.seconds:.0f} s per load")
    heads = ("offered/s", "rows/s", "ack p50 ms", "p95 ms", "p99 ms", "vs null")
    print(f"{'endpoint':<10} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, (10, 10, 11, 8, 8, 8), strict=True)))
    ceiling: dict[int, float] = {}
    port = free_port()
    proc = null_endpoint(port)
    try:
        for rate in LOADS:
            r = run_load(f"http://127.0.0.1:{port}", pool, args.batch, rate, args.seconds)
            ceiling[r["offered"]] = r["rows_per_s"]
            _row("null", r, 1.0)
    finally:
        proc.terminate()
        proc.wait()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-localbus-"))
    bus = LocalBusProcess(data_dir, free_port()).start()
    fastest: dict[str, float] = {}
    try:
        for rate in LOADS:
            before = TableCatalog(data_dir).open(TABLE).version()
            r = run_load(bus.endpoint, pool, args.batch, rate, args.seconds)
            r["commits"] = TableCatalog(data_dir).open(TABLE).version() - before
            _row("localbus", r, r["rows_per_s"] / ceiling[r["offered"]])
            if rate is None:
                fastest = r
            elif r["rows_per_s"] >= 0.98 * rate:
                results.add(f"localbus at {rate:,} rows/s offered: ack p95", r["p95"], "ms")
    finally:
        bus.terminate()
        shutil.rmtree(data_dir, ignore_errors=True)
    events = decoded(pool)
    decode_speeds(pool, results)
    per_commit = int(fastest["sent"] / max(1.0, fastest["commits"]))
    print(f"\nDelta's own write speed (write_deltalake appends of these events, median of 3 x {args.seconds:.0f} s)")
    speeds = {}
    for size in sorted({10_000, 100_000, max(1_000, per_commit)}):
        speeds[size] = delta_speed(events, size, args.seconds)
        label = " (localbus's rows per commit at its fastest)" if size == max(1_000, per_commit) else ""
        print(f"  {size:>9,} rows per append: {speeds[size]:>10,.0f} rows/s{label}")
    top = fastest["rows_per_s"]
    print(f"\nlocalbus at its fastest: {top:,.0f} rows/s in {fastest['commits']:.0f} commits of ~{per_commit:,} rows")
    print(f"  vs Delta at 100,000 rows per append: {top / speeds[100_000]:.2f}x")
    print(f"  vs Delta at the same commit size:    {top / speeds[max(1_000, per_commit)]:.2f}x")
    print(f"  vs the SDK into a null endpoint:     {top / ceiling[0]:.2f}x")
    results.add("localbus rows/s, as fast as acks come", top, "rows/s", ("Delta 100,000-row appends", speeds[100_000]))
    results.add("localbus rows/s vs Delta at its commit size", top, "rows/s",
                (f"Delta {per_commit:,}-row appends", speeds[max(1_000, per_commit)]))  # fmt: skip
    results.add("localbus rows/s vs the SDK into a null endpoint", top, "rows/s", ("SDK into null", ceiling[0]))
    results.add("localbus ack p95 at its fastest", fastest["p95"], "ms")
    results.add("localbus rows per commit at its fastest", per_commit, "rows")
    results.add("Delta 10,000-row appends", speeds[10_000], "rows/s")
    results.save()


def _row(name: str, r: dict[str, float], ratio: float) -> None:
    offered = f"{r['offered']:,.0f}" if r["offered"] else "max"
    latencies = f"{r['p50']:>11.1f} {r['p95']:>8.1f} {r['p99']:>8.1f}"
    print(f"{name:<10} {offered:>10} {r['rows_per_s']:>10,.0f} {latencies} {ratio:>7.2f}x")


if __name__ == "__main__":
    main()
