"""The one background helper: results and errors come back on the UI thread; closing drops what is late."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject

from zerostream_desktop.ui.background import Background

pytestmark = pytest.mark.ui


@pytest.fixture
def background(qapp):
    owner = QObject()
    bg = Background(owner, max_workers=2, name="test-bg")
    yield bg
    bg.shutdown(wait=True)
    owner.deleteLater()


def test_the_result_is_delivered_on_the_ui_thread_and_the_work_ran_on_a_worker(background, qtbot):
    ui_thread = threading.current_thread()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread()
        return 42

    def done(value: int) -> None:
        seen["value"], seen["callback"] = value, threading.current_thread()

    background.run(work, done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=5000)
    assert seen["value"] == 42
    assert seen["worker"] is not ui_thread and seen["callback"] is ui_thread
    assert background.pending == 0


def test_an_error_is_delivered_to_the_failure_callback_on_the_ui_thread(background, qtbot):
    errors: list[tuple[BaseException, threading.Thread]] = []

    def work() -> None:
        raise ValueError("wrong token")

    background.run(work, lambda _: pytest.fail("no result expected"),
                   lambda exc: errors.append((exc, threading.current_thread())))  # fmt: skip
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    exc, thread = errors[0]
    assert isinstance(exc, ValueError) and str(exc) == "wrong token"
    assert thread is threading.current_thread()


def test_progress_reported_by_a_worker_arrives_on_the_ui_thread_in_order(background, qtbot):
    steps: list[tuple[int, bool]] = []
    ui_thread = threading.current_thread()
    report = background.on_ui_thread(lambda n: steps.append((n, threading.current_thread() is ui_thread)))
    background.run(lambda: [report(n) for n in range(5)], lambda _: None)
    qtbot.waitUntil(lambda: len(steps) == 5, timeout=5000)
    assert steps == [(n, True) for n in range(5)]


def test_after_shutdown_late_results_are_dropped_and_queued_work_never_runs(qapp, qtbot):
    owner = QObject()
    bg = Background(owner, max_workers=1)
    release = threading.Event()
    ran: list[str] = []
    delivered: list[str] = []
    bg.run(lambda: (release.wait(5), ran.append("first"))[1], lambda _: delivered.append("first"))
    bg.run(lambda: ran.append("second"), lambda _: delivered.append("second"))
    bg.shutdown()  # the dialog closed while the first call was still out
    release.set()
    bg.executor.shutdown(wait=True)
    qtbot.wait(200)
    assert ran == ["first"]  # the queued one was cancelled
    assert delivered == []  # and nothing reached widgets that may be gone
    assert bg.run(lambda: ran.append("third"), lambda _: None).cancelled
    owner.deleteLater()


def test_shutdown_with_wait_leaves_no_worker_thread_running(qapp, qtbot):
    bg = Background(None, max_workers=3, name="exit-check")
    for _ in range(6):
        bg.run(lambda: time.sleep(0.05), lambda _: None)
    bg.shutdown(wait=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("exit-check")]


def test_coroutines_run_on_the_qasync_loop_and_call_awaits_a_worker(qtbot, qasync_loop):
    loop = qasync_loop
    bg = Background(None)
    results: list[object] = []

    async def coroutine() -> str:
        on_worker = await bg.call(lambda: threading.current_thread().name)
        return f"ran on the loop, then {on_worker.split('_')[0]}"

    loop.call_soon(lambda: bg.run(coroutine, results.append))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == ["ran on the loop, then zerostream-bg"]
    bg.shutdown(wait=True)
