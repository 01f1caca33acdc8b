"""Help > Save Diagnostics: one archive with versions, the self-test, settings and logs, and no secret."""

from __future__ import annotations

import json
import zipfile

import pytest

from zerostream_desktop.core.settings import resolve_settings
from zerostream_desktop.diagnostics import redact, write_diagnostics
from zerostream_desktop.ui.main_window import MainWindow
from zerostream_desktop.ui.simulator.pane import SimulatorPane

pytestmark = pytest.mark.ui
TOKEN = "local-endpoint-token-123456"


def test_secrets_in_log_lines_are_blanked():
    line = ('Authorization: Bearer eyJhbGciOi.x.y dapi0123456789abcdef0123 {"client_secret": "s3cr3t"} '
            f"GET /dashboard/?token=abc123&x=1 {TOKEN}")  # fmt: skip
    out = redact(line, (TOKEN,))
    for secret in ("eyJhbGciOi", "dapi0123456789abcdef0123", "s3cr3t", "abc123", TOKEN):
        assert secret not in out
    assert "x=1" in out and out.count("**REDACTED**") >= 5


def test_the_archive_holds_versions_self_test_settings_and_redacted_logs(tmp_path):
    settings, sources = resolve_settings({"data_dir": tmp_path / "data"}, environ={"CATALOG": "from_env"},
                                         search_dirs=[])  # fmt: skip
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "zerostream.log").write_text(f"started localbus with token {TOKEN}\nall fine\n")
    path = write_diagnostics(tmp_path / "d.zip", settings, sources, self_test="ok", known_secrets=(TOKEN,))
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"versions.json", "settings.json", "self-test.txt", "logs/zerostream.log"} <= names
        versions = json.loads(z.read("versions.json"))
        assert versions["zerostream"] and versions["deltalake"] != "not installed"
        saved = json.loads(z.read("settings.json"))
        assert saved["CATALOG"] == {"value": "from_env", "source": "environment"}
        log = z.read("logs/zerostream.log").decode()
        assert TOKEN not in log and "all fine" in log


def test_help_menu_saves_the_archive_off_the_ui_thread(qtbot, tmp_path, monkeypatch):
    import zerostream_desktop.diagnostics as diagnostics

    monkeypatch.setattr(diagnostics, "self_test_report", lambda timeout=120.0: "ok    (stubbed: its own test runs it)")
    settings, _ = resolve_settings({"data_dir": tmp_path}, environ={}, search_dirs=[])
    from zerostream_desktop.core.configured_fleet import fleet_from_settings

    window = MainWindow(settings, SimulatorPane(fleet_from_settings(settings, min_devices=1)))
    qtbot.addWidget(window)
    target = tmp_path / "diag.zip"
    window.save_diagnostics(str(target))
    qtbot.waitUntil(lambda: "Diagnostics saved" in window.statusBar().currentMessage(), timeout=20_000)
    assert zipfile.ZipFile(target).read("self-test.txt").startswith(b"ok")
