"""File descriptors 1 and 2 into a log file, through a pipe that never fails its writer.

The ZeroBus SDK's Rust core writes its log to standard output directly, past Python's logging, and
a Rust task whose print fails (a full disk under the log file, a closed terminal) ends: the stream
then never reconnects (seen under a real full disk: streaming stayed "reconnecting" until the run
ended, and recovered at once with the SDK's log off). So the descriptors point at a pipe, and a
thread copies what arrives into the log file; what the file cannot take is dropped and counted,
never returned to the writer as an error.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn, TextIO


class _Relay(threading.Thread):
    def __init__(self, read_fd: int, path: Path) -> None:
        super().__init__(name="native-output", daemon=True)
        self.read_fd = read_fd
        self.path = path
        self.dropped = 0  # bytes the log file could not take

    def run(self) -> None:
        log_fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while chunk := os.read(self.read_fd, 1 << 16):
                try:
                    written = 0
                    while written < len(chunk):
                        written += os.write(log_fd, chunk[written:])
                except OSError:
                    self.dropped += len(chunk) - written
            if self.dropped:
                note = f"[{self.dropped:,} bytes of native output were dropped: the log could not be written]\n"
                with suppress(OSError):
                    os.write(log_fd, note.encode())
        finally:
            os.close(log_fd)
            os.close(self.read_fd)


@contextmanager
def native_output_to(path: Path) -> Iterator[TextIO]:
    """Descriptors 1 and 2 into `path` while the block runs. Yields a stream to the real terminal
    (standard error) for live views and messages."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    read_fd, write_fd = os.pipe()
    relay = _Relay(read_fd, path)
    relay.start()
    for fd in saved:
        os.dup2(write_fd, fd)
    os.close(write_fd)
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():  # the pipe's last write ends close: the relay copies the rest and ends
            os.dup2(copy, fd)
            os.close(copy)
        relay.join(5.0)
        terminal.close()


def leave(code: int) -> NoReturn:
    """End the process with `code`: flush, then leave without interpreter finalization.

    Native runtimes keep threads of their own (the ZeroBus SDK's tokio workers, Qt); tearing the
    interpreter down under them occasionally aborted a command that had already finished its
    work and printed its summary ("terminate called without an active exception", exit -6).
    Everything durable is committed by then. For program entry points only, never in-process callers.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
