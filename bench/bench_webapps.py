"""The dashboard web app at 10,000 clients: one update's cost and size, 100 live pages, and the page in Chromium.

A temporary local table gets 10,000 clients' history, then one row per client every second (one
commit each, `ingested_at` the commit's time) for the whole run, as a streaming fleet would leave it.
`zerostream webapps serve --app dashboard` reads it. Printed:

- one update: the refresh's own time (as the server reports it), the JSON encoding's time (measured
  here on the same data) and the message's size;
- `--sockets` WebSocket clients held for `--seconds`: messages each received and the delay from the
  moment the newest commit in a message was done to the message's arrival (p50, p95), split into
  commit to sent (the 1 s refresh cadence, the refresh, the encoding) and sent to arrival;
- Chromium: the time the page takes to show one 10,000-client update (tiles, list, dots), and to draw a
  100,000-point track handed to the map directly (past the 5,000-point downsampling).

    PYTHONPATH=. .venv/bin/python bench/bench_webapps.py [--sockets 100] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake
from results import Results

from tests.integration.localbus_helpers import free_port
from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.refresher import DashboardUpdate
from zerostream_desktop.core.paths import local_table_path
from zerostream_desktop.webapps.dashboard import update_json

TABLE = "zerostream.sensors.sensor_stream"
LAST_DATA = re.compile(r'"last_data_ms":(\d+)')
SENT_AT = re.compile(r'"sent_at_ms":(\d+)')
ELAPSED = re.compile(r'"elapsed_ms":([\d.]+)')
CLIENTS = 10_000


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def rows(second: int, start_us: int, ingested_us: int | None = None) -> pa.Table:
    """One row per client at `second` after `start_us`."""
    rng = np.random.default_rng(second)
    n = CLIENTS
    ts = np.full(n, start_us + second * 1_000_000, np.int64) + rng.integers(0, 900_000, n)
    ing = ts + 200_000 if ingested_us is None else np.full(n, ingested_us, np.int64)
    ids = [f"dev-{i:05d}" for i in range(n)]
    cols = {
        "event_id": [f"{c}-{second:06d}" for c in ids], "connection_id": ids,
        "device_name": [f"Phone {c}" for c in ids],
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "event_date": pa.array((ts // 86_400_000_000).astype(np.int32), pa.date32()),
        "ingested_at": pa.array(ing, pa.timestamp("us", tz="UTC")),
        "latitude": 51.5 + (np.arange(n) % 100) * 0.002 + second * 1e-5,
        "longitude": -0.12 + (np.arange(n) // 100) * 0.002,
        "altitude_m": np.full(n, 20.0), "heading_deg": rng.uniform(0, 360, n), "pitch_deg": np.zeros(n),
        "roll_deg": np.zeros(n), "accel_x": np.zeros(n), "accel_y": np.zeros(n), "accel_z": np.full(n, 9.81),
        "accel_magnitude": np.full(n, 9.81),
        "gyro_x": np.zeros(n), "gyro_y": np.zeros(n), "gyro_z": np.zeros(n), "speed_kmh": rng.uniform(0, 50, n),
        "battery_pct": pa.array(rng.integers(5, 100, n).astype(np.int32)),
        "signal_strength": pa.array(rng.integers(-110, -60, n).astype(np.int32)),
        "zerobus_topic": ["bench"] * n, "zerobus_offset": np.arange(n, dtype=np.int64) + second * n,
        "payload_bytes": pa.array(np.full(n, 240, np.int32)),
    }  # fmt: skip
    return pa.table(cols).cast(schema.arrow_schema())


class Writer(threading.Thread):
    """One commit of one row per client each second, stamped with the time just before the commit."""

    def __init__(self, path: Path, start_us: int, first_second: int) -> None:
        super().__init__(daemon=True)
        self.path, self.start_us, self.second = path, start_us, first_second
        self.stop = threading.Event()
        self.committed: dict[int, float] = {}  # a commit's ingested_at (ms) -> when the commit was done (ms)
        self.write_ms: list[float] = []

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.second += 1
            now_us = time.time_ns() // 1000
            write_deltalake(str(self.path), rows(self.second, self.start_us, now_us), mode="append")
            done = time.time() * 1000
            self.committed[round(now_us / 1000)] = done  # rounded as the server rounds last_data_ms
            self.write_ms.append(done - now_us / 1000)


async def hold_sockets(
    url: str, sockets: int, seconds: float, committed: dict[int, float]
) -> tuple[list[float], list[int], int]:
    import websockets

    delays: list[float] = []
    global SERVER_SIDE, TRANSPORT, REFRESH  # noqa: PLW0603
    SERVER_SIDE, TRANSPORT, REFRESH = [], [], []
    counts = [0] * sockets
    size = 0

    async def one(k: int) -> None:
        nonlocal size
        newest = None  # a commit counts once per page: at the first message that carries it
        async with websockets.connect(url, max_size=2**26) as ws:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=left)
                except TimeoutError:
                    return
                arrived = time.time() * 1000
                head = LAST_DATA.search(text, 0, 4000)  # near the start: no 2 MB parse per message in this client
                if head is None:
                    continue
                counts[k] += 1
                size = max(size, len(text))
                commit = committed.get(int(head.group(1)))  # when the newest commit in it was done
                first_time, newest = head.group(1) != newest, head.group(1)
                if counts[k] > 1 and commit is not None and first_time:  # the first is the cached one from before
                    sent = int(SENT_AT.search(text, 0, 200).group(1))  # type: ignore[union-attr]
                    delays.append(arrived - commit)
                    SERVER_SIDE.append(sent - commit)
                    TRANSPORT.append(arrived - sent)
                    if k == 0:
                        REFRESH.append(float(ELAPSED.search(text, 0, 4000).group(1)))  # type: ignore[union-attr]

    await asyncio.gather(*(one(k) for k in range(sockets)))
    return delays, counts, size


SERVER_SIDE: list[float] = []
TRANSPORT: list[float] = []
REFRESH: list[float] = []


def chromium_figures(base: str) -> dict[str, float]:
    from tests.webapps.browser import chromium

    with chromium() as page:
        page.get(base)
        deadline = time.monotonic() + 120
        ready = "return (window.zsDashboard.updates || 0) >= 3"
        while time.monotonic() < deadline and not page.execute_script(ready):
            time.sleep(0.5)
        update_ms = [page.execute_script("return window.zsDashboard.updateMs")]
        for _ in range(4):
            seen = page.execute_script("return window.zsDashboard.updates")
            while page.execute_script("return window.zsDashboard.updates") == seen:
                time.sleep(0.1)
            update_ms.append(page.execute_script("return window.zsDashboard.updateMs"))
        clients = page.execute_script("return window.zsDashboard.clients.id.length")
        track_ms = page.execute_script("""
            const n = 100000, t0 = Date.UTC(2026, 11, 1), points = [];
            for (let i = 0; i < n; i += 1) {
              points.push([t0 + i * 400, 51.5 + i * 1e-6, -0.12 + (i % 500) * 1e-5, 20, 90, 80]);
            }
            const started = performance.now();
            zerostreamMap.showTrack({id: "bench", name: "bench", points, total: n, fit: true, follow: false});
            return performance.now() - started;
        """)
    return {"clients": clients, "update_ms": statistics.median(update_ms), "track_ms": track_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--history", type=int, default=20, help="seconds of history (a row per client each)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="zerostream-bench-web-"))
    path = local_table_path(data_dir, TABLE)
    start_us = (time.time_ns() // 1000) - args.history * 1_000_000
    write_deltalake(str(path), pa.concat_tables([rows(s, start_us) for s in range(args.history)]),
                    partition_by=["event_date"], configuration={"delta.enableChangeDataFeed": "true"})  # fmt: skip
    print(f"table: {CLIENTS:,} clients, {CLIENTS * args.history:,} rows of history, then {CLIENTS:,} rows a second")

    # one update, encoded here on the same data the server reads
    backend = LocalDeltaAnalytics(path)
    now = dt.datetime.now(dt.UTC)
    from zerostream_desktop.core.analytics.model import Window

    result = backend.refresh(Window(now, 15, 300))
    update = DashboardUpdate("data", now, backend.description, result)
    encode = []
    for _ in range(5):
        t0 = time.perf_counter()
        text = json.dumps(update_json(update), separators=(",", ":"))
        encode.append((time.perf_counter() - t0) * 1000)
    print(f"one update: {len(result.clients):,} clients, {len(text) / 1024:,.0f} KiB of JSON, encoded in "
          f"{statistics.median(encode):.0f} ms (median of 5)")  # fmt: skip

    port = free_port()
    env = {**os.environ, "RUST_LOG": "error"}
    server = subprocess.Popen([sys.executable, "-m", "zerostream_desktop", "--data-dir", str(data_dir), "webapps",
                               "serve", "--app", "dashboard", "--no-token", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    writer = Writer(path, start_us, args.history)
    try:
        assert server.stdout is not None
        server.stdout.readline(), server.stdout.readline()
        writer.start()
        url = f"ws://127.0.0.1:{port}/ws"
        delays, counts, size = asyncio.run(hold_sockets(url, args.sockets, args.seconds, writer.committed))
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kpis") as r:  # noqa: S310 (loopback)
            refresh_ms = json.loads(r.read())["elapsed_ms"]
        print(f"server: one refresh {refresh_ms:.0f} ms (the latest, as the server reports it); "
              f"message {size / 1024:,.0f} KiB")
        print(f"{args.sockets} sockets for {args.seconds:.0f} s: {statistics.median(counts):.0f} updates each (median, "
              f"min {min(counts)}); commit to arrival p50 {statistics.median(delays):.0f} ms, p95 {p95(delays):.0f} ms "
              f"over {len(delays):,} messages")  # fmt: skip
        print(f"  the bench's own commits (10,000 rows each) took p50 {statistics.median(writer.write_ms):.0f} / "
              f"p95 {p95(writer.write_ms):.0f} ms")
        print(f"  of which commit to sent p50 {statistics.median(SERVER_SIDE):.0f} / p95 {p95(SERVER_SIDE):.0f} ms "
              f"(refresh p50 {statistics.median(REFRESH):.0f} / p95 {p95(REFRESH):.0f} ms), "
              f"sent to arrival p50 {statistics.median(TRANSPORT):.0f} / p95 {p95(TRANSPORT):.0f} ms")  # fmt: skip
        page = chromium_figures(f"http://127.0.0.1:{port}/")
        print(f"Chromium: one {page['clients']:,}-client update shown in {page['update_ms']:.0f} ms (median of 5); "
              f"a 100,000-point track drawn in {page['track_ms']:.0f} ms")  # fmt: skip
        results = Results("webapps")
        results.add(f"web dashboard, {args.sockets} sockets: commit to arrival p95", p95(delays), "ms")
        results.add(f"web dashboard, {args.sockets} sockets: updates a minute per socket (median)",
                    statistics.median(counts) * 60 / args.seconds, "updates")  # fmt: skip
        results.add(f"one {CLIENTS:,}-client update, JSON", size / 1024, "KiB")
        results.add(f"Chromium: one {page['clients']:,}-client update shown", page["update_ms"], "ms")
        results.add("Chromium: a 100,000-point track drawn", page["track_ms"], "ms")
        results.save()
    finally:
        writer.stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
