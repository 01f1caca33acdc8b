"""The first window: simulator pane and main window, offscreen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt

from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.main_window import MainWindow
from zerostream_desktop.ui.simulator.device_table_model import COL_NAME, COL_SPEED, SORT_ROLE, DeviceTableModel
from zerostream_desktop.ui.simulator.pane import SimulatorPane

pytestmark = pytest.mark.ui


@pytest.fixture
def pane(qtbot):
    p = SimulatorPane(Fleet(3, 5, interval_ms=100))
    qtbot.addWidget(p)
    return p


def test_apply_grows_the_fleet_and_keeps_existing_devices(pane):
    first = list(pane.fleet.identities.connection_ids)
    pane.count_spin.setValue(12)
    assert pane.count_slider.value() == 12
    pane.apply_button.click()
    assert pane.model.rowCount() == 12
    assert pane.fleet.identities.connection_ids[:5] == first
    pane.count_slider.setValue(2)
    pane.apply_button.click()
    assert pane.model.rowCount() == 2
    assert pane.fleet.identities.connection_ids == first[:2]


def test_start_generates_events_and_updates_the_table(pane, qtbot):
    with qtbot.waitSignal(pane.events_generated, timeout=3000) as blocker:
        pane.start_button.click()
    batch = blocker.args[0]
    assert len(batch) > 0 and set(batch.connection_ids()) <= set(pane.fleet.identities.connection_ids)
    assert pane.running and pane.start_button.text() == "&Stop"
    qtbot.waitUntil(
        lambda: "events generated" in pane.summary.text() and not pane.summary.text().endswith(" 0 events generated"),
        timeout=3000,
    )
    pane.start_button.click()
    assert not pane.running and "stopped" in pane.summary.text()


def test_model_sorts_by_number_not_text():
    model = DeviceTableModel()
    fleet = Fleet(1, 3)
    snap = fleet.snapshot()
    snap["speed_kmh"][:] = [9.0, 100.0, 20.0]
    model.set_rows(fleet.identities.names, snap)
    assert model.rowCount() == 3
    speeds = [model.index(r, COL_SPEED).data(SORT_ROLE) for r in range(3)]
    assert sorted(speeds) == [9.0, 20.0, 100.0]
    assert model.index(1, COL_SPEED).data() == "100.0"
    assert model.index(0, COL_NAME).data() == fleet.identities.names[0]
    assert model.index(0, COL_SPEED).data(Qt.ItemDataRole.TextAlignmentRole)


def test_main_window_remembers_its_geometry_and_tab(qtbot):
    settings = load_settings(environ={}, search_dirs=[])
    win = MainWindow(settings, SimulatorPane(Fleet(1, 2)))
    qtbot.addWidget(win)
    win.setGeometry(QRect(20, 20, 740, 560))  # fits the 800x600 offscreen screen
    win.show()
    win.close()
    again = MainWindow(settings, SimulatorPane(Fleet(1, 2)))
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (740, 560)
    assert "zerostream.sensors.sensor_stream" in again.endpoint_label.text()


def test_quit_shortcut_is_standard(qtbot):
    win = MainWindow(load_settings(environ={}, search_dirs=[]), SimulatorPane(Fleet(1, 1)))
    qtbot.addWidget(win)
    file_actions = {a.text(): a for a in win.menuBar().actions()[0].menu().actions()}
    assert file_actions["&Quit"].shortcut().toString() == "Ctrl+Q"
    assert file_actions["&Settings…"].shortcut().toString() == "Ctrl+,"


def test_a_full_spool_holds_the_fleet_back(pane, qtbot):
    pane.can_generate = lambda n: False
    pane.start()
    qtbot.wait(400)
    pane._refresh_view()
    assert "waiting for the spool" in pane.summary.text()
    assert pane.summary.text().endswith(" 0 events generated")
    pane.stop()


def test_local_stack_dialog_shows_the_endpoint_and_hides_the_token_until_asked(qtbot, tmp_path):
    from PySide6.QtWidgets import QLineEdit

    win = MainWindow(load_settings(environ={}, search_dirs=[]), SimulatorPane(Fleet(1, 1)))
    qtbot.addWidget(win)
    assert not win.stack_action.isEnabled()
    win.show_local_stack("https://localhost:4443", ca_cert=tmp_path / "ca.pem", token="s3cret-token")
    assert win.stack_action.isEnabled() and "https://localhost:4443" in win.stack_label.text()
    dialog = win.open_local_stack_dialog()
    qtbot.addWidget(dialog)
    assert dialog.token_field.echoMode() == QLineEdit.EchoMode.Password
    dialog.show_button.click()
    assert dialog.token_field.echoMode() == QLineEdit.EchoMode.Normal and dialog.token_field.text() == "s3cret-token"
    dialog.close()


def test_a_failed_local_stack_says_why(qtbot):
    win = MainWindow(load_settings(environ={}, search_dirs=[]), SimulatorPane(Fleet(1, 1)))
    qtbot.addWidget(win)
    win.show_local_stack(None, "localbus exited with code 3:\na localbus server is already running")
    assert win.stack_label.text() == "Local stack: not running"
    assert "already running" in win.stack_label.toolTip()
    assert not win.stack_action.isEnabled()


def test_selecting_a_device_shows_its_live_values(pane, qtbot):
    pane.start()
    qtbot.waitUntil(lambda: not __import__("numpy").isnan(pane.fleet.state.rssi).any(), timeout=3000)
    pane.select_device(2)
    name = pane.fleet.identities.names[2]
    assert pane.detail.title() == name
    qtbot.waitUntil(lambda: "dBm" in pane.detail.values["signal"].text(), timeout=3000)
    position = pane.detail.values["position"].text()
    row = pane.proxy.mapFromSource(pane.model.index(2, 0)).row()
    table_lat = pane.proxy.index(row, 5).data()
    assert position.startswith(table_lat)  # the panel and the table show the same moment
    assert pane.detail.values["accel_mag"].text().endswith("m/s²")
    qtbot.waitUntil(lambda: pane.detail.values["position"].text() != position, timeout=5000)  # it moves, live
    shown = float(pane.detail.values["heading"].text().split("°")[0])
    assert pane.detail.compass.heading == pytest.approx(shown, abs=0.5)  # the needle agrees with the number
    pane.count_spin.setValue(2)
    pane.apply_button.click()  # the selected device is gone
    assert pane.detail.title() == "No device selected"
    pane.stop()


def test_rate_chart_plots_sent_and_acknowledged_per_second():
    from zerostream_desktop.ui.simulator.rate_chart import RateChart

    chart = RateChart()
    chart.add(0, 0, now=100.0)
    chart.add(1000, 500, now=101.0)
    chart.add(3000, 2500, now=102.0)
    assert chart.rates() == (1500.0, 1250.0)  # over the last two seconds
    chart.add(5000, 4500, now=103.0)
    assert chart.rates() == (2000.0, 2000.0)  # the window slides
    xs, ys = chart.acked_curve.getData()
    assert list(xs) == [-2.0, -1.0, 0.0] and list(ys) == [500.0, 1250.0, 2000.0]
    chart.add(5000, 4500, now=400.0)  # old points leave the plotted window
    assert len(chart.sent_curve.getData()[0]) == 1
    chart.deleteLater()


def test_log_dock_shows_log_records_escaped_and_toggles_with_ctrl_l(qtbot):
    import logging

    from zerostream_desktop.ui.log_view import QtLogHandler

    handler = QtLogHandler()
    logger = logging.getLogger("zerostream_desktop.test_log_view")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        win = MainWindow(load_settings(environ={}, search_dirs=[]), SimulatorPane(Fleet(1, 1)), log_handler=handler)
        qtbot.addWidget(win)
        win.show()
        assert win.log_dock.isHidden()
        toggle = win.log_dock.toggleViewAction()
        assert toggle.shortcut().toString() == "Ctrl+L"
        toggle.trigger()
        assert win.log_dock.isVisible()
        logger.warning("streaming paused: <table> not found")
        view = win.log_dock.widget()
        qtbot.waitUntil(lambda: "not found" in view.toPlainText(), timeout=2000)
        assert "<table> not found" in view.toPlainText()  # shown as text, not markup
    finally:
        logger.removeHandler(handler)


def test_splitter_layout_is_remembered(qtbot):
    from PySide6.QtCore import QSettings

    pane = SimulatorPane(Fleet(1, 1))
    qtbot.addWidget(pane)
    pane.resize(900, 600)
    pane.show()
    columns = pane._splitters["simulator/columns"]
    columns.setSizes([300, 500])
    pane.save_layout(QSettings())
    again = SimulatorPane(Fleet(1, 1))
    qtbot.addWidget(again)
    again.resize(900, 600)
    again.show()
    again.restore_layout(QSettings())
    assert again._splitters["simulator/columns"].sizes() == columns.sizes()


def test_interval_changes_how_often_devices_send(pane):
    pane.interval_spin.setValue(2500)
    assert pane.fleet.default_interval_s == 2.5
    assert set(pane.fleet.state.interval_s.tolist()) == {2.5}


def test_importing_a_trace_replays_it_on_the_selected_device(pane, qtbot):
    from pathlib import Path

    gpx = Path(__file__).parent.parent / "data" / "amsterdam_walk.gpx"
    pane.select_device(1)
    pane.time_scale_spin.setValue(10.0)
    assert pane.import_trace(str(gpx)) is None
    state = pane.fleet.state
    assert state.trace_id[1] >= 0 and state.trace_scale[1] == 10.0
    assert (state.trace_id[[0, 2, 3, 4]] == -1).all()  # only the selected one
    assert abs(state.lat[1] - 52.373) < 0.001


def test_a_bad_track_is_reported_and_changes_nothing(pane, tmp_path):
    bad = tmp_path / "broken.gpx"
    bad.write_text("<gpx><trk>")
    before = pane.fleet.state.trace_id.copy()
    error = pane.import_trace(str(bad))
    assert error and "broken.gpx" in error and "not a valid GPX" in error
    assert (pane.fleet.state.trace_id == before).all()


def test_new_fleet_from_region_seed_and_mode_mix(pane, qtbot):
    from zerostream_desktop.core.fleet import Mode

    pane.count_spin.setValue(40)
    pane.region_combo.setCurrentText("London")
    pane.seed_spin.setValue(1234)
    for name, share in (("walking", 0), ("cycling", 0), ("driving", 100)):
        pane.mode_spins[name].setValue(share)
    with qtbot.waitSignal(pane.fleet_replaced):
        pane.new_fleet_button.click()
    fleet = pane.fleet
    assert (len(fleet), fleet.seed) == (40, 1234) and pane.model.rowCount() == 40
    snap = fleet.snapshot()
    assert (snap["mode"] == int(Mode.DRIVING)).all()
    assert abs(snap["latitude"] - 51.5074).max() < 0.2 and abs(snap["longitude"] + 0.1278).max() < 0.3
    names = list(fleet.identities.names[:40])
    pane.new_fleet()  # the same seed: the same devices
    assert list(pane.fleet.identities.names[:40]) == names


def test_a_bad_region_or_mode_mix_is_reported_and_keeps_the_fleet(pane):
    before = pane.fleet
    pane.region_combo.setCurrentText("Atlantis")
    assert "unknown city 'atlantis'" in pane.new_fleet()
    pane.region_combo.setCurrentText("world")
    for spin in pane.mode_spins.values():
        spin.setValue(0)
    assert "not all zero" in pane.new_fleet()
    assert pane.fleet is before


def test_device_faults_from_the_pane_are_injected_and_logged(pane, qtbot, tmp_path):
    import json

    pane.fault_log_dir = tmp_path / "faults"
    pane.count_spin.setValue(50)
    pane.apply_count()
    generated: list = []
    pane.events_generated.connect(generated.append)
    pane.faults_combo.setCurrentText("dup=0.2,jump=0.05")
    pane.faults_combo.lineEdit().editingFinished.emit()  # as when the user presses Enter
    assert pane.fleet.faults is not None and str(pane.fleet.faults.spec) == "jump=0.05,dup=0.2"
    pane.start()
    qtbot.waitUntil(lambda: sum(len(b) for b in generated) > 300, timeout=15_000)
    pane.stop()
    ids = [e for b in generated for e in b.event_ids()]
    [log_file] = (tmp_path / "faults").glob("app-*.jsonl")
    log = [json.loads(x) for x in log_file.read_text().splitlines()]
    dups = [e for e in log if e["kind"] == "dup"]
    assert dups and len(ids) - len(set(ids)) == len(dups)
    assert "faults jump=0.05,dup=0.2:" in pane.summary.text() and "dup " in pane.summary.text()
    # a bad spec is refused with the reason, and the faults in force stay
    assert "unknown kind 'wobble'" in pane.apply_faults("wobble=1")
    assert "unknown kind 'wobble'" in pane.faults_combo.toolTip()
    assert str(pane.fleet.faults.spec) == "jump=0.05,dup=0.2"
    pane.apply_faults("clean")
    assert pane.fleet.faults is None


def test_a_load_shape_sets_the_interval_from_the_rate_and_says_the_stage(pane, qtbot):
    pane.count_spin.setValue(100)
    pane.apply_count()
    pane.interval_spin.setValue(2_000)
    pane.load_combo.setCurrentText("steps:200,500/2s")
    pane.load_combo.lineEdit().editingFinished.emit()  # as when the user presses Enter
    pane.start()
    qtbot.waitUntil(lambda: pane.interval_spin.value() == 500, timeout=3_000)  # 100 devices, 200/s
    qtbot.waitUntil(lambda: "load steps:200,500/2s: step 1 (200/s), asking 200/s" in pane.summary.text(), timeout=3_000)
    qtbot.waitUntil(lambda: pane.interval_spin.value() == 200, timeout=5_000)  # then 500/s
    qtbot.waitUntil(lambda: "step 2 (500/s)" in pane.summary.text(), timeout=3_000)
    assert pane.fleet.default_interval_s == 0.2
    report = pane.stage_rates().splitlines()
    assert report[0].startswith("load steps:200,500/2s") and report[1].startswith("step 1 (200/s): 200, ")
    assert 100 <= float(report[1].split(", ")[1].replace(",", "")) <= 350  # generated about 200/s in step 1
    # a bad shape is refused with the reason; back to the Interval the user had set
    assert "ramp:FROM-TO/LENGTH" in pane.apply_load("ramp:1k/60s")
    assert "ramp:FROM-TO/LENGTH" in pane.load_combo.toolTip()
    pane.apply_load("by interval")
    assert pane.load is None and pane.interval_spin.value() == 2_000 and pane.fleet.default_interval_s == 2.0
    pane.stop()


def test_the_fleet_advances_off_the_ui_thread_and_stop_passes_on_its_last_batch(pane, qtbot):
    """Ten thousand devices take 7-14 ms a tick to advance here, ten ticks a second: not on the UI thread. What
    was made before Stop still reaches the stream, and nothing comes after."""
    import threading

    threads: set[str] = set()
    advance = pane.fleet.advance

    def recorded(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return advance(*args, **kwargs)

    pane.fleet.advance = recorded
    batches: list = []
    pane.events_generated.connect(batches.append)
    pane.start()
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) >= 100, timeout=10_000)
    pane.interval_spin.setValue(50)  # a change while the fleet may be advancing: it waits for that batch
    qtbot.wait(300)
    pane.stop()
    sent = sum(len(b) for b in batches)
    qtbot.wait(300)  # a batch still queued for the UI thread would arrive now
    assert sum(len(b) for b in batches) == sent == pane._generated
    assert threading.main_thread().name not in threads and all(t.startswith("fleet") for t in threads)
    ids = [e for b in batches for e in b.event_ids()]
    assert len(ids) == len(set(ids))  # no batch passed on twice


def test_the_device_table_waits_behind_the_dashboard_and_catches_up_when_shown(qtbot):
    """Behind the Dashboard tab the simulator's table is not redrawn every second (10,000 rows cost the UI
    thread up to 30 ms each time); back in front it shows the devices as they are now."""
    settings = load_settings(environ={}, search_dirs=[])
    pane = SimulatorPane(Fleet(1, 3, interval_ms=100))
    win = MainWindow(settings, pane)
    qtbot.addWidget(win)
    win.tabs.setCurrentWidget(win.dashboard)
    pane.start()
    qtbot.waitUntil(lambda: pane._generated > 30, timeout=5000)  # a few view refreshes' worth of ticks
    pane._last_view = 0.0
    pane._tick()  # a tick that refreshes the view (once its batch is made)
    pane.settle()

    def table() -> list[str]:
        return [pane.model.index(r, c).data() for r in range(3) for c in (5, 6)]

    def now() -> list[str]:
        return [f"{v:.5f}" for r in range(3) for v in (pane.fleet.state.lat[r], pane.fleet.state.lon[r])]

    assert table() != now()  # still what it showed before the tab changed
    win.tabs.setCurrentWidget(pane)
    assert table() == now()
    pane.stop()
