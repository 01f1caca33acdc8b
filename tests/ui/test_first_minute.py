"""What a newcomer sees in the first minute: the connection and the fleet as two things, one snapshot of
counts, an empty device view, a hint where the dashboard's data will appear, one-line client rows."""

from __future__ import annotations

import datetime as dt

import pytest

from zerostream_desktop.core.analytics.model import Client, ClientStatus, Kpis
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.dashboard.pane import EMPTY_HINT, DashboardPane
from zerostream_desktop.ui.main_window import MainWindow
from zerostream_desktop.ui.simulator.pane import SimulatorPane
from zerostream_desktop.ui.streaming import StreamSnapshot

pytestmark = pytest.mark.ui


def snapshot(state: str = "streaming", generated: int = 0, acked: int = 0) -> StreamSnapshot:
    return StreamSnapshot(state, generated, acked, acked, 0, 0, 0, 0.0, "")


@pytest.fixture
def window(qtbot, tmp_path):
    settings = load_settings({"data_dir": tmp_path}, environ={}, search_dirs=[])
    w = MainWindow(settings, SimulatorPane(Fleet(3, 5, interval_ms=100)), dashboard=DashboardPane("t", with_map=False))
    qtbot.addWidget(w)
    return w


def test_before_start_the_status_bar_says_connected_and_idle_then_sending(window):
    window.show_stream(snapshot())
    assert window.stream_label.text().startswith("localbus connected · idle · acked 0")
    window.simulator.start()
    window.show_stream(snapshot(generated=30, acked=28))
    assert window.stream_label.text().startswith("localbus connected · sending · acked 28")
    window.simulator.stop()
    window.show_stream(snapshot("reconnecting", 30, 28))
    assert window.stream_label.text().startswith("localbus reconnecting…")


def test_the_pane_and_the_status_bar_show_counts_from_one_snapshot(window):
    window.simulator.start()
    window.show_stream(snapshot(generated=28, acked=30))  # acked can pass what the pane counted, never this one
    assert "28 events generated, 30 acknowledged" in window.simulator.summary.text()
    assert "acked 30" in window.stream_label.text()


def test_with_no_device_selected_the_detail_view_is_empty_not_zero(window):
    detail = window.simulator.detail
    detail.clear_device()
    assert detail.battery.text() == "" and detail.title() == "No device selected"


def test_the_empty_dashboard_says_what_to_do_until_data_arrives(window):
    dash = window.dashboard
    now = dt.datetime.now(dt.UTC)
    dash.show_kpis(Kpis(), None, now)
    assert not dash.empty_hint.isHidden() and "Press Start (Ctrl+R)" in EMPTY_HINT
    dash.show_kpis(Kpis(total_events=3, unique_clients=1), None, now)
    assert dash.empty_hint.isHidden()


def test_long_device_names_stay_on_one_line(window, qtbot):
    dash = window.dashboard
    now = dt.datetime.now(dt.UTC)
    long = "A very long device name that would wrap onto two lines in a narrow column " * 2
    dash.show_clients([Client(f"c{i}", long if i == 0 else "short", 1, 1, now, now, 1.0, 2.0, 50, -80, 3.0,
                              ClientStatus.ACTIVE) for i in range(3)])  # fmt: skip
    dash.table.setColumnWidth(1, 120)
    assert not dash.table.wordWrap()
    heights = {dash.table.rowHeight(r) for r in range(3)}
    assert len(heights) == 1  # rows stay even


def test_help_lists_the_shortcuts_and_about_names_the_sdks(window):
    shortcuts = window.shortcuts_text()
    for line in ("Ctrl+R", "Simulation > Start / Stop", "Ctrl+L", "Ctrl+Shift+W", "Tools > Open Web Dashboard", "F1"):
        assert line in shortcuts
    about = window.about_text()
    assert "databricks-zerobus-ingest-sdk 1." in about and "deltalake" in about and "Python 3." in about


def test_help_opens_the_guides_sections_in_the_app(window, qtbot):
    from zerostream_desktop.ui.readme_view import SECTIONS

    for text, heading in SECTIONS:
        assert window.guide_actions[heading].text() == f"{text}…"
        dialog = window.open_guide(heading)
        qtbot.addWidget(dialog)
        shown = dialog.browser.toPlainText()
        assert shown.startswith(heading), shown[:80]  # that section, from its heading on
        assert len(shown) > 400 and "not part of this installation" not in shown
        dialog.close()
    assert "zerostream localbus create-table" in window.open_guide("The local stack").browser.toPlainText()


def test_clear_local_data_asks_then_clears_at_the_restart(window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from zerostream_desktop.core.ingest.spool import Spool
    from zerostream_desktop.core.local_data import MARKER, clear_now, clear_requested
    from zerostream_desktop.localbus.tables import TableCatalog

    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table("zerostream.sensors.sensor_stream")
    Spool(tmp_path / "spool" / "x@app.sqlite").close()
    (tmp_path / "logs").mkdir()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    assert not window.clear_local_data() and not clear_requested(tmp_path)
    assert "Delete the local tables (1, 0 rows) and the spool (1 file(s)" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert window.clear_local_data() and window.restart_requested and (tmp_path / MARKER).exists()
    assert catalog.names()  # nothing deleted while the app runs
    clear_now(tmp_path)  # what the next start does first
    assert not (tmp_path / "tables").exists() and not (tmp_path / "spool").exists()
    assert (tmp_path / "logs").exists() and not clear_requested(tmp_path)


def test_the_spool_dialog_lists_reasons_and_retries_off_the_ui_thread(window, qtbot, tmp_path):
    import json

    from zerostream_desktop.core.ingest.spool import Spool

    spool = Spool(tmp_path / "spool" / "local-zerostream.sensors.sensor_stream@app.sqlite")
    spool.append(["e1", "e2", "e3"], ["d", "d", "d"], [b"a", b"b", b"c"])
    spool.dead_letter(1, "INVALID_ARGUMENT: column temp is INT but the record has a string")
    spool.close()
    dialog = window.open_spool_dialog()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.table.rowCount() == 1, timeout=10_000)
    assert dialog.table.item(0, 1).text() == "2" and dialog.table.item(0, 3).text() == "1"
    assert "column temp is INT" in dialog.reasons.toPlainText()
    out = tmp_path / "letters.jsonl"
    dialog.export_dead_letters(str(out))
    qtbot.waitUntil(lambda: not dialog.busy and "written" in dialog.status.text(), timeout=10_000)
    assert json.loads(out.read_text())["event_id"] == "e1"
    dialog.retry()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.table.item(0, 3).text() == "0", timeout=10_000)
    assert dialog.table.item(0, 1).text() == "3"
