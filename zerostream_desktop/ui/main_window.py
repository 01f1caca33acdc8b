"""The main window only assembles the panes, menus and status bar; panes own their behaviour."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QTabWidget, QWidget

from zerostream_desktop import __version__
from zerostream_desktop.core.analytics.refresher import DashboardRefresher
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.localbus.supervisor import LocalStack
from zerostream_desktop.ui.dashboard.feed import DashboardFeed
from zerostream_desktop.ui.dashboard.pane import DashboardPane
from zerostream_desktop.ui.local_stack_dialog import LocalStackDialog
from zerostream_desktop.ui.log_view import LogView, QtLogHandler
from zerostream_desktop.ui.raw_stream import RawStreamView
from zerostream_desktop.ui.settings_dialog import SettingsDialog
from zerostream_desktop.ui.simulator.pane import SimulatorPane
from zerostream_desktop.ui.streaming import StreamController, StreamSnapshot

if TYPE_CHECKING:
    from zerostream_desktop.ui.setup_wizard import SetupWizard
    from zerostream_desktop.ui.web_launcher import WebAppsLauncher


class MainWindow(QMainWindow):
    closed = Signal()
    resume_requested = Signal()

    def __init__(
        self,
        settings: Settings,
        simulator: SimulatorPane,
        log_handler: QtLogHandler | None = None,
        dashboard: DashboardPane | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("ZeroStream")
        self._stack: tuple[str | None, Path | None, str | None] | None = None
        self.simulator = simulator
        self.tabs = QTabWidget()
        self.tabs.addTab(simulator, "&Simulator")
        self.dashboard = dashboard or DashboardPane(settings.full_table_name)
        self.tabs.addTab(self.dashboard, "&Dashboard")
        self.tabs.currentChanged.connect(lambda _: simulator.set_in_front(self.tabs.currentWidget() is simulator))
        self.setCentralWidget(self.tabs)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log_dock")
        self.log_dock.setWidget(LogView(log_handler or QtLogHandler()))
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()
        self.raw_dock = QDockWidget("Raw Stream", self)
        self.raw_dock.setObjectName("raw_stream_dock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.raw_dock)
        self.raw_dock.hide()
        self.raw_view: RawStreamView | None = None
        self.web: WebAppsLauncher | None = None
        self.endpoint_label = QLabel(f"Endpoint: {settings.endpoint}  ·  Table: {settings.full_table_name}")
        self.stack_label = QLabel("Local stack: starting…" if settings.endpoint == "local" else "")
        self.stream_label = QLabel("Not connected")
        self.last_stream: StreamSnapshot | None = None  # the latest shown
        self.restart_requested = False
        self.statusBar().addPermanentWidget(self.stream_label)
        self.statusBar().addPermanentWidget(self.stack_label)
        self.statusBar().addPermanentWidget(self.endpoint_label)
        self._build_menus()
        self._restore_state()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        settings_action = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        settings_action.triggered.connect(self.open_settings_dialog)
        file_menu.addAction(settings_action)
        clear_action = QAction("&Clear Local Data…", self)
        clear_action.triggered.connect(self.clear_local_data)
        file_menu.addAction(clear_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        sim_menu = self.menuBar().addMenu("&Simulation")
        self.start_action = QAction("&Start / Stop", self, shortcut=QKeySequence("Ctrl+R"))
        self.start_action.triggered.connect(lambda: self.simulator.start_button.toggle())
        apply_action = QAction("&Apply Device Count", self, shortcut=QKeySequence("Ctrl+Return"))
        apply_action.triggered.connect(self.simulator.apply_count)
        self.resume_action = QAction("&Resume Streaming", self, shortcut=QKeySequence("Ctrl+Shift+R"))
        self.resume_action.setEnabled(False)
        self.resume_action.triggered.connect(self.resume_requested.emit)
        sim_menu.addActions([self.start_action, apply_action, self.resume_action])
        view_menu = self.menuBar().addMenu("&View")
        log_action = self.log_dock.toggleViewAction()
        log_action.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(log_action)
        raw_action = self.raw_dock.toggleViewAction()
        raw_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        view_menu.addAction(raw_action)
        tools_menu = self.menuBar().addMenu("&Tools")
        self.stack_action = QAction("&Local Stack…", self)
        self.stack_action.setEnabled(False)
        self.stack_action.triggered.connect(self.open_local_stack_dialog)
        tools_menu.addAction(self.stack_action)
        web_action = QAction("Open &Web Dashboard", self, shortcut=QKeySequence("Ctrl+Shift+W"))
        web_action.triggered.connect(self.open_web_dashboard)
        tools_menu.addAction(web_action)
        spool_action = QAction("S&pool…", self)
        spool_action.triggered.connect(self.open_spool_dialog)
        tools_menu.addAction(spool_action)
        setup_action = QAction("Set Up a Databricks &Workspace…", self)
        setup_action.triggered.connect(self.open_setup_wizard)
        tools_menu.addAction(setup_action)
        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = QAction("&Keyboard Shortcuts", self, shortcut=QKeySequence("F1"))
        shortcuts.triggered.connect(self._shortcuts)
        help_menu.addAction(shortcuts)
        from zerostream_desktop.ui.readme_view import SECTIONS

        self.guide_actions: dict[str, QAction] = {}
        for text, heading in SECTIONS:
            guide = QAction(f"{text}…", self)
            guide.triggered.connect(lambda _=False, h=heading: self.open_guide(h))
            help_menu.addAction(guide)
            self.guide_actions[heading] = guide
        help_menu.addSeparator()
        diagnostics = QAction("Save &Diagnostics…", self)
        diagnostics.triggered.connect(self.save_diagnostics)
        help_menu.addAction(diagnostics)
        about = QAction("&About ZeroStream", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def attach_stream(self, stream: StreamController) -> None:
        """The simulator feeds the stream (the spool's backpressure slows it); the status bar shows it."""
        self.simulator.events_generated.connect(stream.submit)
        self.simulator.can_generate = stream.has_room
        self.simulator.rate_offered.connect(stream.plan_for)
        stream.stats_changed.connect(self.show_stream)
        stream.stack_changed.connect(self._stack_changed)
        stream.open_failed.connect(lambda why: self.statusBar().showMessage(f"Cannot stream: {why}"))
        self.resume_requested.connect(stream.resume)

    def attach_dashboard(self, refresher: DashboardRefresher, stream: StreamController) -> DashboardFeed:
        def ack_p95_ms() -> float | None:
            snapshot = stream.snapshot()
            return snapshot.ack_p95_ms if snapshot is not None else None

        self.raw_view = RawStreamView(lambda: refresher.backend)
        self.raw_dock.setWidget(self.raw_view)
        self.raw_dock.visibilityChanged.connect(self._raw_dock_shown)
        return DashboardFeed(self.dashboard, refresher, ack_p95_ms)

    def _raw_dock_shown(self, shown: bool) -> None:
        if shown and self.raw_view is not None:
            self.raw_view.first_page()

    def open_web_dashboard(self) -> WebAppsLauncher:
        """Tools > Open Web Dashboard: start the web apps for this data folder (once) and open the browser."""
        from zerostream_desktop.ui.background import Background
        from zerostream_desktop.ui.web_launcher import WebAppsLauncher

        if self.web is None:
            self.web = WebAppsLauncher(self.settings, Background(self, name="web-apps"), self)
            self.web.opened.connect(lambda _url: self.statusBar().showMessage("Web dashboard opened", 8000))
            self.web.failed.connect(self._web_apps_failed)
            self.statusBar().showMessage("Starting the web apps…")
        self.web.open_dashboard()
        return self.web

    def save_diagnostics(self, path: str | None = None) -> None:
        """Help > Save Diagnostics: versions, the self-test, settings and recent logs in one archive, no secrets."""
        import datetime as dt

        from PySide6.QtWidgets import QFileDialog

        from zerostream_desktop.core.settings import SettingsError, resolve_settings
        from zerostream_desktop.diagnostics import write_diagnostics
        from zerostream_desktop.ui.background import Background

        if path is None:
            suggested = str(Path.home() / f"zerostream-diagnostics-{dt.date.today():%Y%m%d}.zip")
            path, _ = QFileDialog.getSaveFileName(self, "Save Diagnostics", suggested, "Zip archives (*.zip)")
            if not path:
                return
        try:
            settings, sources = resolve_settings({"data_dir": self.settings.data_dir})
        except SettingsError:
            settings, sources = self.settings, {}
        secrets = tuple(s for s in (self._stack[2] if self._stack else None,) if s)
        self.statusBar().showMessage("Saving diagnostics (runs the self-test)…")
        target = Path(path)
        Background(self, name="diagnostics").run(
            lambda: write_diagnostics(target, settings, sources, known_secrets=secrets),
            lambda saved: self.statusBar().showMessage(f"Diagnostics saved to {saved}", 10_000),
            lambda exc: self.statusBar().showMessage(f"Cannot save diagnostics: {exc}"),
        )

    def _web_apps_failed(self, why: str) -> None:
        self.statusBar().clearMessage()
        QMessageBox.warning(self, "Web dashboard", f"Cannot start the web apps:\n{why}")

    def stop_web_apps(self) -> None:
        """Blocks until the web apps stopped (their spool drains first): call off the UI thread."""
        if self.web is not None:
            self.web.stop()

    def start_simulation(self) -> None:
        self.simulator.start()

    def _stack_changed(self, stack: LocalStack | None, why: str) -> None:
        if stack is None:
            self.show_local_stack(None, why)
        else:
            self.show_local_stack(stack.endpoint, ca_cert=stack.ca_cert, token=stack.token)

    def show_local_stack(
        self, endpoint: str | None, error: str | None = None, ca_cert: Path | None = None, token: str | None = None
    ) -> None:
        """Status bar line for the embedded endpoint: where it listens, or why it is not running."""
        self._stack = (endpoint, ca_cert, token) if endpoint and token else None
        self.stack_action.setEnabled(self._stack is not None)
        if error:
            self.stack_label.setText("Local stack: not running")
            self.stack_label.setToolTip(error)
            self.statusBar().showMessage(f"localbus failed to start: {error.splitlines()[0]}")
        else:
            self.stack_label.setText(f"Local stack: {endpoint}")
            self.stack_label.setToolTip("localbus, the embedded ZeroBus endpoint, writing local Delta tables")

    def show_stream(self, snapshot: StreamSnapshot) -> None:
        """Status bar line for the streamer; a pause shows the endpoint's reason."""
        self.last_stream = snapshot
        self.simulator.rate_chart.add(snapshot.sent, snapshot.acked)
        self.simulator.show_counts(snapshot.generated, snapshot.acked)  # one snapshot for both places
        endpoint = "localbus" if self.settings.endpoint == "local" else "ZeroBus"
        self.stream_label.setText(snapshot.status_text(endpoint, sending=self.simulator.running))
        self.stream_label.setToolTip(snapshot.last_error)
        if snapshot.state == "paused":
            self.statusBar().showMessage(
                f"Streaming paused: {snapshot.last_error}  (fix it, then Simulation > Resume Streaming)"
            )
        self.resume_action.setEnabled(snapshot.state == "paused")

    def open_settings_dialog(self) -> SettingsDialog | None:
        """File > Settings: saved settings apply from the next start; offer to restart now."""
        from zerostream_desktop.core.settings import SettingsError, resolve_settings

        try:
            settings, sources = resolve_settings({"data_dir": self.settings.data_dir})
        except SettingsError as exc:
            QMessageBox.warning(self, "Settings", f"The current settings are invalid; fix them first:\n{exc}")
            return None
        dialog = SettingsDialog(settings, sources, parent=self)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def _settings_saved(self, path: str) -> None:
        answer = QMessageBox.question(
            self, "Settings saved", f"Saved to {path}.\nRestart ZeroStream now to use them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )  # fmt: skip
        if answer == QMessageBox.StandardButton.Yes:
            self.restart_requested = True
            self.close()

    def open_spool_dialog(self) -> QDialog:
        """Tools > Spool: the records waiting to be sent and the dead letters, with why; export, retry, discard."""
        from zerostream_desktop.ui.spool_dialog import SpoolDialog

        target = f"local-{self.settings.full_table_name}" if self.settings.endpoint == "local" else ""
        dialog = SpoolDialog(self.settings.data_dir, target, self)
        dialog.open()
        return dialog

    def clear_local_data(self) -> bool:
        """File > Clear Local Data: after a confirmation naming what goes, delete the local tables and the
        spool at a restart (nothing may hold them while they are deleted). True when asked to."""
        from zerostream_desktop.core.local_data import request_clear
        from zerostream_desktop.localbus.tables import TableCatalog

        catalog = TableCatalog(self.settings.data_dir)
        rows = 0
        for name in catalog.names():
            with contextlib.suppress(Exception):  # a damaged table goes too
                rows += catalog.describe(name).rows
        spools = list((self.settings.data_dir / "spool").glob("*.sqlite"))
        answer = QMessageBox.question(
            self, "Clear Local Data",
            f"Delete the local tables ({len(catalog.names())}, {rows:,} rows) and the spool ({len(spools)} file(s), "
            "records not yet sent included) in\n"
            f"{self.settings.data_dir}?\n\nZeroStream restarts to do it. Settings, keys and logs are kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )  # fmt: skip
        if answer != QMessageBox.StandardButton.Yes:
            return False
        request_clear(self.settings.data_dir)
        self.restart_requested = True
        self.close()
        return True

    def open_setup_wizard(self) -> SetupWizard:
        """Tools > Set Up a Databricks Workspace: the provisioning wizard (nothing is created before Apply)."""
        from zerostream_desktop.ui.setup_wizard import SetupWizard  # the setup engine loads only when asked for

        wizard = SetupWizard(self.settings, parent=self)
        wizard.open()
        return wizard

    def open_local_stack_dialog(self) -> LocalStackDialog | None:
        if self._stack is None:
            return None
        endpoint, ca_cert, token = self._stack
        dialog = LocalStackDialog(endpoint or "", self.settings.full_table_name, self.settings.data_dir, ca_cert,
                                  token or "", self)  # fmt: skip
        dialog.open()
        return dialog

    def about_text(self) -> str:
        from zerostream_desktop.diagnostics import versions

        v = versions()
        names = ("databricks-zerobus-ingest-sdk", "databricks-sdk", "databricks-sql-connector", "deltalake",
                 "PySide6-Essentials")  # fmt: skip
        sdks = ", ".join(f"{name} {v[name]}" for name in names)
        return (f"ZeroStream {__version__}\nStream IoT sensor data into Databricks.\n\n"
                f"Python {v['python']} on {v['platform']}\n{sdks}")  # fmt: skip

    def shortcuts_text(self) -> str:
        """Every menu action that has a shortcut, as the menus name it."""
        lines = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for action in menu.actions() if isinstance(menu, QMenu) else []:
                if not action.shortcut().isEmpty():
                    name = action.text().replace("&", "").rstrip("…")
                    lines.append(f"{action.shortcut().toString(QKeySequence.SequenceFormat.NativeText):<16} "
                                 f"{menu_action.text().replace('&', '')} > {name}")  # fmt: skip
        return "\n".join(lines)

    def open_guide(self, heading: str) -> QDialog:
        """Help > a section of the user guide (the README), in a window of its own."""
        from zerostream_desktop.ui.readme_view import ReadmeDialog

        dialog = ReadmeDialog(heading, self)
        dialog.open()
        return dialog

    def _about(self) -> None:
        QMessageBox.about(self, "About ZeroStream", self.about_text())

    def _shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard Shortcuts", self.shortcuts_text(), parent=self)
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.open()

    def _restore_state(self) -> None:
        qs = QSettings()
        geometry = qs.value("main_window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = qs.value("main_window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.tabs.setCurrentIndex(int(str(qs.value("main_window/tab", 0))))
        self.simulator.restore_layout(qs)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.simulator.stop()
        qs = QSettings()
        qs.setValue("main_window/geometry", self.saveGeometry())
        qs.setValue("main_window/state", self.saveState())
        qs.setValue("main_window/tab", self.tabs.currentIndex())
        self.simulator.save_layout(qs)
        super().closeEvent(event)
        self.closed.emit()
