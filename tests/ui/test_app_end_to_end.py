"""The whole app in-process on a temporary data folder: stream, watch the dashboard and the map, lose localbus.

The app's own coroutine (`ui.app.run_window`) runs on a qasync loop over pytest-qt's event loop, as
FIELD_NOTES prescribes for WebEngine; localbus is the real server process.
"""

from __future__ import annotations

import logging

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from zerostream_desktop.core.paths import local_table_path
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.app import AppRun, build_window, run_window

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

DEVICES = 20


@pytest.fixture
def app(qapp, qtbot, tmp_path, monkeypatch, qasync_loop):
    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_TOKEN", "e2e-token")
    env = {"ZEROSTREAM_DATA_DIR": str(tmp_path), "SIM_DEVICES": "3", "SIM_SEED": "11", "STREAM_INTERVAL_MS": "250"}
    settings = load_settings(environ=env, search_dirs=[])
    handlers = list(logging.getLogger().handlers)
    window = build_window(settings)
    loop = qasync_loop
    running = AppRun(restart_delay_s=8.0)  # long enough for the outage to show
    task = loop.create_task(run_window(window, settings, False, running))
    qtbot.waitUntil(lambda: running.stack is not None and window.stack_label.text().startswith("Local stack: https"),
                    timeout=30_000)  # fmt: skip
    yield window, running, task, settings
    if not task.done():
        window.close()
        qtbot.waitUntil(task.done, timeout=60_000)
    for h in logging.getLogger().handlers:
        if h not in handlers:
            logging.getLogger().removeHandler(h)
    window.deleteLater()
    qtbot.wait(200)


def tile(window, key: str) -> str:
    return window.dashboard.tiles.tiles[key].value.text()


def count(text: str) -> int:
    return int(text.replace(",", "")) if text.replace(",", "").isdigit() else 0


def test_stream_watch_lose_localbus_and_see_a_track(app, qtbot):
    window, running, task, settings = app
    sim, dash = window.simulator, window.dashboard
    sim.count_spin.setValue(DEVICES)
    sim.apply_button.click()
    sim.start()

    # the dashboard fills in from the local table
    qtbot.waitUntil(lambda: count(tile(window, "total_events")) > 0 and tile(window, "unique_clients") == str(DEVICES),
                    timeout=60_000)  # fmt: skip
    qtbot.waitUntil(lambda: dash.clients.rowCount() == DEVICES, timeout=10_000)
    assert dash.map is not None
    qtbot.waitUntil(lambda: dash.map.is_ready and dash.map.basemap == "offline", timeout=20_000)  # no network here

    # localbus dies while streaming: reconnecting, the spool grows; it is restarted and the spool drains
    first = running.stack
    first.process.kill()
    qtbot.waitUntil(lambda: "reconnecting" in window.stream_label.text(), timeout=20_000)
    assert "restarting" in window.stack_label.toolTip()
    snap = window.last_stream
    qtbot.waitUntil(lambda: window.last_stream.spool_depth > snap.spool_depth, timeout=10_000)
    qtbot.waitUntil(lambda: running.stack is not first and running.stack.running(), timeout=30_000)
    qtbot.waitUntil(lambda: window.last_stream.state == "streaming", timeout=60_000)

    # stop: the backlog drains, then the counters stand still
    sim.stop()
    qtbot.wait(1000)  # a batch generated just before Stop may still be on its way to the spool
    qtbot.waitUntil(lambda: window.last_stream.spool_depth == 0, timeout=60_000)
    done = window.last_stream
    assert done.acked >= done.generated > 0
    qtbot.wait(1500)
    assert window.last_stream.acked == done.acked
    qtbot.waitUntil(lambda: count(tile(window, "total_events")) == done.generated, timeout=15_000)

    # selecting a client draws its track on the map, every point of it, with start and end markers
    table = DeltaTable(str(local_table_path(settings.data_dir, settings.full_table_name)))
    rows = table.to_pyarrow_table(columns=["connection_id", "event_id"])
    dash.table.selectRow(3)
    cid = dash.selected_client
    assert cid is not None
    want = len(set(rows.filter(pc.equal(rows["connection_id"], cid))["event_id"].to_pylist()))
    qtbot.waitUntil(lambda: (dash.map.last_track or {}).get("id") == cid, timeout=15_000)
    drawn = dash.map.last_track
    assert drawn["points"] == drawn["total"] == want > 0
    assert drawn["start"] is not None and drawn["end"] is not None
    assert f"{want:,} points" in dash.track_label.text()

    # a device clicked on the map selects its row
    other = (
        dash.clients.client(0).connection_id
        if dash.clients.client(0).connection_id != cid
        else dash.clients.client(1).connection_id
    )
    dash.map.bridge.deviceClicked(other)
    qtbot.waitUntil(lambda: (dash.map.last_track or {}).get("id") == other, timeout=15_000)
    assert dash.selected_client == other

    # closing the window stops streaming and localbus, and the app's coroutine ends cleanly
    stack = running.stack
    window.close()
    qtbot.waitUntil(task.done, timeout=60_000)
    assert task.exception() is None
    assert not stack.running()
