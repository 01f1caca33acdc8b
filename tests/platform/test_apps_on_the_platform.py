"""The generated apps run the way Databricks Apps runs them: Python 3.11, only their requirements.txt.

A fresh virtual environment is made with Python 3.11 and the generated requirements.txt installed
from wheels only. The workspace emulator then runs each deployed app in it with the platform's
environment (DATABRICKS_APP_PORT substituted in app.yaml's command, DATABRICKS_HOST, the app
principal's client id and secret, the warehouse id through valueFrom), localbus stands in for
ZeroBus, and the emulator's warehouse reads the table localbus writes. The pages and API must
answer, the mobile app must stream (as its own principal) and the dashboard must see its events
through the SQL connector, and `zerostream verify` must pass.

Not part of `make test` (building the environment takes minutes): `.ci/run` runs it after, with
ZEROSTREAM_PLATFORM_TEST=1 (`make platform-test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.emulators.workspace import serve_workspace
from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port
from tests.wizard.test_setup_engine import setup
from zerostream_desktop.cli import main
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.webapps.build import LOCK

PYTHON311 = os.environ.get("PYTHON311") or shutil.which("python3.11") or "/usr/bin/python3.11"


@pytest.fixture(scope="session")
def app_python(tmp_path_factory) -> str:
    """A Python 3.11 environment with exactly the generated requirements.txt, from wheels only."""
    venv = tmp_path_factory.mktemp("appenv") / "venv"
    subprocess.run([PYTHON311, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    started = time.monotonic()
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:",
                    "-r", str(LOCK)], check=True)  # fmt: skip
    print(f"app environment: {time.monotonic() - started:.0f} s to install {LOCK.name}")  # noqa: T201
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 11)"
    return python


def get(url: str, method: str = "GET", user: str = "ann@example.com") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers={"X-Forwarded-Email": user})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 (loopback)
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def kpis_of(dashboard: str) -> dict | None:
    status, body = get(f"{dashboard}/api/kpis")
    if status == 503:  # the warehouse is starting, or the app's first read is not done: the app says which
        print(f"dashboard: {body[:300]}")  # noqa: T201
        return None
    assert status == 200, body
    kpis = json.loads(body)
    return kpis if kpis.get("total_events") else None


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_deployed_apps_run_stream_and_answer_on_python_311(app_python, tmp_path, monkeypatch, capsys):
    bus = LocalBusProcess(tmp_path / "bus", free_port()).start()
    try:
        with serve_workspace() as ws:
            ws.run_apps, ws.app_python, ws.zerobus_token = True, app_python, TOKEN
            for name, value in {"DATABRICKS_HOST": ws.base_url, "DATABRICKS_TOKEN": ws.token, "INFRA_PREFIX": "zs",
                                "ZEROBUS_SERVER_ENDPOINT": bus.endpoint, "SIM_DEVICES": "25",
                                "STREAM_INTERVAL_MS": "200"}.items():  # fmt: skip
                monkeypatch.setenv(name, value)
            assert setup("apply") == 0
            ws.engine.attach_delta(TABLE, TableCatalog(bus.data_dir).path(TABLE))
            assert main(["webapps", "deploy"]) == 0, capsys.readouterr()
            mobile, dashboard = ws.apps["zs-mobile-app"].url, ws.apps["zs-dashboard-app"].url
            running = [d.running for deps in ws.deployments.values() for d in deps.values() if d.running]
            assert all(r.process.poll() is None for r in running)
            assert all(Path(r.process.args[0]) == Path(app_python) for r in running)  # type: ignore[index]

            # pages and API of both apps
            status, page = get(f"{mobile}/")
            assert status == 200 and "Signed in as <b>ann@example.com</b>" in page
            status, page = get(f"{dashboard}/")
            assert status == 200 and "zerostream.sensors.sensor_stream" in page
            # the mobile app streams as its own principal, through the workspace's OAuth endpoint
            status, body = get(f"{mobile}/api/start", "POST")
            assert status == 200 and json.loads(body)["running"]
            wait_for(lambda: json.loads(get(f"{mobile}/api/state")[1])["acknowledged"] >= 100, 90, "acks")
            app_principal = ws.apps["zs-mobile-app"].service_principal_client_id
            assert any(client == app_principal for client, _ in ws.token_requests)
            landed = {r["connection_id"] for r in bus.rows("connection_id")}
            assert len(landed) == 25
            # the dashboard sees them through the SQL connector, signed in as its own principal
            kpis = wait_for(lambda: kpis_of(dashboard), 60, "the dashboard's figures")
            assert kpis["unique_clients"] == 25
            get(f"{mobile}/api/stop", "POST")

            capsys.readouterr()
            code = main(["verify", "--probe-events", "10", "--wait", "60"])
            out = capsys.readouterr().out
            assert code == 0 and "All checks passed." in out, out
    finally:
        bus.terminate()
