"""The desktop app under load: UI event-loop stalls, memory, and launch to a window with the map ready.

Runs the real app in this process (offscreen unless a display is set) on a temporary data folder
with its own localbus, --devices devices streaming every --interval-ms, the Dashboard tab in
front with a client selected and its track followed. A 10 ms timer probes the UI thread: a stall
is how much later than due it fires. Prints stall p50/p99/max, memory (this process, the web
engine's processes, localbus, the dashboard's analytics worker) and the launch time.

    PYTHONPATH=. .venv/bin/python bench/bench_ui.py [--devices 5000] [--interval-ms 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

from results import Results

PROBE_MS = 10


def started_at() -> float:
    """This process's start, wall clock (from /proc), so imports count toward launch time."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + start_ticks / ticks


LAUNCHED = started_at()


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def pss_mib(pid: int) -> float:
    """Proportional set size: pages shared between the processes (libraries, Qt) count once in all."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(p) for p in out]
    return kids + [g for k in kids for g in descendants(k)]


PSS_AIM_MIB = 1.1e9 / 2**20  # the aim, 1.1 GB (decimal): 1,049 MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    os.environ.update({"ZEROSTREAM_LOCALBUS_TOKEN": "bench-token", "ZEROSTREAM_DATA_DIR": str(data_dir),
                       "SIM_DEVICES": str(args.devices), "STREAM_INTERVAL_MS": str(args.interval_ms),
                       "SIM_SEED": "5"})  # fmt: skip

    from zerostream_desktop.ui.map_view import prepare_web_engine

    prepare_web_engine()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    from zerostream_desktop.core.settings import load_settings
    from zerostream_desktop.ui.app import AppRun, build_window, run_window

    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)
    settings = load_settings(search_dirs=[])
    window = build_window(settings)
    window.resize(1400, 900)
    window.tabs.setCurrentWidget(window.dashboard)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    running = AppRun()
    marks: dict[str, float] = {}
    gaps: list[float] = []
    last = [0.0]

    def probe() -> None:
        now = time.perf_counter()
        if last[0] and "measuring" in marks:
            gaps.append((now - last[0]) * 1000 - PROBE_MS)
        last[0] = now

    timer = QTimer(interval=PROBE_MS)
    timer.timeout.connect(probe)
    map_view = window.dashboard.map
    map_view.ready.connect(lambda: marks.setdefault("map_ready", time.time()))

    async def drive() -> None:
        task = asyncio.ensure_future(run_window(window, settings, True, running))
        while "map_ready" not in marks or window.dashboard.clients.rowCount() < args.devices:
            await asyncio.sleep(0.1)
            if time.time() - LAUNCHED > 300:
                raise RuntimeError("the dashboard did not fill in within 300 s")
        marks["clients"] = time.time()
        window.dashboard.table.selectRow(0)  # a followed track, refreshed every second
        await asyncio.sleep(2)
        timer.start()
        marks["measuring"] = time.time()
        await asyncio.sleep(args.seconds)
        timer.stop()
        snap = window.last_stream
        bus = [running.stack.process.pid] if running.stack and running.stack.process else []
        worker = [p for p in descendants(os.getpid()) if "analytics-worker" in cmdline(p)]
        web = [p for p in descendants(os.getpid()) if p not in bus + worker]
        marks["rss_main"] = rss_mib(os.getpid())
        marks["rss_web"] = sum(rss_mib(p) for p in web)
        marks["rss_localbus"] = sum(rss_mib(p) for p in bus)
        marks["rss_worker"] = sum(rss_mib(p) for p in worker)
        for name, pids in (("main", [os.getpid()]), ("web", web), ("localbus", bus), ("worker", worker)):
            marks[f"pss_{name}"] = sum(pss_mib(p) for p in pids)
        marks["pss_all"] = sum(marks[f"pss_{name}"] for name in ("main", "web", "localbus", "worker"))
        marks["acked"] = snap.acked if snap else 0
        window.close()
        await task

    loop.run_until_complete(drive())
    gaps.sort()
    p = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))]  # noqa: E731
    print(f"{args.devices:,} devices every {args.interval_ms} ms, Dashboard in front, one track followed; "
          f"{args.seconds:.0f} s measured, {marks['acked']:,} events acknowledged in all")  # fmt: skip
    stalls = f"p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  max {gaps[-1]:.1f} ms"
    print(f"UI stalls ({len(gaps):,} probes of {PROBE_MS} ms): {stalls}")
    print(
        f"resident memory: app {marks['rss_main']:.0f} MiB + web engine {marks['rss_web']:.0f} MiB "
        f"+ localbus {marks['rss_localbus']:.0f} MiB + analytics worker {marks['rss_worker']:.0f} MiB"
    )
    print(
        f"as PSS (shared pages once): app {marks['pss_main']:.0f} + web engine {marks['pss_web']:.0f} + localbus "
        f"{marks['pss_localbus']:.0f} + analytics worker {marks['pss_worker']:.0f} = {marks['pss_all']:.0f} MiB "
        f"({marks['pss_all'] * 2**20 / 1e9:.2f} GB; aim 1.1 GB)"
    )
    results = Results("ui")
    load = f"{args.devices:,} devices every {args.interval_ms} ms"
    results.add(f"UI stall p99, {load}", p(0.99), "ms", ("aim", 16.0))
    results.add(f"UI stall max, {load}", gaps[-1], "ms", ("aim", 50.0))
    results.add(f"resident memory, app + web engine + localbus + analytics worker, {load}",
                marks["rss_main"] + marks["rss_web"] + marks["rss_localbus"] + marks["rss_worker"], "MiB")  # fmt: skip
    results.add(f"proportional memory (PSS), app + web engine + localbus + analytics worker, {load}",
                marks["pss_all"], "MiB", ("aim: 1.1 GB", PSS_AIM_MIB))  # fmt: skip
    results.add("launch to window with the map ready", marks["map_ready"] - LAUNCHED, "s")
    results.save()
    print(f"launch to window with the map ready: {marks['map_ready'] - LAUNCHED:.2f} s; "
          f"to all {args.devices:,} clients in the table: {marks['clients'] - LAUNCHED:.1f} s")  # fmt: skip
    os._exit(0)


if __name__ == "__main__":
    main()
