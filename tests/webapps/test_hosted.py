"""A web app as Databricks Apps runs it: configured by the environment, on DATABRICKS_APP_PORT, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.integration.localbus_helpers import free_port
from tests.webapps.conftest import wait_for
from zerostream_desktop.webapps.hosted import hosted_settings

pytestmark = pytest.mark.integration


def test_hosted_settings_stream_as_the_apps_own_principal():
    env = {"DATABRICKS_HOST": "https://adb-1.azuredatabricks.net", "DATABRICKS_CLIENT_ID": "app-sp-id",
           "ZEROSTREAM_ENDPOINT": "databricks", "DATABRICKS_WAREHOUSE_ID": "wh1"}  # fmt: skip
    s = hosted_settings(env)
    assert (s.zerobus_client_id, s.warehouse_id, s.endpoint) == ("app-sp-id", "wh1", "databricks")
    assert hosted_settings({**env, "ZEROBUS_CLIENT_ID": "other"}).zerobus_client_id == "other"


def request(port: int, path: str, method: str = "GET", user: str | None = None) -> tuple[int, str]:
    headers = {"X-Forwarded-Email": user} if user else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 (loopback)
        return r.status, r.read().decode()


def test_the_hosted_simulator_names_its_users_and_drains_within_the_platforms_15_s(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABRICKS_APP_PORT": str(port), "ZEROSTREAM_DATA_DIR": str(tmp_path),
           "ZEROSTREAM_ENDPOINT": "local", "ZEROSTREAM_LOCALBUS_TOKEN": "hosted-bus", "SIM_DEVICES": "50",
           "STREAM_INTERVAL_MS": "100", "RUST_LOG": "error"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "zerostream_desktop.webapps.hosted", "mobile"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for(lambda: _up(port), 60)
        status, page = request(port, "/", user="ann@example.com")
        assert status == 200 and "Signed in as <b>ann@example.com</b>" in page  # no token: the platform signs in
        _, body = request(port, "/api/start", "POST", user="bob@example.com")
        assert json.loads(body)["last_action"]["by"] == "bob@example.com"
        wait_for(lambda: json.loads(request(port, "/api/state")[1])["acknowledged"] > 200, 60)
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert time.monotonic() - asked < 15 and proc.returncode == 0, out[-2000:]
        assert f"on 0.0.0.0:{port}" in out
        assert "spool drained at shutdown" in out or "records left in the spool at shutdown" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def _up(port: int) -> bool:
    try:
        return request(port, "/api/state")[0] == 200
    except OSError:
        return False
