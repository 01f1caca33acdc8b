"""Connects the simulator pane to a Streamer on the qasync loop; reports its state to the window.

Encoding and spooling run in an executor so the UI thread never waits on disk; the streamer's own
work is asyncio on the same loop as Qt. Widgets only ever see the `stats_changed` signal.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from zerostream_desktop.core.fleet import EventBatch
from zerostream_desktop.core.ingest.spool import Spool
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState, Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSnapshot:
    state: str
    generated: int
    sent: int
    acked: int
    in_flight: int
    spool_depth: int
    rejected: int
    ack_p95_ms: float
    last_error: str

    def status_text(self) -> str:
        text = f"{self.state} · acked {self.acked:,} · in flight {self.in_flight:,} · spool {self.spool_depth:,}"
        if self.rejected:
            text += f" · dead letters {self.rejected:,}"
        if self.state in ("reconnecting", "paused") and self.last_error:
            error = self.last_error.splitlines()[0]
            text += f" · {error[:80]}{'…' if len(error) > 80 else ''}"
        return text


class StreamController(QObject):
    stats_changed = Signal(object)  # StreamSnapshot

    def __init__(self, executor: Executor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = executor
        self.streamer: Streamer | None = None
        self._runner: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[int]] = set()
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self._publish)

    def attach(self, target: Target, spool: Spool) -> None:
        """Start streaming to `target`; whatever the spool still holds goes first."""
        self.streamer = Streamer(target, spool)
        self._runner = asyncio.get_running_loop().create_task(self.streamer.run())
        self._timer.start()
        self._publish()

    def has_room(self, n: int) -> bool:
        return self.streamer is None or self.streamer.spool.has_room(n)

    def submit(self, batch: EventBatch) -> None:
        """Called with each generated batch; spooled off the UI thread."""
        streamer = self.streamer
        if streamer is None or not len(batch):
            return
        future = asyncio.get_running_loop().run_in_executor(self._executor, streamer.submit, batch)
        self._pending.add(future)
        future.add_done_callback(self._submitted)

    def _submitted(self, future: asyncio.Future[int]) -> None:
        self._pending.discard(future)
        if future.exception() is not None:
            log.error("could not spool events: %s", future.exception())
        elif self.streamer is not None:
            self.streamer.notify()

    def resume(self) -> None:
        if self.streamer is not None:
            self.streamer.resume()

    async def stop(self, timeout: float = 5.0) -> None:
        """Drain for up to `timeout` seconds; what is left waits in the spool for next time."""
        self._timer.stop()
        if self._pending:
            await asyncio.wait(self._pending, timeout=timeout)
        if self.streamer is not None and self._runner is not None:
            await self.streamer.stop(timeout)
            await self._runner
            self._publish()

    def snapshot(self) -> StreamSnapshot | None:
        s = self.streamer
        if s is None:
            return None
        st = s.stats
        return StreamSnapshot(
            str(s.visible_state()),
            st.generated,
            st.sent,
            st.acked,
            s.in_flight,
            s.spool.depth,
            st.rejected,
            st.latency(95),
            st.last_error,
        )

    def _publish(self) -> None:
        snap = self.snapshot()
        if snap is not None:
            self.stats_changed.emit(snap)

    @property
    def paused(self) -> bool:
        return self.streamer is not None and self.streamer.stats.state is StreamState.PAUSED
