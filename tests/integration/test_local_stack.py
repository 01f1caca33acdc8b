"""The app and the streaming command start localbus for their data folder, and stop what they started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zerostream_desktop.localbus.state import read_state
from zerostream_desktop.localbus.supervisor import LocalStackError, start_local_stack

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError


def test_start_reuse_and_stop(tmp_path: Path):
    stack = start_local_stack(tmp_path, "tok", extra_args=("--insecure-loopback",))
    try:
        assert stack.owned and stack.running()
        assert stack.endpoint.startswith("http://127.0.0.1:")
        again = start_local_stack(tmp_path, "tok")
        assert not again.owned and again.endpoint == stack.endpoint
        again.stop()  # not ours: nothing happens
        assert stack.running()
    finally:
        stack.stop()
    assert not stack.running() and read_state(tmp_path) is None
    assert "localbus stopped" in stack.log_file.read_text()


def test_a_server_that_cannot_start_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LocalStackError, match="plaintext is only allowed on loopback"):
        start_local_stack(tmp_path, "tok", extra_args=("--insecure-loopback", "--host", "0.0.0.0"))


def test_the_app_starts_localbus_and_stops_it_on_sigterm(tmp_path: Path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ZEROSTREAM_LOCALBUS_TOKEN": "tok"}
    app = subprocess.Popen([sys.executable, "-m", "zerostream_desktop", "--data-dir", str(tmp_path)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for(lambda: read_state(tmp_path) is not None or app.poll() is not None, 60)
        state = read_state(tmp_path)
        assert state is not None, app.stdout.read() if app.stdout else ""
        assert state["endpoint"].startswith("https://localhost:")
        assert (tmp_path / "tables" / "zerostream" / "sensors" / "sensor_stream" / "_delta_log").is_dir()
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 0
        assert read_state(tmp_path) is None  # localbus drained and stopped with the app
        with pytest.raises(ProcessLookupError):
            os.kill(int(state["pid"]), 0)
    finally:
        if app.poll() is None:
            app.kill()


def test_the_app_streams_the_fleet_into_its_local_table(tmp_path: Path):
    """`zerostream gui --start`: simulate, stream through the spool into localbus, land in Delta."""
    import datetime as dt

    from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
    from zerostream_desktop.core.analytics.model import Window
    from zerostream_desktop.localbus.tables import TableCatalog

    table = "zerostream.sensors.sensor_stream"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ZEROSTREAM_LOCALBUS_TOKEN": "tok",
           "SIM_DEVICES": "20", "STREAM_INTERVAL_MS": "200"}  # fmt: skip
    app = subprocess.Popen([sys.executable, "-m", "zerostream_desktop", "--data-dir", str(tmp_path), "gui", "--start"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    catalog = TableCatalog(tmp_path)

    def landed() -> int:
        return catalog.describe(table).rows if catalog.exists(table) else 0

    try:
        wait_for(lambda: landed() >= 200 or app.poll() is not None, 90)
        assert landed() >= 200, app.stdout.read() if app.stdout else ""
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 0
        rows = catalog.open(table).to_pyarrow_table(columns=["event_id", "connection_id"])
        assert len(set(rows["connection_id"].to_pylist())) == 20
        assert (tmp_path / "spool" / f"local-{table}@app.sqlite").exists()  # the app's own spool
        # what the Dashboard tab reads agrees with the table
        kpis = LocalDeltaAnalytics(catalog.path(table)).kpis(Window(dt.datetime.now(dt.UTC), 600, 600))
        assert kpis.total_events == len(set(rows["event_id"].to_pylist())) >= 200
        assert kpis.unique_clients == kpis.active_clients == 20
    finally:
        if app.poll() is None:
            app.kill()
