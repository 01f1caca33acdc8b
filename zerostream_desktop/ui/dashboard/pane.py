"""Dashboard pane: KPI tiles, charts, the client table and the map, over the analytics backend.

Selecting a client (in the table or on the map) asks for its track (`track_requested`); Follow
keeps it coming (`follow_toggled`). The feed (`feed.py`) hands back what to draw: the pane never
reads data itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from zerostream_desktop.core.analytics.map_payload import DevicesJson
from zerostream_desktop.core.analytics.model import Client, Kpis, SeriesPoint, Track
from zerostream_desktop.core.analytics.refresher import QualityReport
from zerostream_desktop.ui.charts import SeriesChart
from zerostream_desktop.ui.dashboard.client_table_model import ClientTableModel
from zerostream_desktop.ui.dashboard.kpi_tiles import KpiTiles
from zerostream_desktop.ui.dashboard.quality_panel import QualityPanel

LANDED = "in the table, by second sent"
EMPTY_HINT = ("Nothing in the table yet. Press Start (Ctrl+R) to stream the simulated fleet: the figures, "
              "the clients and their tracks appear here within a few seconds.")  # fmt: skip


class DashboardPane(QWidget):
    track_requested = Signal(str)  # a client was selected: its track is wanted now ("" = none)
    follow_toggled = Signal(bool)  # Follow on: the selected track is wanted on every refresh
    quality_shown = Signal(bool)  # the data-quality view was opened (True) or left

    def __init__(self, source: str, parent: QWidget | None = None, with_map: bool = True) -> None:
        super().__init__(parent)
        self.selected_client: str | None = None
        self.tiles = KpiTiles()
        self.source = QLabel(f"Reading {source}")
        self.source.setWordWrap(True)
        self.clients = ClientTableModel(self)
        self.filter = QLineEdit(placeholderText="Filter clients by name or id", clearButtonEnabled=True)
        self.filter.textChanged.connect(self._filter_changed)
        self.table = QTableView(sortingEnabled=True)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # long device names are elided, rows stay one line high
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.empty_hint = QLabel(EMPTY_HINT)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("background: #e3f2fd; border-radius: 4px; padding: 8px")
        self.table.setModel(self.clients)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(50)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # sized once (below), not every refresh
        header.setStretchLastSection(True)
        self.events_chart = SeriesChart("events/s", {LANDED: "#1976d2"})
        self.latency_chart = SeriesChart("ms", {"ack p95": "#2e7d32", "send delay p95": "#8e24aa"})
        charts = QHBoxLayout()
        charts.addWidget(self.events_chart)
        charts.addWidget(self.latency_chart)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        clients = QWidget()
        left_layout = QVBoxLayout(clients)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.empty_hint)
        left_layout.addWidget(self.filter)
        left_layout.addWidget(self.table, 1)
        self.quality = QualityPanel()
        self.quality.device_selected.connect(self.select_client)
        self.views = QTabWidget()
        self.views.setObjectName("dashboardViews")
        self.views.addTab(clients, "C&lients")
        quality_scroll = QScrollArea(widgetResizable=True)  # small screens: it scrolls, the window still fits
        quality_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        quality_scroll.setWidget(self.quality)
        self.views.addTab(quality_scroll, "Data &Quality")
        self.views.currentChanged.connect(lambda i: self.quality_shown.emit(self.views.widget(i) is quality_scroll))
        self._quality_tab = quality_scroll
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("dashboardSplitter")
        self.splitter.addWidget(self.views)
        self.map = None
        self.follow = QCheckBox("&Follow")
        self.follow.setToolTip("Keep the selected track growing live and in view")
        self.follow.setChecked(True)
        self.follow.toggled.connect(self.follow_toggled)
        self.track_label = QLabel("Select a client to see its track")
        if with_map:
            from zerostream_desktop.ui.map_view import MapView

            self.map = MapView()
            self.map.device_clicked.connect(self.select_client)
            self.map.track_drawn.connect(self._track_drawn)
            right = QWidget()
            right_layout = QVBoxLayout(right)
            right_layout.setContentsMargins(0, 0, 0, 0)
            bar = QHBoxLayout()
            bar.addWidget(self.track_label, 1)
            bar.addWidget(self.follow)
            right_layout.addLayout(bar)
            right_layout.addWidget(self.map, 1)
            self.splitter.addWidget(right)
            self.splitter.setSizes([500, 600])
        layout = QVBoxLayout(self)
        layout.addWidget(self.tiles)
        layout.addLayout(charts)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.source)

    @property
    def following(self) -> bool:
        return self.follow.isChecked()

    def show_kpis(self, kpis: Kpis, ack_p95_ms: float | None = None, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        self.empty_hint.setVisible(kpis.total_events == 0)
        self.tiles.show_kpis(kpis, ack_p95_ms, now)
        t = now.timestamp()
        tt = kpis.send_delay_p95_s
        self.latency_chart.add_point(t, {"ack p95": ack_p95_ms, "send delay p95": None if tt is None else tt * 1000})

    def show_series(self, series: list[SeriesPoint], now: dt.datetime) -> None:
        """Events in the table per second they were sent (ingested_at), as the store counts them (each once)."""
        complete = [p for p in series if p.second + dt.timedelta(seconds=1) <= now]  # not the second still filling
        self.events_chart.set_series(now.timestamp(), LANDED, [(p.second.timestamp(), p.events) for p in complete])

    def show_clients(self, clients: Sequence[Client], devices: DevicesJson | None = None) -> None:
        """The client table, and the map's devices (`devices`: their JSON, if the refresh brought it)."""
        self.show_table(clients)
        self.show_devices(clients, devices)

    def show_table(self, clients: Sequence[Client]) -> None:
        first = self.clients.rowCount() == 0
        self.clients.set_rows(clients)
        if first and clients:
            self.table.resizeColumnsToContents()
        if self.selected_client and not self.table.selectionModel().hasSelection():
            self._select_row(self.selected_client)  # a reset (new clients) dropped the selection

    def show_devices(self, clients: Sequence[Client], devices: DevicesJson | None = None) -> None:
        if self.map is not None and self.map.isVisible():  # behind the Simulator tab: nothing to redraw
            self.map.show_devices(clients, devices)

    def show_track(self, track: Track) -> None:
        """Draw the selected client's track (the app calls this with what the backend returned)."""
        if self.map is None or track.connection_id != self.selected_client:
            return
        row = self.clients.row_of(track.connection_id)
        name = self.clients.client(row).device_name if row >= 0 else None
        first = self.map.last_track is None or self.map.last_track.get("id") != track.connection_id
        self.map.show_track(track, name=name, fit=first, follow=self.follow.isChecked())

    def show_quality(self, report: QualityReport, now: dt.datetime, elapsed_ms: float) -> None:
        """The data-quality view's figures, and rings on the selected track where its points look wrong."""
        self.quality.show_quality(report.quality, report.devices, now, elapsed_ms)
        selected = self.selected_client
        if self.map is not None and report.points is not None and selected and report.points_of == selected:
            self.map.show_marks(selected, report.points)

    def select_client(self, connection_id: str) -> None:
        """Select a client as if clicked in the table (the map calls this)."""
        if not self._select_row(connection_id) and self.filter.text():
            self.filter.clear()  # the filter hid it
            self._select_row(connection_id)

    def _filter_changed(self, text: str) -> None:
        self.clients.set_filter(text)
        if self.selected_client:
            self._select_row(self.selected_client)  # still selected if the filter shows it

    def _select_row(self, connection_id: str) -> bool:
        row = self.clients.row_of(connection_id)
        if row < 0:
            return False
        index = self.clients.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(index, flags)
        self.table.scrollTo(index)
        return True

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return  # keep the track: a model reset clears the selection for a moment
        client = self.clients.client(rows[0].row())
        if client.connection_id == self.selected_client:
            return
        self.selected_client = client.connection_id
        self.track_label.setText(f"Track of {client.device_name or client.connection_id}: loading…")
        if self.map is not None:
            self.map.select(client.connection_id)
        self.track_requested.emit(client.connection_id)

    def _track_drawn(self, info: dict[str, object]) -> None:
        row = self.clients.row_of(str(info["id"]))
        name = (self.clients.client(row).device_name if row >= 0 else None) or info["id"]
        points, total = info.get("points", 0), info.get("total", 0)
        more = f" (of the latest {total:,}, downsampled)" if total != points else ""
        self.track_label.setText(f"Track of {name}: {points:,} points{more}")

    def show_source(self, description: str) -> None:
        self.source.setText(f"Reading {description}")

    def show_error(self, message: str) -> None:
        self.source.setText(f"Cannot read the table: {message}")

    def show_waiting(self, message: str) -> None:
        self.source.setText(f"Waiting: {message}")
