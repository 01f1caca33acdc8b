"""Start the desktop app: one QApplication, asyncio on the qasync loop, run until the window closes."""

from __future__ import annotations

import asyncio
import logging
import random

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
    closed: asyncio.Future[None] = loop.create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))  # type: ignore[attr-defined]
    window.show()  # type: ignore[attr-defined]
    log.info("ZeroStream window open")
    loop.run_until_complete(closed)
    return 0
