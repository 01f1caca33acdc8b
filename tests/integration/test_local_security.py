"""The local stack's files are its user's alone, the token is in none of them, plaintext stays on loopback."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.integration.test_streaming import stream_cmd, summary_of
from zerostream_desktop.localbus.server import LocalBus, ServerConfig

pytestmark = pytest.mark.integration
TOKEN = "planted-localbus-token-6f2c1d"
PUBLIC = {"ca.pem", "server.pem"}  # certificates are public by nature; their keys are not


def test_a_stream_run_leaves_only_private_files_and_no_token_in_any(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # made by someone else, open to others: tightened at start
    data.chmod(0o755)
    rc, summary = summary_of(stream_cmd(data, "--devices", "20", "--duration", "2", token=TOKEN))
    assert rc == 0, summary
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    checked = 0
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode & 0o077 == 0, (path, oct(mode))
            continue
        if path.name not in PUBLIC:
            assert mode & 0o077 == 0, (path, oct(mode))
        assert TOKEN.encode() not in path.read_bytes(), path
        checked += 1
    assert checked > 10  # the spool, the table's files and log, the logs, the TLS key and the state were looked at
    assert (data / "tls" / "server-key.pem").is_file() and list((data / "spool").glob("*.sqlite"))


def test_plaintext_is_refused_beyond_loopback(tmp_path: Path):
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(ValueError, match="plaintext is only allowed on loopback"):
            LocalBus(ServerConfig(tmp_path, "t", host=host, tls=False))
    LocalBus(ServerConfig(tmp_path, "t", host="127.0.0.1", tls=False))  # loopback: allowed
