"""Known secrets planted in the environment reach no output, log, data file or generated file of any command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PLANTED = {
    "ZEROSTREAM_LOCALBUS_TOKEN": "planted-localbus-token-a1b2c3d4",
    "DATABRICKS_TOKEN": "dapi-planted-token-e5f6a7b8c9",
    "DATABRICKS_CLIENT_SECRET": "planted-client-secret-0d1e2f",
    "ZEROBUS_CLIENT_SECRET": "planted-zerobus-secret-3a4b5c",
    "ZEROSTREAM_WEBAPPS_TOKEN": "planted-webapps-token-6d7e8f",
    "ZEROSTREAM_LOCALBUS_CLIENT_SECRET": "planted-principal-secret-9a0b",
}
COMMANDS = [
    ["settings"], ["settings", "--json"], ["simulate", "--devices", "3", "--duration", "1"],
    ["stream", "--devices", "10", "--duration", "2"], ["stream", "--devices", "5", "--duration", "1", "--json"],
    ["localbus", "tables", "--columns"], ["spool", "status"], ["spool", "export"],
    ["webapps", "build", "--out", "{tmp}/apps"], ["localbus", "principal", "list"], ["--version"],
]  # fmt: skip


def test_every_command_keeps_the_secrets_to_itself(tmp_path: Path):
    home = tmp_path / "home"  # the tests' isolated home (conftest)
    env = {**os.environ, **PLANTED, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "ZEROSTREAM_DATA_DIR": str(tmp_path / "data"), "ZEROSTREAM_LOCALBUS_CLIENT_ID": "ci-bot",
           "DATABRICKS_HOST": "https://adb-1.2.azuredatabricks.net", "RUST_LOG": "info"}  # fmt: skip
    outputs = []
    for argv in COMMANDS:
        args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
        run = subprocess.run([sys.executable, "-m", "zerostream_desktop", *args], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, (args, run.stderr[-1500:])
        outputs.append((args, run.stdout + run.stderr))
    for args, text in outputs:
        for name, secret in PLANTED.items():
            assert secret not in text, f"{name} in the output of {args}"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "stream.log" for p in files) and any(p.suffix == ".sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        for name, secret in PLANTED.items():
            assert secret.encode() not in data, f"{name} in {path}"
