"""Start the desktop app: one QApplication, asyncio on the qasync loop, run until the window closes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from zerostream_desktop.core.fleet.configured import fleet_from_settings
from zerostream_desktop.core.settings import Settings

log = logging.getLogger(__name__)

RESTART_EXIT_CODE = 75  # the window asked to be started again (new settings); the entry point re-executes


def build_window(settings: Settings) -> object:
    from zerostream_desktop.ui.main_window import MainWindow
    from zerostream_desktop.ui.simulator.pane import SimulatorPane

    fleet = fleet_from_settings(settings, min_devices=1)
    return MainWindow(settings, SimulatorPane(fleet), log_handler=_log_to_window_and_file(settings))


def _log_to_window_and_file(settings: Settings) -> Any:
    """INFO and up to the Log dock and to <data>/logs/zerostream.log; the console keeps its level."""
    from logging.handlers import RotatingFileHandler

    from zerostream_desktop.ui.log_view import FORMAT, QtLogHandler

    root = logging.getLogger()
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    root.setLevel(min(root.level, logging.INFO))
    window_handler = QtLogHandler()
    window_handler.setLevel(logging.INFO)
    root.addHandler(window_handler)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = RotatingFileHandler(log_dir / "zerostream.log", maxBytes=5_000_000, backupCount=3)
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    return window_handler


@dataclass
class _Running:
    """What the app started, so it can be stopped even if the event loop dies first."""

    stack: Any = None
    restart_delay_s: float = 1.0  # how long a dead localbus stays down before it is started again


async def _run(window: Any, settings: Settings, start: bool, running: _Running) -> None:
    """Bring up the local stack and the streamer off the UI thread; run until the window closes."""
    from zerostream_desktop.ui.streaming import StreamController

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="zerostream-io")
    loop.set_default_executor(executor)  # plain threads: qasync's QThread pool aborts at exit if busy
    closed: asyncio.Future[None] = loop.create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))
    window.show()
    for sig in (signal.SIGTERM, signal.SIGINT):  # close like the window's close button: stop what we started
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, window.close)
    controller = StreamController(executor, window)
    window.simulator.events_generated.connect(controller.submit)
    window.simulator.can_generate = controller.has_room
    controller.stats_changed.connect(window.show_stream)
    window.resume_requested.connect(controller.resume)
    running.stack = await _connect(window, settings, controller, executor)
    _freeze_heap()
    refresher = loop.create_task(_refresh_dashboard(window, settings, controller, executor))
    watchdog = loop.create_task(_watch_local_stack(window, running, executor)) if running.stack else None
    if start:
        window.simulator.start()
    await closed
    refresher.cancel()
    if watchdog is not None:
        watchdog.cancel()
    await controller.stop(timeout=5.0)
    if running.stack is not None:
        await loop.run_in_executor(executor, running.stack.stop)
    executor.shutdown(wait=True)


def _freeze_heap() -> bool:
    """Move what exists now (modules, widgets, caches) out of the garbage collector's view.

    A full collection walks every tracked object with the GIL held: with the app's heap that took
    40-70 ms, and a worker thread building the client list triggered one about once a second,
    stalling the UI thread. Frozen objects are never collected (they live as long as the app).
    """
    gc.collect()
    gc.freeze()
    log.debug("heap frozen: %d objects", gc.get_freeze_count())
    return True


async def _watch_local_stack(window: Any, running: _Running, executor: ThreadPoolExecutor) -> None:
    """If localbus dies (killed, crashed), start it again on the same port; the streamer reconnects
    by itself and resends what the spool holds."""
    from urllib.parse import urlsplit

    from zerostream_desktop.localbus.supervisor import LocalStackError, start_local_stack

    loop = asyncio.get_running_loop()
    delay = running.restart_delay_s
    while True:
        await asyncio.sleep(1.0)
        stack = running.stack
        if stack.running():
            delay = running.restart_delay_s
            continue
        code = stack.process.poll() if stack.process is not None else None
        why = f"exited with code {code}" if code is not None else "is gone"
        log.warning("localbus %s; restarting it in %.0f s (streaming reconnects and resends)", why, delay)
        window.show_local_stack(None, f"localbus {why}; restarting…")
        await asyncio.sleep(delay)
        port = urlsplit(stack.endpoint).port
        try:
            restart = functools.partial(
                start_local_stack, stack.data_dir, stack.token, extra_args=("--port", str(port))
            )
            new = await loop.run_in_executor(executor, restart)
        except (LocalStackError, OSError) as exc:
            log.error("cannot restart localbus: %s", exc)
            window.show_local_stack(None, str(exc))
            delay = min(delay * 2, 30.0)
            continue
        running.stack = new
        window.show_local_stack(new.endpoint, ca_cert=new.ca_cert, token=new.token)
        log.info("localbus is back at %s", new.endpoint)


async def _refresh_dashboard(window: Any, settings: Settings, controller: Any, executor: ThreadPoolExecutor) -> None:
    """About once a second, off the UI thread, never two at a time (a slow read skips a beat)."""
    import datetime as dt

    from zerostream_desktop.core.analytics import AnalyticsError, NotReadyError, Window, open_analytics, refresh
    from zerostream_desktop.core.settings import SettingsError

    loop = asyncio.get_running_loop()
    backend = None
    wake = asyncio.Event()
    track_wanted = [False]

    def on_track_requested(_connection_id: str) -> None:
        track_wanted[0] = True
        wake.set()

    dashboard = window.dashboard
    dashboard.track_requested.connect(on_track_requested)
    frozen = False
    try:
        while True:
            started = loop.time()
            now = dt.datetime.now(dt.UTC)
            selected = dashboard.selected_client
            with_track = selected if selected and (track_wanted[0] or dashboard.follow.isChecked()) else None
            track_wanted[0] = False
            try:
                if backend is None:
                    backend = await loop.run_in_executor(executor, open_analytics, settings)
                    dashboard.show_source(f"{backend.description} (first read: on a large table this takes seconds)")
                w = Window(now, settings.active_window_seconds, max(300, settings.active_window_seconds))
                result = await loop.run_in_executor(executor, refresh, backend, w, with_track)
            except NotReadyError as exc:
                dashboard.show_waiting(str(exc))
            except (AnalyticsError, SettingsError, OSError) as exc:
                log.warning("dashboard refresh failed: %s", exc)
                dashboard.show_error(str(exc))
            else:
                snapshot = controller.snapshot()
                dashboard.show_source(backend.description)
                dashboard.show_kpis(result.kpis, snapshot.ack_p95_ms if snapshot else None, now)
                dashboard.show_series(result.series, now)
                dashboard.show_clients(result.clients)
                if result.track is not None:
                    dashboard.show_track(result.track)
                if not frozen:
                    frozen = _freeze_heap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.05, 1.0 - (loop.time() - started)))
            wake.clear()
    finally:
        if backend is not None:
            await loop.run_in_executor(executor, backend.close)


async def _connect(window: Any, settings: Settings, controller: Any, executor: ThreadPoolExecutor) -> Any:
    """The endpoint to stream to: localbus (started here if needed) or the Databricks workspace."""
    from zerostream_desktop.core.ingest.spool import Spool
    from zerostream_desktop.core.ingest.targets import databricks_target, local_target, spool_path
    from zerostream_desktop.localbus.security import ensure_token
    from zerostream_desktop.localbus.supervisor import LocalStackError, start_local_stack

    loop = asyncio.get_running_loop()
    stack = None
    try:
        if settings.endpoint == "local":
            token = ensure_token()
            stack = await loop.run_in_executor(executor, start_local_stack, settings.data_dir, token)
            window.show_local_stack(stack.endpoint, ca_cert=stack.ca_cert, token=token)
            target = local_target(settings, stack.endpoint, token, stack.ca_cert)
        else:
            target = databricks_target(settings)
        spool = await loop.run_in_executor(executor, Spool, spool_path(settings, target))
        controller.attach(target, spool)
    except (LocalStackError, OSError, ValueError) as exc:
        log.error("cannot stream: %s", exc)
        if settings.endpoint == "local":
            window.show_local_stack(None, str(exc))
        window.statusBar().showMessage(f"Cannot stream: {exc}")
    return stack


def run_app(settings: Settings, start: bool = False) -> int:
    from zerostream_desktop.ui.map_view import prepare_web_engine

    prepare_web_engine()
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    app = QApplication.instance() or QApplication([])
    app.setOrganizationName("ZeroStream")
    app.setApplicationName("ZeroStream")
    app.setQuitOnLastWindowClosed(False)
    window = build_window(settings)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    log.info("ZeroStream window open")
    running = _Running()
    try:
        loop.run_until_complete(_run(window, settings, start, running))
    except RuntimeError as exc:  # Qt stopped the loop under us, e.g. the X server went away
        log.error("the app stopped early: %s", exc)
        if running.stack is not None:
            running.stack.stop()  # spooled records are safe on disk; they go first next time
        return 1
    if getattr(window, "restart_requested", False):
        return RESTART_EXIT_CODE
    return 0  # the caller leaves with os._exit(): no Qt destructors run, none can crash at exit
