"""Connects the simulator pane to a Streamer on the qasync loop; reports its state to the window.

`open(settings)` opens the stream target (starting localbus when local) off the UI thread and
keeps localbus running with its watchdog. Encoding and spooling run on the background workers so
the UI thread never waits on disk; the streamer's own work is asyncio on the same loop as Qt.
Widgets only ever see the signals.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from zerostream_desktop import stream_target
from zerostream_desktop.core.fleet import EventBatch
from zerostream_desktop.core.ingest.spool import Spool
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState, Target
from zerostream_desktop.core.ingest.streams import StreamGroup
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.localbus.supervisor import LocalStack
from zerostream_desktop.stream_target import StreamConnection, StreamTargetError
from zerostream_desktop.ui.background import Background

log = logging.getLogger(__name__)


CONNECTION_WORDS = {"streaming": "connected", "connecting": "connecting…", "reconnecting": "reconnecting…",
                    "paused": "paused", "stopped": "disconnected"}  # fmt: skip


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
    held: int = 0  # events the spool could not take yet (its disk is full): the fleet waits
    spool_error: str = ""
    streams: int = 1

    def status_text(self, endpoint: str = "endpoint", sending: bool = True) -> str:
        """The connection and the fleet as two things: "localbus connected · idle · acked 0 · …"."""
        link = CONNECTION_WORDS.get(self.state, self.state)
        activity = ("sending" if sending else "idle") if self.state == "streaming" else ""
        head = f"{endpoint} {link}" + (f" · {activity}" if activity else "")
        head += f" · {self.streams} streams" if self.streams > 1 else ""
        text = f"{head} · acked {self.acked:,} · in flight {self.in_flight:,} · spool {self.spool_depth:,}"
        if self.rejected:
            text += f" · dead letters {self.rejected:,}"
        if self.spool_error:
            text += f" · cannot write the spool ({self.spool_error}): {self.held:,} events held, the fleet waits"
        if self.state in ("reconnecting", "paused") and self.last_error:
            error = self.last_error.splitlines()[0]
            text += f" · {error[:80]}{'…' if len(error) > 80 else ''}"
        return text


class StreamController(QObject):
    stats_changed = Signal(object)  # StreamSnapshot
    stack_changed = Signal(object, str)  # the running LocalStack or None, and why it is not running
    open_failed = Signal(str)  # the target could not be opened: why

    def __init__(self, background: Background, parent: QObject | None = None, restart_delay_s: float = 1.0) -> None:
        super().__init__(parent)
        self._background = background
        self.restart_delay_s = restart_delay_s
        self.connection: StreamConnection | None = None
        self.streamer: StreamGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._growing: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[int]] = set()
        # one thread stores the generated batches, so they reach the spool in the order they were made
        self._stores = ThreadPoolExecutor(1, thread_name_prefix="zerostream-store")
        self.destroyed.connect(lambda *_: self._stores.shutdown(wait=False))
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._publish)

    async def open(self, settings: Settings) -> StreamConnection | None:
        """Open where the settings say to stream and start streaming; None (and `open_failed`) if it cannot."""
        try:
            connection = await self._background.call(
                stream_target.open_stream_target, settings, restart_delay_s=self.restart_delay_s,
                on_stack_change=self.stack_changed.emit, executor=self._background.executor,
            )  # fmt: skip
        except StreamTargetError as exc:
            log.error("cannot stream: %s", exc)
            self.open_failed.emit(str(exc))
            return None
        self.connection = connection
        self._start(connection.group(auto=settings.zerobus_streams == "auto"))
        if connection.watchdog is not None:
            self._watchdog = asyncio.get_running_loop().create_task(connection.watchdog.run())
        return connection

    @property
    def stack(self) -> LocalStack | None:
        return self.connection.stack if self.connection is not None else None

    def attach(self, target: Target, *spools: Spool) -> None:
        """Start streaming to `target`, one stream per spool; whatever the spools still hold goes first."""
        self._start(StreamGroup([Streamer(target, spool) for spool in spools]))

    def _start(self, group: StreamGroup) -> None:
        """Stream with `group` (with ZEROBUS_STREAMS=auto it opens more streams as the fleet offers more)."""
        self.streamer = group
        self._runner = asyncio.get_running_loop().create_task(self.streamer.run())
        self._timer.start()
        self._publish()

    def plan_for(self, events_per_s: float) -> None:
        """The fleet offers this rate: with ZEROBUS_STREAMS=auto, open more streams when it needs them
        (one per 12,000 events/s; never fewer while connected, so a device's events stay on one stream)."""
        group = self.streamer
        if group is None or self._growing is not None or not group.needs_more(events_per_s):
            return
        self._growing = asyncio.get_running_loop().create_task(self._plan(group, events_per_s))

    async def _plan(self, group: StreamGroup, events_per_s: float) -> None:
        try:
            await group.plan_for(events_per_s)
        finally:
            self._growing = None

    def has_room(self, n: int) -> bool:
        return self.streamer is None or self.streamer.has_room(n)

    def submit(self, batch: EventBatch) -> None:
        """Called with each generated batch; spooled off the UI thread."""
        streamer = self.streamer
        if streamer is None or not len(batch):
            return
        future = asyncio.get_running_loop().run_in_executor(self._stores, streamer.submit, batch)
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
        if self._growing is not None:
            await asyncio.wait({self._growing}, timeout=timeout)
        if self._pending:
            await asyncio.wait(self._pending, timeout=timeout)
        if self.streamer is not None and self._runner is not None:
            await self.streamer.stop(timeout)
            await self._runner
            self._publish()

    async def close(self, timeout: float = 5.0) -> None:
        """Stop streaming, then stop what opening the target started (localbus, if ours)."""
        await self.stop(timeout)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.connection is not None:
            await self._background.call(self.connection.close)

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
            s.held,
            st.spool_error,
            len(s),
        )

    def _publish(self) -> None:
        if self.streamer is not None and self.streamer.held:  # the spool could not be written: try again
            self._background.run(functools.partial(self.streamer.retry_held, 0.0), lambda stored: None)
        snap = self.snapshot()
        if snap is not None:
            self.stats_changed.emit(snap)

    @property
    def paused(self) -> bool:
        return self.streamer is not None and self.streamer.stats.state is StreamState.PAUSED
