"""Start the desktop app: one QApplication, asyncio on the qasync loop, run until the window closes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import sys
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler

from PySide6.QtGui import QIcon

from zerostream_desktop.core.analytics import open_analytics
from zerostream_desktop.core.analytics.refresher import DashboardRefresher
from zerostream_desktop.core.configured_fleet import fleet_from_settings
from zerostream_desktop.core.paths import ensure_private_dir, resource_path
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.localbus.supervisor import LocalStack
from zerostream_desktop.ui.background import Background
from zerostream_desktop.ui.log_view import FORMAT, QtLogHandler
from zerostream_desktop.ui.main_window import MainWindow
from zerostream_desktop.ui.simulator.pane import SimulatorPane
from zerostream_desktop.ui.streaming import StreamController

log = logging.getLogger(__name__)
SWITCH_INTERVAL_S = 0.001

RESTART_EXIT_CODE = 75  # the window asked to be started again (new settings); the entry point re-executes


def build_window(settings: Settings) -> MainWindow:
    fleet = fleet_from_settings(settings, min_devices=1)
    simulator = SimulatorPane(fleet)
    simulator.fault_log_dir = settings.data_dir / "faults"
    return MainWindow(settings, simulator, log_handler=_log_to_window_and_file(settings))


def _log_to_window_and_file(settings: Settings) -> QtLogHandler:
    """INFO and up to the Log dock and to <data>/logs/zerostream.log; the console keeps its level."""
    root = logging.getLogger()
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    root.setLevel(min(root.level, logging.INFO))
    window_handler = QtLogHandler()
    window_handler.setLevel(logging.INFO)
    root.addHandler(window_handler)
    ensure_private_dir(settings.data_dir)
    log_dir = ensure_private_dir(settings.data_dir / "logs")
    file_handler = RotatingFileHandler(log_dir / "zerostream.log", maxBytes=5_000_000, backupCount=3)
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    return window_handler


@dataclass
class AppRun:
    """What the app started, so it can be stopped even if the event loop dies first."""

    restart_delay_s: float = 1.0  # how long a dead localbus stays down before it is started again
    stream: StreamController | None = None

    @property
    def stack(self) -> LocalStack | None:
        return self.stream.stack if self.stream is not None else None


async def run_window(window: MainWindow, settings: Settings, start: bool, running: AppRun) -> None:
    """Bring up the stream target and the dashboard feed; run until the window closes, then stop them."""
    loop = asyncio.get_running_loop()
    # A worker thread running Python (building 10,000 clients, storing a batch) keeps the GIL until the
    # interpreter asks it to let go: every 5 ms by default. The UI thread wants it back after each
    # numpy call; at 1 ms its waits stay under a frame.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    background = Background(window, max_workers=4, name="zerostream-io")
    loop.set_default_executor(background.executor)  # plain threads: qasync's QThread pool aborts at exit if busy
    closed: asyncio.Future[None] = loop.create_future()
    window.closed.connect(lambda: None if closed.done() else closed.set_result(None))
    window.show()
    for sig in (signal.SIGTERM, signal.SIGINT):  # close like the window's close button: stop what we started
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, window.close)
    stream = running.stream = StreamController(background, window, restart_delay_s=running.restart_delay_s)
    window.attach_stream(stream)
    await stream.open(settings)
    _freeze_heap()
    opener = functools.partial(open_analytics, own_process=True)  # the local table's reads: not in this process
    feed = window.attach_dashboard(DashboardRefresher(settings, opener=opener, executor=background.executor), stream)
    feed.first_data_shown.connect(_freeze_heap)
    feed.start()
    if start:
        window.start_simulation()
    await closed
    await feed.stop()
    await background.call(window.stop_web_apps)
    await stream.close(timeout=5.0)
    background.shutdown(wait=True)


def _freeze_heap() -> None:
    """Move what exists now (modules, widgets, caches) out of the garbage collector's view.

    A full collection walks every tracked object with the GIL held: with the app's heap that took
    40-70 ms, and a worker thread building the client list triggered one about once a second,
    stalling the UI thread. Frozen objects are never collected (they live as long as the app).
    """
    gc.collect()
    gc.freeze()
    log.debug("heap frozen: %d objects", gc.get_freeze_count())


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addFile(str(resource_path("icons", f"zerostream-{size}.png")))
    return icon


def _clear_local_data_if_asked(settings: Settings) -> None:
    """File > Clear Local Data asked for it: done now, before anything opens the tables or the spool."""
    from zerostream_desktop.core.local_data import clear_now, clear_requested
    from zerostream_desktop.localbus.state import read_state

    if not clear_requested(settings.data_dir):
        return
    running = read_state(settings.data_dir)
    if running:  # another program's localbus has the tables open: not now, next time
        log.warning("not clearing the local data: a localbus (pid %s) still serves %s", running.get("pid"),
                    settings.data_dir)  # fmt: skip
        return
    clear_now(settings.data_dir)


def run_app(settings: Settings, start: bool = False) -> int:
    from zerostream_desktop.ui.map_view import prepare_web_engine

    prepare_web_engine()
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    app.setOrganizationName("ZeroStream")
    app.setApplicationName("ZeroStream")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    _clear_local_data_if_asked(settings)
    window = build_window(settings)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    log.info("ZeroStream window open")
    running = AppRun()
    try:
        loop.run_until_complete(run_window(window, settings, start, running))
    except RuntimeError as exc:  # Qt stopped the loop under us, e.g. the X server went away
        log.error("the app stopped early: %s", exc)
        if running.stack is not None:
            running.stack.stop()  # spooled records are safe on disk; they go first next time
        return 1
    if window.restart_requested:
        return RESTART_EXIT_CODE
    return 0  # the caller leaves with os._exit(): no Qt destructors run, none can crash at exit
