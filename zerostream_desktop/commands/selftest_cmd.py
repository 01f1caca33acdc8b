"""`zerostream self-test`: does this installation work? One line per check; exit 0 only when all pass.

Imports every native dependency, runs JavaScript in a QtWebEngine page offscreen and loads the map
page, then starts a private localbus on a temporary folder, streams 1,000 events through the
official SDK and reads them back with the analytics backend. Useful in a bug report, and how the
packaged build is tested.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zerostream_desktop import __version__

NATIVE = (
    "zerobus._zerobus_core", "deltalake", "duckdb", "pyarrow", "pyarrow.dataset", "psycopg", "grpc", "numpy",
    "google.protobuf", "cryptography.hazmat.bindings._rust", "databricks.sdk", "databricks.sql", "sqlglot",
    "keyring.backends.SecretService", "fastapi", "uvicorn", "PySide6.QtWebEngineWidgets",
)  # fmt: skip
EVENTS = 1_000


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("self-test", help="check that this installation works (imports, web view, local stack)")
    p.add_argument("--skip-web-view", action="store_true", help="leave out the QtWebEngine checks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    frozen = "bundle" if getattr(sys, "frozen", False) else sys.prefix
    print(f"ZeroStream {__version__} on {platform.platform()}, Python {platform.python_version()} ({frozen})")
    checks: list[tuple[str, Callable[[], str]]] = [("python path", _python_path), ("native modules", _imports)]
    if not args.skip_web_view:
        checks.append(("web view", _web_view))
    checks.append((f"local stack ({EVENTS:,} events)", _local_stack))
    failed = 0
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # every failure is a line of the report, not a traceback
            failed += 1
            print(f"FAIL  {name}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}")
        else:
            print(f"ok    {name} ({time.perf_counter() - started:.1f} s): {detail}")
        sys.stdout.flush()
    print("all checks passed" if not failed else f"{failed} check(s) failed")
    return 0 if not failed else 1


def _python_path() -> str:
    """A packaged build must use only what it carries (never a checkout's venv found by accident)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:
        return f"not a packaged build: {sys.prefix}"
    outside = [p for p in sys.path if p and not Path(p).resolve().is_relative_to(Path(bundle).resolve())]
    if outside:
        raise RuntimeError(f"modules may load from outside the bundle: {', '.join(outside)}")
    return f"{len(sys.path)} entries, all inside the bundle ({bundle})"


def _imports() -> str:
    for name in NATIVE:
        importlib.import_module(name)
    return f"{len(NATIVE)} imported"


def _web_view() -> str:
    """JavaScript in a page, then the map page up to its bridge's ready report."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from zerostream_desktop.ui.map_view import prepare_web_engine

    prepare_web_engine()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    from zerostream_desktop.ui.map_view import MapView

    app = QApplication.instance() or QApplication([])
    loop = QEventLoop()
    result: list[object] = []
    view = QWebEngineView()
    def answered(value: object) -> None:
        result.append(value)
        loop.quit()

    view.loadFinished.connect(lambda _ok: view.page().runJavaScript("1+1", 0, answered))
    view.setHtml("<html><body>self-test</body></html>")
    QTimer.singleShot(30_000, loop.quit)
    loop.exec()
    if result != [2]:
        raise RuntimeError(f"JavaScript 1+1 gave {result or 'nothing within 30 s'}")
    map_view = MapView()
    map_view.ready.connect(loop.quit)
    QTimer.singleShot(30_000, loop.quit)
    loop.exec()
    if not map_view.is_ready:
        raise RuntimeError("the map page did not report ready within 30 s")
    for w in (view, map_view):
        w.deleteLater()
    app.processEvents()
    return "JavaScript 1+1 = 2; map page ready"


def _local_stack() -> str:
    import asyncio

    from zerostream_desktop.core.analytics import Window
    from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
    from zerostream_desktop.core.fleet import EventBatch, Fleet
    from zerostream_desktop.core.ingest.streamer import Streamer
    from zerostream_desktop.core.paths import local_table_path
    from zerostream_desktop.core.settings import load_settings
    from zerostream_desktop.stream_target import open_stream_target

    folder = Path(tempfile.mkdtemp(prefix="zerostream-self-test-"))
    os.environ.setdefault("ZEROSTREAM_LOCALBUS_TOKEN", "self-test")  # a private server: no keyring needed
    try:
        settings = load_settings({"data_dir": folder}, environ={}, search_dirs=[], check_profile=False)
        connection = open_stream_target(settings, producer="self-test")
        try:
            fleet = Fleet(7, 100)
            start = time.time()
            fleet.start(start)
            batches: list[EventBatch] = []
            while sum(len(b) for b in batches) < EVENTS:  # 100 devices at 1 Hz, simulated ahead of time
                batches.append(fleet.advance(start + len(batches) + 1.0))
            sent = sum(len(b) for b in batches)

            async def stream() -> int:
                streamer = Streamer(connection.target, connection.spool)
                runner = asyncio.create_task(streamer.run())
                for b in batches:
                    streamer.submit(b)
                streamer.notify()
                deadline = time.monotonic() + 30
                while streamer.stats.acked < sent and time.monotonic() < deadline and streamer.stats.last_error == "":
                    await asyncio.sleep(0.05)
                await streamer.stop(30.0)
                await runner
                if streamer.stats.last_error:
                    raise RuntimeError(streamer.stats.last_error)
                return streamer.stats.acked

            acked = asyncio.run(stream())
        finally:
            connection.close()
        if acked != sent:
            raise RuntimeError(f"{acked:,} of {sent:,} events acknowledged")
        analytics = LocalDeltaAnalytics(local_table_path(folder, settings.full_table_name))
        kpis = analytics.kpis(Window(dt.datetime.now(dt.UTC)))
        analytics.close()
        if kpis.total_events != sent or kpis.unique_clients != 100:
            raise RuntimeError(f"read back {kpis.total_events:,} events of {kpis.unique_clients:,} devices")
        return f"{acked:,} acknowledged by localbus, {kpis.total_events:,} read back from the Delta table"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
