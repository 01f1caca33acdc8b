"""A private PostgreSQL server for the tests: its own cluster in a temporary folder, on a free port.

The Debian `postgresql` package provides the binaries (`.ci/run` installs it). As root, the
cluster runs as the `postgres` user (initdb refuses root). TCP clients must use SSL and a
password (SCRAM), as on Lakebase; the admin connects over the cluster's own Unix socket.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from zerostream_desktop.localbus.security import ensure_tls


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """`root` defaults to a new folder in /tmp: as root, pytest's own temporary folders are closed to `postgres`."""

    root: Path | None = None
    port: int = 0

    def __post_init__(self) -> None:
        self._own_root = self.root is None
        self.root = Path(self.root or tempfile.mkdtemp(prefix="zerostream-pg-", dir="/tmp"))
        self.bindir = _bindir()
        self.port = self.port or _free_port()
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str | Path) -> None:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout.strip()}")

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        tls = ensure_tls(self.root)
        key = self.root / "server.key"
        shutil.copy(tls.server_key, key)
        os.chmod(key, 0o600)
        if self.as_root:
            shutil.chown(self.root, "postgres")
            for p in self.root.rglob("*"):
                shutil.chown(p, "postgres")
        self._run(self.bindir / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        conf = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.socket_dir}'\n"
            f"ssl = on\nssl_cert_file = '{tls.server_cert}'\nssl_key_file = '{key}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n"
        )
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 reject\n"
        )
        if self.as_root:
            shutil.chown(self.data / "pg_hba.conf", "postgres")
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )
