"""The setup wizard (QWizard) over the same engine as `zerostream setup`.

Pages: connection (profile, or host and token; Test Connection says who and where), names
(prefix, catalog, schema, table, warehouse size, Lakebase), plan (what exists, what will be
created, what has drifted), apply (per-step progress and a log; Cancel stops after the current
step, and running the wizard again resumes), finish (what was created, what to do next, and buttons
to deploy the web apps and verify the workspace end to end). Every
workspace call runs off the UI thread through the app's `Background` helper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from infra_wizard.engine import Context, Names, SetupState, Status, StepResult, apply, explain, plan
from infra_wizard.steps import all_steps
from zerostream_desktop.core import secrets
from zerostream_desktop.core.settings import Settings, databricks_profiles
from zerostream_desktop.core.workspace import who_am_i
from zerostream_desktop.ui.background import Background

log = logging.getLogger(__name__)

COLOURS = {Status.EXISTS: "#2e7d32", Status.CREATED: "#1565c0", Status.MISSING: "#1565c0", Status.DRIFT: "#ef6c00",
           Status.FAILED: "#c62828", Status.SKIPPED: "#757575", Status.CANCELLED: "#757575"}  # fmt: skip
AUTH_METHODS = {
    "profile": "Profile from ~/.databrickscfg",
    "pat": "Personal access token",
    "oauth-u2m": "OAuth in the browser (databricks auth login)",
    "oauth-m2m": "Service principal (client id and secret)",
}


class SetupWizard(QWizard):
    """`client_factory(wizard) -> WorkspaceClient` builds the client from the connection page."""

    def __init__(
        self,
        settings: Settings,
        store: secrets.SecretStore | None = None,
        config_dir: Path | None = None,
        client_factory: Callable[[SetupWizard], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        from zerostream_desktop.core import paths

        self.setWindowTitle("ZeroStream setup")
        self.settings = settings
        self.store = store or secrets.open_secret_store()
        self.config_dir = config_dir or paths.user_config_dir()
        self.client_factory = client_factory or _default_client
        self.background = Background(self, name="setup")
        self.cancel = threading.Event()
        self.context: Context | None = None
        self.results: list[StepResult] = []
        self.connection = ConnectionPage(self)
        self.names_page = NamesPage(self)
        self.plan_page = PlanPage(self)
        self.apply_page = ApplyPage(self)
        self.finish_page = FinishPage(self)
        for page in (self.connection, self.names_page, self.plan_page, self.apply_page, self.finish_page):
            self.addPage(page)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage)
        self.resize(820, 560)

    def run_in_background(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """`then` gets the result, or the exception (which it shows)."""
        self.background.run(work, then, then)

    def build_context(self) -> Context:
        client = self.client_factory(self)
        names = self.names_page.names()
        return Context(
            client, names, self.store, SetupState(client.config.host or "", self.config_dir), self.config_dir
        )

    def done(self, result: int) -> None:  # noqa: D102 (QDialog)
        self.cancel.set()
        self.background.shutdown()
        super().done(result)


def _default_client(wizard: SetupWizard) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    page = wizard.connection
    method = page.method.currentData()
    if method == "profile":
        return WorkspaceClient(config=Config(profile=page.profile.currentText(), retry_timeout_seconds=30))
    host = page.host.text().strip()
    if method == "pat":
        return WorkspaceClient(
            config=Config(host=host, token=page.token.text(), auth_type="pat", retry_timeout_seconds=30)
        )
    if method == "oauth-m2m":
        m2m = Config(host=host, client_id=page.client_id.text(), client_secret=page.token.text(),
                     auth_type="oauth-m2m", retry_timeout_seconds=30)  # fmt: skip
        return WorkspaceClient(config=m2m)
    return WorkspaceClient(config=Config(host=host, auth_type="external-browser", retry_timeout_seconds=120))


class ConnectionPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Connect to the workspace")
        self.setSubTitle("How the setup signs in. Nothing is created until the Apply page.")
        self.w = wizard
        self.verified = False
        self.method = QComboBox()
        for key, label in AUTH_METHODS.items():
            self.method.addItem(label, key)
        self.profile = QComboBox()
        self.profile.addItems(databricks_profiles())
        self.host = QLineEdit(
            wizard.settings.databricks_host or "", placeholderText="https://<workspace>.cloud.databricks.com"
        )
        self.client_id = QLineEdit(placeholderText="service principal application id")
        self.token = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="not stored by this page")
        self.test_button = QPushButton("&Test Connection")
        self.test_button.clicked.connect(self.test_connection)
        self.result = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout(self)
        form.addRow("Sign in with", self.method)
        form.addRow("Profile", self.profile)
        form.addRow("Host", self.host)
        form.addRow("Client id", self.client_id)
        form.addRow("Token or secret", self.token)
        form.addRow(self.test_button, self.result)
        self.method.currentIndexChanged.connect(self._enable)
        self.method.setCurrentIndex(self.method.findData("profile" if self.profile.count() else "pat"))
        self._enable()

    def _enable(self) -> None:
        m = self.method.currentData()
        self.profile.setEnabled(m == "profile")
        self.host.setEnabled(m != "profile")
        self.client_id.setEnabled(m == "oauth-m2m")
        self.token.setEnabled(m in ("pat", "oauth-m2m"))
        self.verified = False
        self.completeChanged.emit()

    def test_connection(self) -> None:
        self.test_button.setEnabled(False)
        self.result.setText("Connecting…")

        self.w.run_in_background(lambda: who_am_i(self.w.client_factory(self.w)), self._tested)

    def _tested(self, result: Any) -> None:
        self.test_button.setEnabled(True)
        ok = not isinstance(result, BaseException)
        self.verified = ok
        self.result.setText(("✔ " + result) if ok else "✘ " + str(explain("Connection", result)))
        self.result.setStyleSheet(f"color: {'#2e7d32' if ok else '#c62828'}")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.verified


class NamesPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Names")
        self.setSubTitle("What the setup creates or reuses. Existing resources with these names are kept.")
        s = wizard.settings
        self.prefix = QLineEdit(s.infra_prefix)
        self.catalog = QLineEdit(s.catalog)
        self.schema = QLineEdit(s.schema_name)
        self.table = QLineEdit(s.table_name)
        self.warehouse_size = QComboBox()
        self.warehouse_size.addItems(["2X-Small", "X-Small", "Small", "Medium", "Large"])
        self.warehouse_size.setCurrentText(s.warehouse_cluster_size)
        self.lakebase = QCheckBox("Also create a Lakebase instance with a synced copy of the table")
        self.load_job = QCheckBox("Also keep the principal's secret in a secret scope, for the load job's shards")
        self.load_job.setToolTip("The Databricks Job that `zerostream webapps build --shards N` writes reads it")
        self.region = QLineEdit(placeholderText="e.g. us-west-2, to derive the ZeroBus endpoint")
        form = QFormLayout(self)
        rows = (("Prefix", self.prefix), ("Catalog", self.catalog), ("Schema", self.schema), ("Table", self.table),
                ("Warehouse size", self.warehouse_size), ("Region", self.region))  # fmt: skip
        for label, w in rows:
            form.addRow(label, w)
        form.addRow(self.lakebase)
        form.addRow(self.load_job)
        self._settings = s

    def names(self) -> Names:
        p = self.prefix.text().strip() or self._settings.infra_prefix
        return Names(
            prefix=p, catalog=self.catalog.text().strip(), schema=self.schema.text().strip(),
            table=self.table.text().strip(), warehouse_name=f"{p}_warehouse",
            warehouse_size=self.warehouse_size.currentText(),
            sp_name=f"{p}-zerobus-service", lakebase=self.lakebase.isChecked(), lakebase_instance=f"{p}-lakebase",
            lakebase_database=self._settings.lakebase_databases.split(",")[0].strip(),
            lakebase_schema=self._settings.lakebase_schema, lakebase_capacity=self._settings.lakebase_capacity,
            mobile_app=f"{p}-mobile-app", dashboard_app=f"{p}-dashboard-app",
            zerobus_endpoint=self._settings.zerobus_server_endpoint, region=self.region.text().strip() or None,
            load_job=self.load_job.isChecked(),
        )  # fmt: skip

    def validatePage(self) -> bool:  # noqa: N802
        from zerostream_desktop.core.schema import quote_identifier

        try:
            for part in (self.catalog.text(), self.schema.text(), self.table.text()):
                quote_identifier(part.strip())
        except ValueError as exc:
            self.setSubTitle(f"⚠ {exc}")
            return False
        return True


class ResultTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["Step", "Status", "Detail"])
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)

    def _text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return item.text() if item is not None else ""

    def show_result(self, r: StepResult) -> None:
        rows = [self._text(i, 0) for i in range(self.rowCount())]
        row = rows.index(r.title) if r.title in rows else self.rowCount()
        if row == self.rowCount():
            self.insertRow(row)
        for col, text in enumerate((r.title, r.status.value, r.detail)):
            item = QTableWidgetItem(text)
            item.setToolTip(r.detail)
            if col == 1:
                item.setForeground(QColor(COLOURS.get(r.status, "#000000")))
            self.setItem(row, col, item)
        self.resizeColumnsToContents()
        self.resizeRowsToContents()

    def statuses(self) -> dict[str, str]:
        return {self._text(i, 0): self._text(i, 1) for i in range(self.rowCount())}


class PlanPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Plan")
        self.setSubTitle("Checking the workspace…")
        self.w = wizard
        self.table = ResultTable()
        self.ready = False
        QVBoxLayout(self).addWidget(self.table)

    def initializePage(self) -> None:  # noqa: N802
        self.ready = False
        self.table.setRowCount(0)
        self.setSubTitle("Checking the workspace…")

        def look() -> list[StepResult]:
            self.w.context = self.w.build_context()
            return plan(self.w.context, all_steps())

        self.w.run_in_background(look, self._planned)

    def _planned(self, results: Any) -> None:
        if isinstance(results, BaseException):
            self.setSubTitle(f"✘ {explain('Plan', results)}")
            return
        for r in results:
            self.table.show_result(r)
        todo = sum(r.status is Status.MISSING for r in results)
        failed = [r for r in results if r.status is Status.FAILED]
        if failed:
            self.setSubTitle(f"✘ {failed[0].detail}")
        else:
            exist = sum(r.status is Status.EXISTS for r in results)
            self.setSubTitle(
                f"{todo} of {len(results)} steps will create something, {exist} exist already; Next applies the plan."
                if todo
                else "Everything exists."
            )
            self.ready = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.ready


class ApplyPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Apply")
        self.setSubTitle("Creating what is missing, step by step.")
        self.w = wizard
        self.table = ResultTable()
        self.log = QPlainTextEdit(readOnly=True)
        self.cancel_button = QPushButton("Cancel &after this step")
        self.cancel_button.clicked.connect(self._cancel)
        self.finished = False
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)

    def initializePage(self) -> None:  # noqa: N802
        self.finished = False
        self.w.cancel.clear()
        self.table.setRowCount(0)
        self.log.clear()
        ctx = self.w.context
        assert ctx is not None
        progress = self.w.background.on_ui_thread(self._step)
        self.w.run_in_background(lambda: apply(ctx, all_steps(), progress, self.w.cancel), self._applied)

    def _step(self, r: StepResult) -> None:
        self.table.show_result(r)
        self.log.appendPlainText(f"{r.title}: {r.status.value}: {r.detail}")

    def _cancel(self) -> None:
        self.w.cancel.set()
        self.cancel_button.setEnabled(False)
        self.log.appendPlainText("Cancelling after the current step…")

    def _applied(self, results: Any) -> None:
        if isinstance(results, BaseException):
            self.log.appendPlainText(str(explain("Apply", results)))
            results = []
        self.w.results = list(results)
        failed = [r for r in results if r.status is Status.FAILED]
        cancelled = any(r.status is Status.CANCELLED for r in results)
        if failed:
            self.setSubTitle(f"✘ Stopped at {failed[0].title}. Fix it and run the setup again: it resumes there.")
        elif cancelled:
            self.setSubTitle("Cancelled. What was created is recorded; running the setup again resumes.")
        else:
            self.setSubTitle("Done.")
        self.cancel_button.setEnabled(False)
        self.finished = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.finished


class FinishPage(QWizardPage):
    """What was created, and two last steps: deploy the web apps, verify the workspace end to end."""

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Finished")
        self.w = wizard
        self.summary = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.deploy_button = QPushButton("&Deploy the web apps")
        self.verify_button = QPushButton("&Verify the workspace")
        self.deploy_button.clicked.connect(self.deploy)
        self.verify_button.clicked.connect(self.verify)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setPlaceholderText("Deploy uploads and starts the two web apps; Verify streams a probe and checks "
                                    "every piece, with the fix for anything that fails.")  # fmt: skip
        self.busy = False
        self.verified: bool | None = None
        self.deployed: bool | None = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.deploy_button)
        buttons.addWidget(self.verify_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        layout.addWidget(self.log, 1)

    def initializePage(self) -> None:  # noqa: N802
        created = [r for r in self.w.results if r.status is Status.CREATED]
        problems = [r for r in self.w.results if r.status in (Status.FAILED, Status.DRIFT, Status.CANCELLED)]
        lines = [f"Created: {len(created)} step(s)."] + [f"  • {r.title}: {r.detail}" for r in created]
        if problems:
            lines += ["", "Needs attention:"] + [f"  • {r.title}: {r.detail}" for r in problems]
        lines += ["", "Next:", f"  • The non-secret values are in {self.w.config_dir / 'generated_config.env'};",
                  "    the service principal's secret is in the keyring.",
                  "  • Deploy the web apps and verify the workspace below (or later: `zerostream webapps deploy`,",
                  "    `zerostream verify`).",
                  "  • In File > Settings choose 'Databricks workspace' and restart to stream there."]  # fmt: skip
        self.summary.setText("\n".join(lines))
        self._enable(True)

    def _enable(self, on: bool) -> None:
        self.busy = not on
        ok = on and self.w.context is not None and not any(r.status is Status.FAILED for r in self.w.results)
        self.deploy_button.setEnabled(ok)
        self.verify_button.setEnabled(ok)

    def _settings(self) -> Settings:
        """The settings as the setup left them (generated_config.env), over the wizard's own."""
        from zerostream_desktop.core.settings import load_settings

        flags = {"data_dir": self.w.settings.data_dir}
        return load_settings(flags, search_dirs=[self.w.config_dir], check_profile=False)

    def _say(self) -> Callable[[str], None]:
        return self.w.background.on_ui_thread(self.log.appendPlainText)

    def deploy(self) -> None:
        from infra_wizard.deploy import deploy_app
        from zerostream_desktop.webapps.build import build

        ctx, say = self.w.context, self._say()
        assert ctx is not None
        settings = self._settings()
        self._enable(False)
        self.log.appendPlainText("Building and deploying the web apps…")

        def work() -> list[Any]:
            built = build(settings, settings.data_dir / "webapps-build", lakebase=ctx.names.lakebase,
                          warehouse_id=settings.warehouse_id or "")  # fmt: skip
            return [deploy_app(ctx.workspace, b.name, b.folder, say=say) for b in built]

        self.w.run_in_background(work, self._deployed)

    def _deployed(self, reports: Any) -> None:
        self._enable(True)
        if isinstance(reports, BaseException):
            self.deployed = False
            self.log.appendPlainText(f"✘ {explain('Deploy the web apps', reports)}")
            return
        self.deployed = True
        for r in reports:
            done = "deployed" if r.deployment_id else "unchanged (already running this build)"
            self.log.appendPlainText(f"✔ {r.app}: {done}, {r.state}, {r.url or 'no URL yet'}")

    def verify(self) -> None:
        from infra_wizard.verify import Verifier

        ctx, say = self.w.context, self._say()
        assert ctx is not None
        settings = self._settings()
        self._enable(False)
        self.log.appendPlainText("Verifying the workspace (a probe of 20 events through ZeroBus)…")
        self.w.run_in_background(lambda: Verifier(ctx, settings, say=say).run(), self._verified)

    def _verified(self, results: Any) -> None:
        from infra_wizard.verify import Outcome

        self._enable(True)
        if isinstance(results, BaseException):
            self.verified = False
            self.log.appendPlainText(f"✘ {explain('Verify', results)}")
            return
        bad = [r for r in results if r.outcome == Outcome.FAIL]
        self.verified = not bad
        for r in bad:
            self.log.appendPlainText(f"✘ {r.name}: {r.detail} (fix: {r.fix})" if r.fix else f"✘ {r.name}: {r.detail}")
        self.log.appendPlainText("✔ Every check passed." if not bad else f"✘ {len(bad)} check(s) failed.")
