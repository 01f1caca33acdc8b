"""Run localbus as its own process and stream into it with the real ZeroBus SDK."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from zerostream_desktop.core import schema
from zerostream_desktop.localbus.state import read_state
from zerostream_desktop.localbus.tables import TableCatalog

TABLE = "zerostream.sensors.sensor_stream"
TOKEN = "integration-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalBusProcess:
    data_dir: Path
    port: int
    tls: bool = False
    proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str, timeout: float = 30.0) -> LocalBusProcess:
        env = {**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        args = [sys.executable, "-m", "zerostream_desktop", "--data-dir", str(self.data_dir), "localbus", "serve",
                "--port", str(self.port), "--retention-days", "0",  # fixed-date test data stays
                *([] if self.tls else ["--insecure-loopback"]), *extra]  # fmt: skip
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"localbus exited {self.proc.returncode}: {self.proc.stdout.read()}")  # type: ignore[union-attr]
            running = read_state(self.data_dir)
            if running and running.get("pid") == self.proc.pid:
                return self
            time.sleep(0.05)
        raise TimeoutError("localbus did not start")

    def terminate(self, timeout: float = 30.0) -> str:
        assert self.proc
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=timeout)
        return out

    def kill(self) -> None:
        assert self.proc
        self.proc.kill()
        self.proc.wait(10)

    def event_ids(self) -> list[str]:
        table = TableCatalog(self.data_dir).open(TABLE)
        return table.to_pyarrow_table(columns=["event_id"])["event_id"].to_pylist()

    def rows(self, *columns: str) -> list[dict]:
        table = TableCatalog(self.data_dir).open(TABLE)
        return table.to_pyarrow_table(columns=list(columns) or None).to_pylist()


def headers_provider(token: str = TOKEN):
    from zerobus.sdk.shared import HeadersProvider

    class Bearer(HeadersProvider):
        def get_headers(self):
            return [("authorization", f"Bearer {token}")]

    return Bearer()


def table_properties(table: str = TABLE, json_mode: bool = False):
    from zerobus.sdk.shared import TableProperties

    if json_mode:
        return TableProperties(table)
    return TableProperties(table, schema.message_class().DESCRIPTOR)


def options(json_mode: bool = False, **kwargs):
    from zerobus.sdk.shared import RecordType, StreamConfigurationOptions

    record_type = RecordType.JSON if json_mode else RecordType.PROTO
    return StreamConfigurationOptions(record_type=record_type, **kwargs)
