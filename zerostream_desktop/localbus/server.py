"""The localbus gRPC server: `databricks.zerobus.Zerobus/EphemeralStream` over grpc.aio.

Per stream: check the bearer token (localbus's own, or an OAuth token its token endpoint issued,
scoped to tables: see oauth.py), send response headers at once (the SDK waits for them before
sending create_stream), validate create_stream against the table, then read records, hand them to
the group-commit writer and send cumulative acks as commits land. Bad input ends the stream with
a non-retriable status naming the problem; what was acknowledged before stays.
"""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import hmac
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from zerostream_desktop.core.paths import ensure_private_dir
from zerostream_desktop.localbus import protocol
from zerostream_desktop.localbus.oauth import (
    DEFAULT_TTL_S,
    TOKEN_PREFIX,
    OAuthServer,
    Principals,
    TokenError,
    TokenIssuer,
)
from zerostream_desktop.localbus.records import Decoder, RecordError, SchemaMismatchError
from zerostream_desktop.localbus.security import TlsFiles, ensure_tls
from zerostream_desktop.localbus.state import STATE_FILE, read_state
from zerostream_desktop.localbus.tables import DamagedTableError, TableCatalog, UnknownTableError
from zerostream_desktop.localbus.token import token_fingerprint
from zerostream_desktop.localbus.writer import GroupCommitWriter, WriterConfig

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_INFLIGHT_ROWS = 400_000  # per stream: rows read but not yet committed; beyond it, its records wait
MAX_UNREAD_ACKS = 10_000  # per stream: acks its client has not read; beyond it, its records wait
COALESCE_ROWS = 20_000  # records of requests already waiting decoded and committed together, at most
READ_AHEAD_REQUESTS = 64  # requests taken off the connection before they are decoded, at most
LOCK_FILE = "localbus.lock"


class AlreadyRunningError(RuntimeError):
    pass


@dataclass
class ServerConfig:
    data_dir: Path
    token: str
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = True
    stream_lifetime_s: float = 900.0  # the service closes streams about every 15 minutes
    writer: WriterConfig = field(default_factory=WriterConfig)
    oauth: bool = True  # serve the workspace token endpoint (loopback HTTP) for OAuth client credentials
    oauth_port: int = 0
    token_ttl_s: int = DEFAULT_TTL_S


_CLOSE: Any = object()  # marker: drain the acks, then close the stream


@dataclass(frozen=True)
class _Malformed:
    """A request message that is not an EphemeralStreamRequest: refused with INVALID_ARGUMENT, not UNKNOWN."""

    error: str


def _tolerant_request(data: bytes) -> Any:
    try:
        return protocol.request_class().FromString(data)
    except Exception as exc:  # DecodeError and its kin: the client sent bytes that are not the message
        return _Malformed(str(exc) or type(exc).__name__)


class _StreamAbort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LocalBus:
    """One server per data folder (a file lock enforces it)."""

    def __init__(self, config: ServerConfig) -> None:
        if not config.tls and config.host not in LOOPBACK:
            raise ValueError(f"plaintext is only allowed on loopback, not on {config.host}; drop --insecure-loopback")
        self.config = config
        self.catalog = TableCatalog(config.data_dir)
        self.writer: GroupCommitWriter | None = None
        self.port = 0
        self.tls_files: TlsFiles | None = None
        self._server: grpc.aio.Server | None = None
        self._lock_fd: int | None = None
        self._streams: set[_Stream] = set()
        self._stopping = False
        self.issuer = TokenIssuer(config.token_ttl_s)
        self.oauth: OAuthServer | None = None
        # records are decoded off the event loop, which meanwhile reads the next requests (and
        # serves the other streams), so a busy stream's requests queue up and decode together
        self.decoding = ThreadPoolExecutor(max_workers=2, thread_name_prefix="localbus-decode")

    @property
    def workspace_url(self) -> str | None:
        """Where the token endpoint is (DATABRICKS_WORKSPACE_URL for the SDK's examples)."""
        return self.oauth.url if self.oauth else None

    @property
    def endpoint(self) -> str:
        host = "localhost" if self.config.tls else self.config.host
        return f"{'https' if self.config.tls else 'http'}://{host}:{self.port}"

    def _take_lock(self) -> None:
        data_dir = ensure_private_dir(Path(self.config.data_dir))
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            running = read_state(data_dir)
            where = f" at {running['endpoint']} (pid {running['pid']})" if running else ""
            raise AlreadyRunningError(f"a localbus server is already running for {data_dir}{where}") from None
        self._lock_fd = fd

    async def start(self) -> int:
        self._take_lock()
        self.writer = GroupCommitWriter(self.catalog, self.config.writer)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        handler = grpc.stream_stream_rpc_method_handler(
            self._ephemeral_stream,
            request_deserializer=_tolerant_request,
            response_serializer=lambda m: m.SerializeToString(),
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(protocol.SERVICE, {"EphemeralStream": handler}),)
        )
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls:
            self.tls_files = ensure_tls(self.config.data_dir)
            _, cert, key = self.tls_files.read()
            self.port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            self.port = server.add_insecure_port(address)
        await server.start()
        self._server = server
        if self.config.oauth:
            self.oauth = OAuthServer(Principals(self.config.data_dir), self.issuer, port=self.config.oauth_port)
            self.oauth.start()
        self._write_state()
        log.info("localbus listening on %s", self.endpoint)
        return self.port

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "tls": self.config.tls,
            "ca_cert": str(self.tls_files.ca_cert) if self.tls_files else None,
            "workspace_url": self.workspace_url,
            "token_fingerprint": token_fingerprint(self.config.token),  # who may use it can tell; not the token
        }
        path = Path(self.config.data_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)  # readers never see a half-written file

    async def stop(self, grace: float = 10.0) -> None:
        """Commit what is held, ack it, tell streams to move on, then stop."""
        self._stopping = True
        for stream in list(self._streams):
            stream.drain_and_close()
        if self._streams:
            await asyncio.wait([asyncio.ensure_future(s.finished.wait()) for s in self._streams], timeout=grace)
        if self._server:
            await self._server.stop(grace=1.0)
        if self.writer:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        if self.oauth is not None:
            self.oauth.stop()
        self.decoding.shutdown(wait=False, cancel_futures=True)
        (Path(self.config.data_dir) / STATE_FILE).unlink(missing_ok=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def wait_closed(self) -> None:
        if self._server:
            await self._server.wait_for_termination()

    async def _ephemeral_stream(
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        metadata = dict(context.invocation_metadata() or ())
        auth = str(metadata.get("authorization") or "")
        tables: list[str] | None = None  # the tables an OAuth token grants; None: localbus's own token, any table
        if auth.startswith(f"Bearer {TOKEN_PREFIX}"):
            try:
                tables = list(self.issuer.check(auth.removeprefix("Bearer "))["tables"])
            except TokenError as exc:
                await context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        elif not hmac.compare_digest(auth.encode(), f"Bearer {self.config.token}".encode()):  # constant time
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token for localbus")
        if self._stopping:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "localbus is shutting down; retry shortly")
        await context.send_initial_metadata(())
        assert self.writer is not None
        stream = _Stream(self, requests, tables)
        self._streams.add(stream)
        try:
            async for response in stream.run():
                yield response
        except _StreamAbort as exc:
            log.info("stream %s ended: %s %s", stream.stream_id, exc.code.name, exc.message)
            await context.abort(exc.code, exc.message)
        finally:
            self._streams.discard(stream)
            stream.finished.set()


class _Stream:
    """One EphemeralStream RPC."""

    def __init__(self, bus: LocalBus, requests: AsyncIterator[Any], tables: list[str] | None = None) -> None:
        self.bus = bus
        self.requests = requests
        self.tables = tables
        self._inflight_rows = 0
        self.stream_id = str(uuid.uuid4())
        self.finished = asyncio.Event()
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._acks: asyncio.Queue[Any] = asyncio.Queue()
        self._timers: list[asyncio.TimerHandle] = []
        self._reader: asyncio.Task[None] | None = None

    def close_soon(self, after_s: float) -> None:
        """Send close_stream_signal; after `after_s` stop reading and end once the acks are out."""
        signal = protocol.message("CloseStreamSignal")(duration=datetime.timedelta(seconds=after_s))
        self._out.put_nowait(protocol.response_class()(close_stream_signal=signal))
        self._timers.append(asyncio.get_running_loop().call_later(after_s, self._end))

    def drain_and_close(self) -> None:
        """Stop reading, send the acks of what was taken, then close_stream_signal, then end."""
        if self._reader and not self._reader.done():
            self._reader.cancel()
        self._acks.put_nowait(_CLOSE)

    def _end(self) -> None:
        if self._reader and not self._reader.done():
            self._reader.cancel()
        self._acks.put_nowait(None)

    async def run(self) -> AsyncIterator[Any]:
        first = await anext(aiter(self.requests), None)
        if first is None:
            return
        table, decoder = self._create(first)
        yield protocol.response_class()(
            create_stream_response=protocol.message("CreateIngestStreamResponse")(stream_id=self.stream_id)
        )
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(self.bus.config.stream_lifetime_s, self.close_soon, 60.0))
        self._reader = asyncio.create_task(self._read(table, decoder))
        acker = asyncio.create_task(self._ack())
        try:
            while True:
                item = await self._out.get()
                if item is None:
                    break
                if isinstance(item, _StreamAbort):
                    raise item
                yield item
        finally:
            for timer in self._timers:
                timer.cancel()
            self._reader.cancel()
            acker.cancel()

    def _create(self, first: Any) -> tuple[str, Decoder]:
        if isinstance(first, _Malformed):
            raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request message: {first.error}")
        if first.WhichOneof("payload") != "create_stream":
            raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, "the first message of a stream must be create_stream")
        req = first.create_stream
        table = req.table_name
        if self.tables is not None and table not in self.tables:
            raise _StreamAbort(grpc.StatusCode.PERMISSION_DENIED,
                               f"the access token does not grant access to table {table}")  # fmt: skip
        try:
            table_schema = self.bus.catalog.arrow_schema(table)
        except (UnknownTableError, ValueError) as exc:
            raise _StreamAbort(grpc.StatusCode.NOT_FOUND, f"table {table!r} not found: {exc}") from None
        except DamagedTableError as exc:  # nothing is written to it until it is repaired
            raise _StreamAbort(grpc.StatusCode.FAILED_PRECONDITION, str(exc)) from None
        if req.record_type not in (protocol.PROTO, protocol.JSON):
            raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, "record_type must be PROTO or JSON")
        try:
            decoder = Decoder(table, table_schema, req.descriptor_proto or None, req.record_type == protocol.JSON)
        except SchemaMismatchError as exc:
            raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        log.info("stream %s opened on %s (%s)", self.stream_id, table, "JSON" if decoder.json_mode else "PROTO")
        return table, decoder

    async def _read(self, table: str, decoder: Decoder) -> None:
        """Decode and submit what the client sends. Requests that have already arrived when the
        previous ones are done are decoded and committed together (one decode, one submission,
        one cumulative ack of the last offset): the busier the stream, the larger the batches."""
        assert self.bus.writer is not None
        incoming: asyncio.Queue[Any] = asyncio.Queue(maxsize=READ_AHEAD_REQUESTS)
        puller = asyncio.create_task(self._pull(incoming))
        try:
            ended = False
            while not ended:
                group = [await incoming.get()]
                rows = len(group[0][1]) if isinstance(group[0], tuple) else 0
                while isinstance(group[-1], tuple) and rows < COALESCE_ROWS and not incoming.empty():
                    group.append(incoming.get_nowait())
                    rows += len(group[-1][1]) if isinstance(group[-1], tuple) else 0
                batches = [item for item in group if isinstance(item, tuple)]
                if batches:
                    await self._submit(table, decoder, batches)
                last = group[-1]
                if isinstance(last, BaseException):
                    raise last
                ended = last is None
            await self._acks.put(None)
        except RecordError as exc:
            await self._fail(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except _StreamAbort as exc:
            await self._fail(exc.code, exc.message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped client connection ends the read loop
            log.debug("stream %s read ended: %r", self.stream_id, exc)
            await self._acks.put(None)
        finally:
            puller.cancel()

    async def _pull(self, incoming: asyncio.Queue[Any]) -> None:
        """Put each request on `incoming` as (offset, records); then None at the end, or the error
        that ended it. A full queue stops reading (HTTP/2 flow control then holds the client back)."""
        try:
            async for request in self.requests:
                if isinstance(request, _Malformed):
                    raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request message: {request.error}")
                kind = request.WhichOneof("payload")
                if kind == "ingest_record":
                    rec = request.ingest_record
                    record = getattr(rec, rec.WhichOneof("record") or "proto_encoded_record")
                    await incoming.put((rec.offset_id, [record]))
                elif kind == "ingest_record_batch":
                    batch = request.ingest_record_batch
                    which = batch.WhichOneof("batch")
                    await incoming.put((batch.offset_id, list(getattr(batch, which).records) if which else []))
                else:
                    raise _StreamAbort(grpc.StatusCode.INVALID_ARGUMENT, "create_stream may only be sent once")
            await incoming.put(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the reader, after what came before it
            await incoming.put(exc)

    async def _submit(self, table: str, decoder: Decoder, batches: list[tuple[int, list[bytes | str]]]) -> None:
        try:
            records = batches[0][1] if len(batches) == 1 else [r for _, batch in batches for r in batch]
            decoded = [(batches[-1][0], await self._decode(decoder, records, batches[0][0]))]
        except RecordError:
            if len(batches) == 1:
                raise
            # one request at a time: the ones before the bad record are written and acknowledged, and
            # the error names the offset exactly as a lone request would
            decoded = []
            for offset, batch in batches:
                try:
                    decoded.append((offset, await self._decode(decoder, batch, offset)))
                except RecordError:
                    await self._submit_decoded(table, decoded)
                    raise
        await self._submit_decoded(table, decoded)

    async def _decode(self, decoder: Decoder, records: Sequence[bytes | str], offset: int) -> pa.Table:
        return await asyncio.get_running_loop().run_in_executor(self.bus.decoding, decoder.decode, records, offset)

    async def _submit_decoded(self, table: str, decoded: list[tuple[int, pa.Table]]) -> None:
        assert self.bus.writer is not None
        for offset, data in decoded:
            # one stream never takes all: past its limits, stop reading it (HTTP/2 flow control then
            # holds its client back) until its commits land and its client reads its acks
            while self._inflight_rows > MAX_INFLIGHT_ROWS or self._out.qsize() > MAX_UNREAD_ACKS:
                await asyncio.sleep(0.005)
            self._inflight_rows += data.num_rows
            future = asyncio.wrap_future(self.bus.writer.submit(table, data))
            await self._acks.put((offset, future, data.num_rows))

    async def _fail(self, code: grpc.StatusCode, message: str) -> None:
        await self._acks.put(_StreamAbort(code, message))  # acks already earned go out first

    async def _ack(self) -> None:
        wrap = protocol.response_class()
        ack = protocol.message("IngestRecordResponse")
        while True:
            item = await self._acks.get()
            if item is _CLOSE:
                signal = protocol.message("CloseStreamSignal")(duration=datetime.timedelta(0))
                self._out.put_nowait(wrap(close_stream_signal=signal))
                self._out.put_nowait(None)
                return
            if item is None or isinstance(item, _StreamAbort):
                self._out.put_nowait(item)
                return
            offset, future, rows = item
            try:
                await future
            except Exception as exc:
                self._out.put_nowait(_StreamAbort(grpc.StatusCode.INTERNAL, f"commit failed: {exc}"))
                return
            finally:
                self._inflight_rows -= rows
            self._out.put_nowait(wrap(ingest_record_response=ack(durability_ack_up_to_offset=offset)))
