"""Stream spooled records to ZeroBus (Databricks or localbus) with the official SDK's async API.

Producers put encoded events in the spool; one pump sends them in order, in batches, and an
acker waits for each batch's acknowledgement before deleting it from the spool. A dropped
connection resends everything unacknowledged on a new stream (at-least-once). A non-retriable
refusal (wrong credentials, missing table, schema mismatch) pauses streaming with the
endpoint's message and keeps every record. A batch the endpoint rejects as invalid is split until
the bad records are found; they go to the dead letters with the reason, the rest goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import EventBatch
from zerostream_desktop.core.ingest.spool import Spool, SpooledRecords, SpoolFullError, SpoolWriteError

log = logging.getLogger(__name__)


STALLED_AFTER_S = 5.0  # records in flight and no acknowledgement for this long: shown as reconnecting


class StreamState(enum.StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    PAUSED = "paused"


@dataclass(frozen=True)
class Target:
    """Where records go; Databricks and localbus differ only in endpoint and credentials."""

    kind: str  # "local" or "databricks"
    endpoint: str
    table: str
    unity_catalog_url: str
    bearer_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    ca_cert: Path | None = None


@dataclass
class StreamStats:
    generated: int = 0
    sent: int = 0
    acked: int = 0
    resent: int = 0
    rejected: int = 0
    bytes_acked: int = 0
    state: StreamState = StreamState.STOPPED
    last_error: str = ""
    spool_error: str = ""  # the spool cannot be written (a full disk): producers wait, their events held
    per_device: Counter[str] = field(default_factory=Counter)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))

    last_progress: float = 0.0  # monotonic time of the last acknowledgement or new stream

    def latency(self, q: float) -> float:
        return float(np.percentile(np.fromiter(self.latencies_ms, float), q)) if self.latencies_ms else float("nan")


class _RecordsRejected(Exception):
    """The endpoint refused records of the current stream as invalid."""


@dataclass
class _InFlight:
    offset: int
    records: SpooledRecords
    sent_at: float


class Streamer:
    def __init__(
        self,
        target: Target,
        spool: Spool,
        *,
        json_mode: bool = False,
        batch_size: int = 1000,
        max_in_flight: int = 50_000,
        sdk_options: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.spool = spool
        self.json_mode = json_mode
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.sdk_options = sdk_options or {}
        self.stats = StreamStats()
        self._cursor = 0
        self._in_flight: deque[_InFlight] = deque()
        self._data = asyncio.Event()
        self._progress = asyncio.Event()
        self._resume = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._count_lock = threading.Lock()
        self._held: deque[EventBatch] = deque()  # batches the spool could not take yet (a full disk), in order
        self._held_lock = threading.Lock()
        self._store_lock = threading.Lock()
        self.on_spooled: Callable[[EventBatch], None] | None = None  # called (off the loop) once a batch is stored

    # --- producers ------------------------------------------------------------------------

    def submit(self, batch: EventBatch, timeout: float | None = None) -> int:
        """Encode and spool a batch (blocks while the spool is full); how many events were stored. Thread-safe;
        call off the loop.

        When the spool cannot be written (its disk is full) the batch is held in memory, in order, and
        `has_room` is false until `retry_held` stores it: producers wait, and no event is dropped.
        """
        if not len(batch):
            return 0
        with self._held_lock:
            self._held.append(batch)
        return self.retry_held(timeout)

    def retry_held(self, timeout: float | None = None) -> int:
        """Store the held batches in order, up to the first the spool still cannot take; events stored."""
        stored = 0
        with self._store_lock:
            while True:
                with self._held_lock:
                    if not self._held:
                        break
                    batch = self._held[0]
                try:
                    self._store(batch, timeout)
                except SpoolWriteError as exc:
                    if not self.stats.spool_error:
                        log.error("%s", exc)
                    self.stats.spool_error = str(exc.__cause__ or exc)
                    return stored
                except SpoolFullError:  # full by its bound: it stays held, producers wait for acknowledgements
                    return stored
                except BaseException:
                    with self._held_lock:
                        self._held.popleft()
                    raise
                with self._held_lock:
                    self._held.popleft()
                stored += len(batch)
            if self.stats.spool_error:
                log.info("the spool takes events again")
            self.stats.spool_error = ""
        return stored

    @property
    def held(self) -> int:
        """Events generated but not yet in the spool (it could not be written)."""
        with self._held_lock:
            return sum(len(b) for b in self._held)

    def has_room(self, n: int = 1) -> bool:
        """Whether producers may generate `n` more events now (backpressure: a full spool, or events held)."""
        return not self._held and self.spool.has_room(n)

    def _store(self, batch: EventBatch, timeout: float | None) -> None:
        payloads = (
            [t.encode("utf-8") for t in encoding.encode_json(batch)] if self.json_mode else encoding.encode_proto(batch)
        )
        ids, devices = batch.event_ids(), batch.connection_ids()
        self.spool.append(ids, devices, payloads, timeout=timeout, batch_size=self.batch_size)
        with self._count_lock:
            self.stats.generated += len(batch)
        if self.on_spooled is not None:
            self.on_spooled(batch)

    def notify(self) -> None:
        """Wake the pump (call on the loop after submitting)."""
        self._data.set()

    @property
    def in_flight(self) -> int:
        return sum(len(b.records) for b in self._in_flight)

    # --- control ----------------------------------------------------------------------------

    def resume(self) -> None:
        """Try again after a pause (new credentials, table created...)."""
        self._resume.set()

    async def run(self) -> None:
        """Stream until stop(); survives endpoint outages, pauses on non-retriable refusals."""
        backoff = 0.5
        while not self._stopping:
            if self.stats.state is StreamState.PAUSED:
                self._resume.clear()
                await self._resume.wait()
                if self._stopping:
                    break
            self._cursor = (self.spool.first_id() or 0) - 1 if self.spool.depth else self._cursor
            self._requeue()
            self._set_state(StreamState.CONNECTING if self.stats.acked == 0 else StreamState.RECONNECTING)
            stream = None
            try:
                stream = await self._create_stream()
                self.stats.last_progress = time.monotonic()
                self._set_state(StreamState.STREAMING)
                backoff = 0.5
                await self._session(stream)
            except _RecordsRejected as exc:
                await self._close_quietly(stream)
                stream = None
                await self._isolate(str(exc))
            except Exception as exc:
                if _non_retriable(exc):
                    self._pause(str(exc))
                else:
                    self.stats.last_error = str(exc)
                    log.warning("stream failed (%s); reconnecting in %.1f s", exc, backoff)
                    self._set_state(StreamState.RECONNECTING)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
            finally:
                await self._close_quietly(stream)
        if self.stats.state is not StreamState.PAUSED:  # a pause stays visible after stopping
            self._set_state(StreamState.STOPPED)

    def visible_state(self, stalled_after_s: float = STALLED_AFTER_S) -> StreamState:
        """The state to show: the SDK recovers a lost connection by itself, without telling; records in
        flight with no acknowledgement for `stalled_after_s` mean it is doing so."""
        st = self.stats.state
        if (
            st is StreamState.STREAMING
            and self._in_flight
            and time.monotonic() - self.stats.last_progress > stalled_after_s
        ):
            return StreamState.RECONNECTING
        return st

    async def stop(self, timeout: float = 10.0, through_reconnects: bool = False) -> None:
        """Send what is spooled and wait for its acks, up to `timeout`; the rest stays in the spool.

        Without the endpoint it gives up at once, unless `through_reconnects` (a load test's drain): then
        it waits out a reconnection too, up to `timeout`; a pause (a refusal) still ends it at once.
        """
        self._data.set()
        deadline = time.monotonic() + timeout
        waiting = (StreamState.STREAMING, StreamState.CONNECTING, StreamState.RECONNECTING)
        while (self.spool.depth or self._in_flight) and time.monotonic() < deadline:
            if self.stats.state not in (waiting if through_reconnects else (StreamState.STREAMING,)):
                break
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), min(0.2, max(0.01, deadline - time.monotonic())))
        self._stopping = True
        self._resume.set()
        self._stopped.set()

    # --- internals -----------------------------------------------------------------------------

    def _set_state(self, state: StreamState) -> None:
        if self.stats.state is not state:
            log.info("stream state: %s", state)
        self.stats.state = state

    def _pause(self, message: str) -> None:
        self.stats.last_error = message
        log.error("streaming paused: %s", message)
        self._set_state(StreamState.PAUSED)

    def _requeue(self) -> None:
        if self._in_flight:
            self.stats.resent += self.in_flight
            self._in_flight.clear()

    async def _create_stream(self) -> Any:
        from zerobus.sdk.aio import ZerobusSdk
        from zerobus.sdk.shared import HeadersProvider, RecordType, StreamConfigurationOptions, TableProperties

        t = self.target
        if t.ca_cert:
            os.environ["SSL_CERT_FILE"] = str(t.ca_cert)  # read by the SDK at connect time
        sdk = ZerobusSdk(t.endpoint, t.unity_catalog_url, application_name="zerostream")
        props = (
            TableProperties(t.table) if self.json_mode else TableProperties(t.table, schema.message_class().DESCRIPTOR)
        )
        options = StreamConfigurationOptions(
            record_type=RecordType.JSON if self.json_mode else RecordType.PROTO, **self.sdk_options
        )
        if t.bearer_token:
            token = t.bearer_token

            class Bearer(HeadersProvider):  # type: ignore[misc]
                def get_headers(self) -> list[tuple[str, str]]:
                    return [("authorization", f"Bearer {token}")]

            return await sdk.create_stream(table_properties=props, options=options, headers_provider=Bearer())
        return await sdk.create_stream(t.client_id, t.client_secret, props, options)

    async def _session(self, stream: Any) -> None:
        pump: asyncio.Task[Any] = asyncio.create_task(self._pump(stream))
        acker: asyncio.Task[Any] = asyncio.create_task(self._ack(stream))
        stopped: asyncio.Task[Any] = asyncio.create_task(self._stopped.wait())
        done, _ = await asyncio.wait({pump, acker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, acker, stopped):
            task.cancel()
        for task in done:
            if task is not stopped and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]

    def _payloads(self, records: SpooledRecords) -> list[Any]:
        """The records as sent now: stamped with this send's time (`ingested_at`; ZeroBus fills no column)."""
        if self.json_mode:
            return encoding.stamp_sent([p.decode("utf-8") for p in records.payloads])
        return encoding.stamp_sent(records.payloads)

    async def _pump(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if self.in_flight >= self.max_in_flight:
                self._progress.clear()
                await self._progress.wait()
                continue
            records = await loop.run_in_executor(None, self.spool.read_after, self._cursor, self.batch_size, True)
            if not records:
                self._data.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._data.wait(), 0.2)
                continue
            try:
                offset = await stream.ingest_records_offset(self._payloads(records))
            except Exception as exc:
                raise _classify(exc) from exc
            self._in_flight.append(_InFlight(offset, records, time.perf_counter()))
            self._cursor = records.last_id
            self.stats.sent += len(records)
            self._progress.set()

    async def _ack(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._in_flight:
                self._progress.clear()
                await self._progress.wait()
                continue
            batch = self._in_flight[0]
            try:
                await stream.wait_for_offset(batch.offset)
            except Exception as exc:
                raise _classify(exc) from exc
            self._in_flight.popleft()
            try:
                await loop.run_in_executor(None, self.spool.acknowledge, batch.records.last_id)
            except sqlite3.OperationalError as exc:  # a full disk: they go with the next acknowledgement that can
                log.warning("could not remove acknowledged records from the spool (%s); they are removed later", exc)
            self._record_ack(batch.records, batch.sent_at)
            self._progress.set()

    def _record_ack(self, records: SpooledRecords, sent_at: float) -> None:
        s = self.stats
        s.acked += len(records)
        stamp = encoding.stamp_chars() if self.json_mode else encoding.stamp_bytes()
        s.bytes_acked += records.size_bytes + stamp * len(records)
        s.per_device.update(records.devices)
        s.latencies_ms.append((time.perf_counter() - sent_at) * 1000)
        s.last_progress = time.monotonic()

    async def _isolate(self, reason: str) -> None:
        """Find the records the endpoint refuses among the unacknowledged ones, by halving."""
        loop = asyncio.get_running_loop()
        first = self.spool.first_id()
        if first is None:
            return
        window = await loop.run_in_executor(None, self.spool.read_after, first - 1, max(self.batch_size, 1))
        log.warning("endpoint refused records (%s); isolating them among %d", reason, len(window))
        await self._probe(window)
        self._in_flight.clear()

    async def _probe(self, records: SpooledRecords) -> None:
        loop = asyncio.get_running_loop()
        stream = await self._create_stream()
        try:
            offset = await stream.ingest_records_offset(self._payloads(records))
            await stream.wait_for_offset(offset)
        except Exception as exc:
            await self._close_quietly(stream)
            if not _is_rejection(exc):
                raise
            if len(records) == 1:
                await loop.run_in_executor(None, self.spool.dead_letter, records[0].id, str(exc))
                self.stats.rejected += 1
                log.warning("record %s moved to dead letters: %s", records[0].event_id, exc)
                return
            half = len(records) // 2
            await self._probe(records[:half])
            await self._probe(records[half:])
            return
        await self._close_quietly(stream)
        await loop.run_in_executor(None, self.spool.acknowledge, records.last_id)
        self._record_ack(records, time.perf_counter())

    async def _close_quietly(self, stream: Any) -> None:
        if stream is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stream.close(), 5.0)


def _message(exc: BaseException) -> str:
    return str(exc).lower()


def _is_rejection(exc: BaseException) -> bool:
    return _non_retriable(exc) and "invalid argument" in _message(exc) and "record" in _message(exc)


def _non_retriable(exc: BaseException) -> bool:
    from zerobus.sdk.shared import NonRetriableException

    return isinstance(exc, NonRetriableException | _RecordsRejected)


def _classify(exc: BaseException) -> BaseException:
    return _RecordsRejected(str(exc)) if _is_rejection(exc) else exc
