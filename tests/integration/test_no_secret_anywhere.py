"""Known secrets planted in the environment reach no output, log, data file or generated file of any command,
nor of the desktop app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
IN_KEYRING = {
    "localbus-token": "keyring-localbus-token-f0e1d2",
    "databricks-token:https://adb-1.2.azuredatabricks.net": "dapi-keyring-token-c3b4a5",
    "zerobus-client-secret:ci-bot": "keyring-zerobus-secret-968778",
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
    # and the desktop app, its secrets in the keyring this time: streaming for a while, then closed as a
    # desktop session closes it (SIGTERM)
    keyring_file = tmp_path / "os-keyring.json"
    keyring_file.write_text(json.dumps({f"zerostream/{k}": v for k, v in IN_KEYRING.items()}))
    app_env = {k: v for k, v in env.items() if k != "ZEROSTREAM_LOCALBUS_TOKEN"}
    app_env |= {"QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "tests.services.keyring.SweepKeyring",
                "ZEROSTREAM_TEST_KEYRING": str(keyring_file), "PYTHONPATH": str(Path(__file__).parents[2])}  # fmt: skip
    app = subprocess.Popen([sys.executable, "-m", "zerostream_desktop", "gui", "--start"], env=app_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 90
    table = tmp_path / "data" / "tables"
    before = set(table.rglob("*.parquet"))  # the commands above streamed too: wait for the app's own rows
    while time.monotonic() < deadline and not set(table.rglob("*.parquet")) - before and app.poll() is None:
        time.sleep(0.5)
    time.sleep(3)
    app.send_signal(signal.SIGTERM)
    app_out, _ = app.communicate(timeout=60)
    assert app.returncode == 0, app_out[-1500:]
    assert set(table.rglob("*.parquet")) - before, "the app streamed nothing"
    assert json.loads(keyring_file.read_text()) == {f"zerostream/{k}": v for k, v in IN_KEYRING.items()}  # used
    outputs.append((["gui", "--start"], app_out))
    assert list((home / ".config").rglob("*.conf")) or list((home / ".config").rglob("*.ini")), "no app settings"
    secrets = {**PLANTED, **IN_KEYRING}
    for args, text in outputs:
        for name, secret in secrets.items():
            assert secret not in text, f"{name} in the output of {args}"
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != keyring_file]
    assert any(p.name == "stream.log" for p in files) and any(p.suffix == ".sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        for name, secret in secrets.items():
            assert secret.encode() not in data, f"{name} in {path}"
