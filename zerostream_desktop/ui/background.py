"""Work off the UI thread, results back on it: the one way the desktop app does this (after Anki's QueryOp).

`Background(owner)` runs blocking callables on its own worker threads (`run` with callbacks, or
`await call(...)` from a coroutine on the qasync loop) and coroutines on the running asyncio loop.
Success and failure callbacks are always delivered on the UI thread through a queued signal, so
they may touch widgets; workers never do. When the owner closes (`shutdown`, or the owner
QObject is destroyed) queued work is cancelled and late results are dropped, not delivered to
widgets that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
Work = Callable[[], T] | Callable[[], Awaitable[T]]


class Operation:
    """One piece of background work; `cancel()` drops its callbacks (and the work, if not started)."""

    def __init__(self, on_success: Callable[[Any], None], on_failure: Callable[[BaseException], None] | None) -> None:
        self.on_success = on_success
        self.on_failure = on_failure
        self.cancelled = False
        self.done = False
        self._future: Future[Any] | asyncio.Future[Any] | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._future is not None:
            self._future.cancel()


class Background(QObject):
    _finished = Signal(object, bool, object)  # Operation, ok, result or exception
    _called = Signal(object, object)  # function, args

    def __init__(self, owner: QObject | None = None, max_workers: int = 1, name: str = "zerostream-bg") -> None:
        super().__init__(owner)
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._open: set[Operation] = set()
        self._closed = False
        self._finished.connect(self._deliver)  # this object lives on the UI thread: a queued call
        self._called.connect(self._call_on_ui_thread)
        self.destroyed.connect(lambda *_: self.executor.shutdown(wait=False, cancel_futures=True))

    def run(
        self,
        work: Work[T],
        on_success: Callable[[T], None],
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> Operation:
        """Run `work` off the UI thread; then `on_success(result)` or `on_failure(exc)` on it.

        A coroutine function runs on the running asyncio loop (the qasync loop); anything else on a
        worker thread. Without `on_failure` an error is logged.
        """
        op = Operation(on_success, on_failure)
        if self._closed:
            op.cancelled = True
            return op
        self._open.add(op)
        if inspect.iscoroutinefunction(work):
            task = asyncio.ensure_future(work())
            task.add_done_callback(lambda f: self._completed(op, f))
            op._future = task
        else:
            future = self.executor.submit(work)
            future.add_done_callback(lambda f: self._completed(op, f))
            op._future = future
        return op

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`await` a blocking call from a coroutine on the qasync loop, on this object's workers."""
        return await asyncio.wrap_future(self.executor.submit(fn, *args, **kwargs))

    def on_ui_thread(self, fn: Callable[..., None]) -> Callable[..., None]:
        """A function workers may call (progress, say) that runs `fn` with the same arguments on the UI thread."""

        def relay(*args: Any) -> None:
            if not self._closed:
                self._called.emit(fn, args)

        return relay

    @property
    def pending(self) -> int:
        return len(self._open)

    def shutdown(self, wait: bool = False) -> None:
        """Cancel what has not started, drop the callbacks of what has; `wait` joins the workers."""
        self._closed = True
        for op in list(self._open):
            op.cancel()
        self._open.clear()
        self.executor.shutdown(wait=wait, cancel_futures=True)

    def _completed(self, op: Operation, future: Future[Any] | asyncio.Future[Any]) -> None:
        if future.cancelled():
            ok, value = False, None
        elif future.exception() is not None:
            ok, value = False, future.exception()
        else:
            ok, value = True, future.result()
        with contextlib.suppress(RuntimeError):  # the owner (and this object) is gone: nothing to deliver to
            self._finished.emit(op, ok, value)

    def _call_on_ui_thread(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        if not self._closed:
            fn(*args)

    def _deliver(self, op: Operation, ok: bool, value: Any) -> None:
        self._open.discard(op)
        op.done = True
        if op.cancelled or self._closed:
            return
        if ok:
            op.on_success(value)
        elif value is None:
            return  # cancelled work has no result to report
        elif op.on_failure is not None:
            op.on_failure(value)
        else:
            log.error("background work failed: %s", value, exc_info=value)
