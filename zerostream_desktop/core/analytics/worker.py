"""The local backend in a child process, for the desktop app.

deltalake's change-feed read holds the GIL for its whole call (tens of ms on a busy table), and
keeping the dashboard's state (10,000 clients folded and rebuilt every second) is about 100 ms of
Python a second at 10,000 devices. In the app's process either one stalls the UI thread: it waits
for the GIL behind them at every numpy call the simulator makes. So the desktop runs
`LocalDeltaAnalytics` in a child (`zerostream analytics-worker TABLE`) and asks it over a pipe:
one request at a time, each a pickled `(method, args)` answered by `("ok", value)` or
`("error", exception)`, framed by an 8-byte length. The child also makes the map's device JSON, so
the UI thread only forwards it.

The child ends when the pipe closes (the app quit or died). If it dies first, the call that finds
out raises `AnalyticsError` with the end of its log, and the next call starts a new one (its state
comes back from the saved snapshot).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from zerostream_desktop.core.analytics.map_payload import devices_json
from zerostream_desktop.core.analytics.model import (
    CLIENT_FIELDS,
    DEFAULT_TRACK_LIMIT,
    DEFAULT_TRACK_POINTS,
    MINUTE_S,
    AnalyticsError,
    Client,
    ClientColumns,
    DeviceQuality,
    Kpis,
    Quality,
    QualityPoint,
    QualityThresholds,
    Refresh,
    SeriesPoint,
    Track,
    Window,
)
from zerostream_desktop.core.paths import zerostream_command

log = logging.getLogger(__name__)

COMMAND = "analytics-worker"
_HEADER = struct.Struct(">Q")
CLIENT_SLICE = 1000
# what the app may ask: the Analytics interface, nothing else
_METHODS = frozenset({"kpis", "clients", "track", "series", "refresh", "events", "data_version", "quality",
                      "quality_devices", "quality_points", "close"})  # fmt: skip


class WorkerAnalytics:
    """The Analytics interface over a child process running the local backend. Calls are serialised."""

    def __init__(self, table_path: Path, log_file: Path | None = None) -> None:
        self.table_path = Path(table_path)
        self.log_file = log_file
        self.description = f"the local table at {self.table_path}"
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        with self._lock:
            self._start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # --- the Analytics interface ------------------------------------------------------------

    def kpis(self, window: Window) -> Kpis:
        return self._call("kpis", window)  # type: ignore[no-any-return]

    def clients(self, window: Window) -> list[Client]:
        return list(_unpack_clients(self._call("clients", window)))

    def track(
        self, connection_id: str, limit: int = DEFAULT_TRACK_LIMIT, max_points: int = DEFAULT_TRACK_POINTS
    ) -> Track:
        return self._call("track", connection_id, limit, max_points)  # type: ignore[no-any-return]

    def series(self, window: Window, seconds: int = MINUTE_S) -> list[SeriesPoint]:
        return self._call("series", window, seconds)  # type: ignore[no-any-return]

    def refresh(self, window: Window, track_of: str | None = None, series_s: int = MINUTE_S) -> Refresh:
        window, kpis, slices, track, series, devices = self._call("refresh", window, track_of, series_s)
        return Refresh(window, kpis, _unpack_clients(slices), track, series, devices)

    def events(self, connection_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._call("events", connection_id, limit, offset)  # type: ignore[no-any-return]

    def data_version(self) -> int | None:
        return self._call("data_version")  # type: ignore[no-any-return]

    def quality(self, thresholds: QualityThresholds | None = None) -> Quality:
        return self._call("quality", thresholds)  # type: ignore[no-any-return]

    def quality_devices(self, thresholds: QualityThresholds | None = None) -> list[DeviceQuality]:
        return self._call("quality_devices", thresholds)  # type: ignore[no-any-return]

    def quality_points(self, connection_id: str, thresholds: QualityThresholds | None = None) -> list[QualityPoint]:
        return self._call("quality_points", connection_id, thresholds)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Ask the child to save its state and end; it is killed if it has not within 10 s."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            if proc is None or proc.poll() is not None:
                return
            try:
                _send(proc.stdin, ("close", ()))  # type: ignore[arg-type]
                _receive(proc.stdout)  # type: ignore[arg-type]
            except (OSError, EOFError):
                pass
            finally:
                _end(proc)

    # --- the child --------------------------------------------------------------------------

    def _start(self) -> None:
        command = [*zerostream_command(), "--verbose", COMMAND, str(self.table_path)]
        # its own session: a Ctrl+C meant for the app does not reach it; it ends when the app closes the pipe
        with contextlib.ExitStack() as stack:
            err = None
            if self.log_file is not None:
                self.log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # an existing folder: left as is
                err = stack.enter_context(self.log_file.open("ab"))
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                          start_new_session=True)  # fmt: skip
        log.info("analytics worker started (pid %d) for %s", self._proc.pid, self.table_path)

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._closed:
                raise AnalyticsError("the dashboard's reader is closed")
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            proc = self._proc
            assert proc is not None and proc.stdin is not None and proc.stdout is not None
            try:
                _send(proc.stdin, (method, args))
                status, value = _receive(proc.stdout)
            except (OSError, EOFError) as exc:
                self._proc = None
                code = _end(proc)
                raise AnalyticsError(f"the dashboard's reader (a child process) stopped with exit code {code}; "
                                     f"it starts again with the next refresh{self._log_tail()}") from exc  # fmt: skip
        if status == "error":
            raise value
        return value

    def _log_tail(self) -> str:
        if self.log_file is None or not self.log_file.is_file():
            return ""
        with self.log_file.open("rb") as f:
            f.seek(max(0, self.log_file.stat().st_size - 2000))
            lines = f.read().decode(errors="replace").strip().splitlines()[-5:]
        return f". The end of {self.log_file}:\n" + "\n".join(lines) if lines else ""


def serve(table_path: Path, requests: IO[bytes] | None = None, replies: IO[bytes] | None = None) -> int:
    """The child's loop: answer requests until the pipe closes or the app says close."""
    from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics

    if replies is None:  # replies own stdout; anything printed goes to the log (stderr) instead
        replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = requests or sys.stdin.buffer
    backend = LocalDeltaAnalytics(table_path)
    log.info("analytics worker serving %s", table_path)
    method = ""
    try:
        while True:
            try:
                method, args = _receive(requests)
            except EOFError:
                return 0  # the app closed the pipe (or died)
            reply: tuple[str, Any]
            try:
                if method not in _METHODS:
                    raise AnalyticsError(f"the dashboard's reader has no {method!r}")
                reply = ("ok", _pack(method, getattr(backend, method)(*args)))
            except Exception as exc:  # the app gets it raised; the worker goes on
                reply = ("error", exc if _picklable(exc) else AnalyticsError(f"{type(exc).__name__}: {exc}"))
            _send(replies, reply)
            if method == "close":
                return 0
    finally:
        if method != "close":
            backend.close()


def _pack(method: str, value: Any) -> Any:
    """Client lists go as columns (`ClientColumns`), pickled in slices of CLIENT_SLICE rows.

    At 10,000 clients one pickle of the list took 26 ms to load, in one call that holds the GIL; as
    columns, 6 ms, and in slices no single call holds it for more than about a millisecond.
    """
    if method == "refresh":
        r: Refresh = value
        return (r.window, r.kpis, _client_slices(r.clients), r.track, r.series, devices_json(r.clients))
    if method == "clients":
        return _client_slices(value)
    return value


def _client_slices(clients: Sequence[Client]) -> list[bytes]:
    columns = ClientColumns.of(clients).columns
    return [
        pickle.dumps([col[i : i + CLIENT_SLICE] for col in columns.values()], protocol=pickle.HIGHEST_PROTOCOL)
        for i in range(0, len(clients), CLIENT_SLICE)
    ]


def _unpack_clients(slices: list[bytes]) -> ClientColumns:
    columns: dict[str, list[Any]] = {name: [] for name in CLIENT_FIELDS}
    for part in slices:
        for name, values in zip(CLIENT_FIELDS, pickle.loads(part), strict=True):
            columns[name].extend(values)
    return ClientColumns(columns)


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def _send(pipe: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> Any:
    header = _read_exactly(pipe, _HEADER.size)
    return pickle.loads(_read_exactly(pipe, _HEADER.unpack(header)[0]))


def _read_exactly(pipe: IO[bytes], n: int) -> bytes:
    chunks = []
    while n:
        chunk = pipe.read(n)
        if not chunk:
            raise EOFError("the pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _end(proc: subprocess.Popen[bytes]) -> int | None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
