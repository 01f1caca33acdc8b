"""The Settings dialog: validates, saves non-secrets to a file and secrets to the keyring, tests the connection."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from tests.emulators.workspace import serve_workspace
from zerostream_desktop.core import secrets
from zerostream_desktop.core.settings import load_settings, resolve_settings
from zerostream_desktop.ui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.ui


@pytest.fixture
def dialog(qtbot, tmp_path):
    settings, sources = resolve_settings(environ={}, search_dirs=[])
    d = SettingsDialog(settings, sources, store=secrets.MemorySecretStore(), config_file=tmp_path / ".env", environ={})
    qtbot.addWidget(d)
    return d


def test_switching_to_databricks_saves_values_to_the_file_and_secrets_to_the_keyring(dialog, tmp_path):
    dialog.databricks_radio.setChecked(True)
    dialog.fields["DATABRICKS_HOST"].setText("https://adb-123.azuredatabricks.net/")
    dialog.fields["ZEROBUS_CLIENT_ID"].setText("sp-app-id")
    dialog.fields["DATABRICKS_WAREHOUSE_ID"].setText("abc123")
    dialog.token_edit.setText("dapi-secret-token")
    dialog.secret_edit.setText("sp-secret-value")
    dialog.analytics_combo.setCurrentIndex(dialog.analytics_combo.findData("warehouse"))
    dialog.save_button.click()
    assert dialog.result() == dialog.DialogCode.Accepted
    text = (tmp_path / ".env").read_text()
    assert "dapi-secret-token" not in text and "sp-secret-value" not in text
    saved = dotenv_values(tmp_path / ".env")
    assert saved["ZEROSTREAM_ENDPOINT"] == "databricks" and saved["ZEROSTREAM_ANALYTICS"] == "warehouse"
    assert saved["DATABRICKS_WAREHOUSE_ID"] == "abc123"
    again = load_settings(environ={}, search_dirs=[tmp_path])
    assert (again.endpoint, again.databricks_host, again.warehouse_id) == (
        "databricks",
        "https://adb-123.azuredatabricks.net",
        "abc123",
    )
    assert dialog.store.get(secrets.databricks_token_key("https://adb-123.azuredatabricks.net")) == "dapi-secret-token"
    assert dialog.store.get(secrets.zerobus_client_secret_key("sp-app-id")) == "sp-secret-value"


def test_the_number_of_zerobus_streams_is_saved_and_auto_by_default(dialog, tmp_path):
    assert dialog.streams_combo.currentText() == "auto"
    dialog.streams_combo.setCurrentText("4")
    dialog.save_button.click()
    assert dotenv_values(tmp_path / ".env")["ZEROBUS_STREAMS"] == "4"
    assert load_settings(environ={}, search_dirs=[tmp_path]).zerobus_streams == 4


def test_a_bad_value_is_named_and_nothing_is_saved(dialog, tmp_path):
    dialog.fields["CATALOG"].setText("bad name; drop")
    dialog.save_button.click()
    assert "CATALOG" in dialog.error_label.text() and "invalid identifier" in dialog.error_label.text()
    assert not (tmp_path / ".env").exists() and dialog.result() != dialog.DialogCode.Accepted


def test_test_connection_says_who_and_where_or_why_not(dialog, qtbot):
    with serve_workspace() as ws:
        dialog.databricks_radio.setChecked(True)
        dialog.fields["DATABRICKS_HOST"].setText(ws.base_url)
        dialog.token_edit.setText(ws.token)
        dialog.test_button.click()
        qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
        assert dialog.test_result.text() == f"✔ Signed in as analyst@example.com on {ws.base_url}"
        dialog.token_edit.setText("dapi-wrong")
        dialog.test_button.click()
        qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
        assert dialog.test_result.text().startswith("✘ ") and "Invalid access token" in dialog.test_result.text()


def test_values_the_environment_sets_are_read_only(qtbot, tmp_path):
    settings, sources = resolve_settings(environ={"CATALOG": "from_env"}, search_dirs=[])
    d = SettingsDialog(settings, sources, store=secrets.MemorySecretStore(), config_file=tmp_path / ".env",
                       environ={"CATALOG": "from_env"})  # fmt: skip
    qtbot.addWidget(d)
    assert d.fields["CATALOG"].text() == "from_env" and d.fields["CATALOG"].isReadOnly()
    assert "set by the environment" in d.fields["CATALOG"].toolTip()
    d.save_button.click()
    assert "CATALOG" not in dotenv_values(tmp_path / ".env")
