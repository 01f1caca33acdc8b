"""Start the desktop app: one QApplication, asyncio on the qasync loop, run until the window closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from concurrent.futures import ThreadPoolExecutor

from zerostream_desktop.core.fleet import Fleet, Region
from zerostream_desktop.core.settings import Settings

log = logging.getLogger(__name__)


def build_window(settings: Settings) -> object:
    from zerostream_desktop.ui.main_window import MainWindow
    from zerostream_desktop.ui.simulator.pane import SimulatorPane

    seed = settings.sim_seed if settings.sim_seed is not None else random.SystemRandom().randrange(2**32)
    fleet = Fleet(
        seed,
        max(1, settings.sim_devices),
        region=Region.parse(settings.sim_region),
        interval_ms=settings.stream_interval_ms,
        topic=settings.zerobus_topic,
    )
    return MainWindow(settings, SimulatorPane(fleet))


async def _run(window: object, settings: Settings) -> None:
    """Start the local stack off the UI thread, run until the window closes, then stop it."""
    from zerostream_desktop.localbus.security import ensure_token
    from zerostream_desktop.localbus.supervisor import LocalStackError, start_local_stack

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="zerostream-io")
    closed: asyncio.Future[None] = loop.create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))  # type: ignore[attr-defined]
    window.show()  # type: ignore[attr-defined]
    for sig in (signal.SIGTERM, signal.SIGINT):  # close like the window's close button: stop what we started
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, window.close)  # type: ignore[attr-defined]
    stack = None
    if settings.endpoint == "local":
        try:
            token = ensure_token()
            stack = await loop.run_in_executor(executor, start_local_stack, settings.data_dir, token)
            window.show_local_stack(stack.endpoint)  # type: ignore[attr-defined]
        except (LocalStackError, OSError) as exc:
            log.error("local stack failed: %s", exc)
            window.show_local_stack(None, str(exc))  # type: ignore[attr-defined]
    await closed
    if stack is not None:
        await loop.run_in_executor(executor, stack.stop)
    executor.shutdown(wait=True)


def run_app(settings: Settings) -> int:
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
    loop.run_until_complete(_run(window, settings))
    return 0
