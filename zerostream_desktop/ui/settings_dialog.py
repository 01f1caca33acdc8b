"""Settings dialog: where to stream, which workspace, where the dashboard reads; saved for the next start.

Non-secret values go to the user's settings file (`~/.config/zerostream/.env` on Linux); the
personal access token and the ZeroBus client secret go to the OS keyring, never to a file. A value
the environment sets wins over the file, so its field is shown read-only with where it comes from.
"Test Connection" asks the workspace who we are, off the UI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from zerostream_desktop.core import secrets
from zerostream_desktop.core.errors import first_line
from zerostream_desktop.core.settings import (
    MAX_STREAMS,
    Settings,
    SettingsError,
    Sourced,
    databricks_profiles,
    resolve_settings,
    save_user_settings,
    user_settings_path,
)
from zerostream_desktop.core.workspace import who_am_i, workspace_client
from zerostream_desktop.ui.background import Background

log = logging.getLogger(__name__)

TEXT_FIELDS = {
    "DATABRICKS_HOST": "Host",
    "ZEROBUS_SERVER_ENDPOINT": "ZeroBus endpoint",
    "ZEROBUS_CLIENT_ID": "Service principal (client id)",
    "CATALOG": "Catalog",
    "SCHEMA": "Schema",
    "TABLE_NAME": "Table",
    "DATABRICKS_WAREHOUSE_ID": "SQL warehouse id",
    "LAKEBASE_INSTANCE": "Lakebase instance",
    "LAKEBASE_DATABASES": "Lakebase database",
    "LAKEBASE_SCHEMA": "Lakebase schema",
}
ANALYTICS = {
    "auto": "Automatic (local table, or the warehouse when streaming to Databricks)",
    "local": "The local Delta table",
    "warehouse": "Databricks SQL warehouse",
    "lakebase": "Lakebase (PostgreSQL)",
}


class SettingsDialog(QDialog):
    """Edit, validate, save. `saved` carries the settings file's path."""

    saved = Signal(str)

    def __init__(
        self,
        settings: Settings,
        sources: dict[str, Sourced],
        store: secrets.SecretStore | None = None,
        parent: QWidget | None = None,
        config_file: Path | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.sources = sources
        self.store = store or secrets.open_secret_store()
        self.config_file = config_file or user_settings_path()
        self._environ = environ
        self.background = Background(self, name="settings-test")
        self.fields: dict[str, QLineEdit] = {}

        self.local_radio = QRadioButton("&Local stack (localbus on this machine, no account)")
        self.databricks_radio = QRadioButton("&Databricks workspace (ZeroBus)")
        self.endpoint_group = QButtonGroup(self)
        for b in (self.local_radio, self.databricks_radio):
            self.endpoint_group.addButton(b)
        (self.databricks_radio if settings.endpoint == "databricks" else self.local_radio).setChecked(True)

        self.profile_combo = QComboBox()
        self.profile_combo.addItem("(none: host and token below, or DATABRICKS_* variables)", "")
        for name in databricks_profiles():
            self.profile_combo.addItem(name, name)
        self.profile_combo.setCurrentIndex(max(0, self.profile_combo.findData(settings.databricks_profile or "")))
        for key in TEXT_FIELDS:
            self.fields[key] = QLineEdit(_value(settings, key))
            self.fields[key].setObjectName(key)
        self.token_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="kept in the OS keyring")
        self.secret_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="kept in the OS keyring")
        self.analytics_combo = QComboBox()
        for key, label in ANALYTICS.items():
            self.analytics_combo.addItem(label, key)
        self.analytics_combo.setCurrentIndex(self.analytics_combo.findData(settings.analytics))
        self.active_spin = QSpinBox(minimum=1, maximum=86_400, value=settings.active_window_seconds, suffix=" s")
        self.streams_combo = QComboBox()
        self.streams_combo.addItems(["auto", *(str(n) for n in range(1, MAX_STREAMS + 1))])
        self.streams_combo.setCurrentText(str(settings.zerobus_streams))
        self.streams_combo.setToolTip(
            "ZeroBus streams the fleet's devices are spread over, each with its own spool (a device always on the "
            "same one).\nauto: one per 12,000 events/s the fleet offers (the service takes about 15,000 a stream), "
            "more as the fleet grows"
        )
        self.streams_combo.setEnabled(not self._from_environment("ZEROBUS_STREAMS"))
        self.test_button = QPushButton("&Test Connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet("color: #c62828")
        self._lock_environment_fields()

        stream = QGroupBox("Stream to")
        sl = QVBoxLayout(stream)
        sl.addWidget(self.local_radio)
        sl.addWidget(self.databricks_radio)
        streams_row = QHBoxLayout()
        streams_label = QLabel("&ZeroBus streams")
        streams_label.setBuddy(self.streams_combo)
        streams_row.addWidget(streams_label)
        streams_row.addWidget(self.streams_combo)
        streams_row.addStretch(1)
        sl.addLayout(streams_row)
        workspace = QGroupBox("Databricks workspace")
        wl = QFormLayout(workspace)
        wl.addRow("Profile (~/.databrickscfg)", self.profile_combo)
        wl.addRow(TEXT_FIELDS["DATABRICKS_HOST"], self.fields["DATABRICKS_HOST"])
        wl.addRow("Personal access token", self.token_edit)
        wl.addRow(TEXT_FIELDS["ZEROBUS_SERVER_ENDPOINT"], self.fields["ZEROBUS_SERVER_ENDPOINT"])
        wl.addRow(TEXT_FIELDS["ZEROBUS_CLIENT_ID"], self.fields["ZEROBUS_CLIENT_ID"])
        wl.addRow("Client secret", self.secret_edit)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        wl.addRow(test_row)
        table = QGroupBox("Table")
        tl = QFormLayout(table)
        for key in ("CATALOG", "SCHEMA", "TABLE_NAME"):
            tl.addRow(TEXT_FIELDS[key], self.fields[key])
        reads = QGroupBox("Dashboard reads from")
        rl = QFormLayout(reads)
        rl.addRow("Source", self.analytics_combo)
        for key in ("DATABRICKS_WAREHOUSE_ID", "LAKEBASE_INSTANCE", "LAKEBASE_DATABASES", "LAKEBASE_SCHEMA"):
            rl.addRow(TEXT_FIELDS[key], self.fields[key])
        rl.addRow("Active if seen within", self.active_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        note = QLabel(f"Saved to {self.config_file}. Secrets: {self.store.description.rstrip('.')}.", wordWrap=True)
        note.setStyleSheet("color: #666")
        layout = QVBoxLayout(self)
        for w in (stream, workspace, table, reads, self.error_label, note, buttons):
            layout.addWidget(w)
        self.databricks_radio.toggled.connect(self._enable)
        self._enable()

    # --- behaviour ------------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        """The variables as the dialog would save them."""
        out = {key: edit.text().strip() for key, edit in self.fields.items()}
        out["ZEROSTREAM_ENDPOINT"] = "databricks" if self.databricks_radio.isChecked() else "local"
        out["DATABRICKS_CONFIG_PROFILE"] = self.profile_combo.currentData() or ""
        out["ZEROSTREAM_ANALYTICS"] = self.analytics_combo.currentData()
        out["ACTIVE_WINDOW_SECONDS"] = str(self.active_spin.value())
        out["ZEROBUS_STREAMS"] = self.streams_combo.currentText()
        return out

    def candidate(self) -> Settings:
        """The settings these values would give (raises SettingsError naming the bad value)."""
        flags = {k: v for k, v in self.values().items() if v and not self._from_environment(k)}
        return resolve_settings(_as_fields(flags), environ=self._environ)[0]

    def save(self) -> None:
        try:
            settings = self.candidate()
        except SettingsError as exc:
            self.error_label.setText(str(exc))
            return
        values = {k: v for k, v in self.values().items() if not self._from_environment(k)}
        try:
            path = save_user_settings(values, self.config_file)
            if self.token_edit.text() and settings.databricks_host:
                self.store.set(secrets.databricks_token_key(settings.databricks_host), self.token_edit.text())
            if self.secret_edit.text() and settings.zerobus_client_id:
                self.store.set(secrets.zerobus_client_secret_key(settings.zerobus_client_id), self.secret_edit.text())
        except (OSError, secrets.SecretStoreError, SettingsError) as exc:
            self.error_label.setText(f"Cannot save: {exc}")
            return
        log.info("settings saved to %s", path)
        self.settings = settings
        self.saved.emit(str(path))
        self.accept()

    def test_connection(self) -> None:
        try:
            settings = self.candidate()
        except SettingsError as exc:
            self.test_result.setText(str(exc))
            return
        token = self.token_edit.text() or (
            self.store.get(secrets.databricks_token_key(settings.databricks_host)) if settings.databricks_host else None
        )
        self.test_button.setEnabled(False)
        self.test_result.setText("Connecting…")
        self.background.run(
            lambda: who_am_i(workspace_client(settings, token)),
            lambda who: self._tested(True, who),
            lambda exc: self._tested(False, first_line(exc)),
        )

    def _tested(self, ok: bool, message: str) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(("✔ " if ok else "✘ ") + message)
        self.test_result.setStyleSheet("color: #2e7d32" if ok else "color: #c62828")

    def _enable(self) -> None:
        on = self.databricks_radio.isChecked()
        for w in (self.profile_combo, self.token_edit, self.secret_edit, self.test_button):
            w.setEnabled(on)
        for key in ("DATABRICKS_HOST", "ZEROBUS_SERVER_ENDPOINT", "ZEROBUS_CLIENT_ID"):
            self.fields[key].setEnabled(on and not self._from_environment(key))

    def _from_environment(self, key: str) -> bool:
        src = self.sources.get(key)
        return src is not None and src.source in ("environment", "command line")

    def _lock_environment_fields(self) -> None:
        for key, edit in self.fields.items():
            if self._from_environment(key):
                edit.setReadOnly(True)
                edit.setToolTip(f"{key} is set by the {self.sources[key].source}; change it there")

    def done(self, result: int) -> None:  # noqa: D102 (QDialog)
        self.background.shutdown()
        super().done(result)


def _value(settings: Settings, key: str) -> str:
    for name, field in Settings.model_fields.items():
        if field.alias == key:
            value = getattr(settings, name)
            return "" if value is None else str(value)
    return ""


def _as_fields(values: dict[str, str]) -> dict[str, Any]:
    by_alias = {f.alias: name for name, f in Settings.model_fields.items() if f.alias}
    return {by_alias[k]: v for k, v in values.items() if k in by_alias}
