"""Start (or find) the localbus server of a data folder, for the app and the streaming command."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zerostream_desktop.core.paths import ensure_private_dir, zerostream_command
from zerostream_desktop.localbus.state import read_state
from zerostream_desktop.localbus.token import TOKEN_ENV, token_fingerprint

log = logging.getLogger(__name__)


class LocalStackError(RuntimeError):
    """localbus could not be started; the message carries the end of its log."""


@dataclass
class LocalStack:
    data_dir: Path
    endpoint: str
    ca_cert: Path | None
    token: str
    process: subprocess.Popen[bytes] | None  # None when an already running server was reused
    log_file: Path
    other_token: str = ""  # a reused server another program started with another token: why, and the fix

    @property
    def owned(self) -> bool:
        return self.process is not None

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        state = read_state(self.data_dir)
        return bool(state and alive(int(state["pid"])))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server if this stack started it (it drains and acknowledges first)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("localbus did not stop within %.0f s; killing it", timeout)
            self.process.kill()
            self.process.wait(5)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_command(data_dir: Path) -> list[str]:
    """How to run `zerostream localbus serve`, from a checkout, a venv or a PyInstaller bundle."""
    return [*zerostream_command(), "--data-dir", str(data_dir), "localbus", "serve"]


def start_local_stack(
    data_dir: Path, token: str, *, extra_args: tuple[str, ...] = (), timeout: float = 30.0
) -> LocalStack:
    """Reuse the folder's running server, or start one and wait until it listens.

    Programs starting at the same moment on one folder (the shards of a fleet) take turns: the first
    starts localbus, the others find it running and use it."""
    data_dir = Path(data_dir)
    with _starting(ensure_private_dir(data_dir / "localbus") / "start.lock", timeout):
        return _start(data_dir, token, extra_args, timeout)


@contextlib.contextmanager
def _starting(lock_path: Path, timeout: float) -> Iterator[None]:
    """Held while one program checks for a running localbus and starts one (an exclusive file lock)."""
    import fcntl

    with lock_path.open("ab") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise LocalStackError(f"another program has been starting localbus for {timeout:.0f} s "
                                          f"({lock_path} is held)") from None  # fmt: skip
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _start(data_dir: Path, token: str, extra_args: tuple[str, ...], timeout: float) -> LocalStack:
    log_file = data_dir / "logs" / "localbus.log"
    state = read_state(data_dir)
    if state and alive(int(state["pid"])):
        theirs = state.get("token_fingerprint")
        other = ""
        if theirs and theirs != token_fingerprint(token):  # it will refuse our streams: say why, and the fix
            other = (f"the localbus serving {data_dir} (pid {state['pid']}) was started by another program with "
                     f"another token: give every program on this folder the same {TOKEN_ENV} (without an OS "
                     "keyring each program makes its own), or stop that program first")  # fmt: skip
            log.warning("%s", other)
        log.info("reusing localbus at %s (pid %s)", state["endpoint"], state["pid"])
        ca = Path(state["ca_cert"]) if state.get("ca_cert") else None
        return LocalStack(data_dir, state["endpoint"], ca, token, None, log_file, other)
    ensure_private_dir(log_file.parent)
    env = {**os.environ, TOKEN_ENV: token, "PYTHONUNBUFFERED": "1"}
    with log_file.open("ab") as out:
        # its own session: a Ctrl+C meant for the app does not stop localbus under it; the app stops it itself
        proc = subprocess.Popen([*serve_command(data_dir), *extra_args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(data_dir)
        if state and state.get("pid") == proc.pid:
            ca = Path(state["ca_cert"]) if state.get("ca_cert") else None
            log.info("started localbus at %s (pid %d)", state["endpoint"], proc.pid)
            return LocalStack(data_dir, state["endpoint"], ca, token, proc, log_file)
        if proc.poll() is not None:
            raise LocalStackError(f"localbus exited with code {proc.returncode}:\n{_tail(log_file)}")
        time.sleep(0.05)
    proc.kill()
    raise LocalStackError(f"localbus did not start within {timeout:.0f} s:\n{_tail(log_file)}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
