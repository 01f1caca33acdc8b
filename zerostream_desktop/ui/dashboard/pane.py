"""Dashboard pane: KPI tiles and the client table over the sensor table (charts and map come next)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from zerostream_desktop.core.analytics.model import Client, Kpis, SeriesPoint
from zerostream_desktop.ui.charts import SeriesChart
from zerostream_desktop.ui.dashboard.client_table_model import FILTER_ROLE, SORT_ROLE, ClientTableModel
from zerostream_desktop.ui.dashboard.kpi_tiles import KpiTiles

LANDED = "landed in the table"


class DashboardPane(QWidget):
    def __init__(self, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = KpiTiles()
        self.source = QLabel(f"Reading {source}")
        self.source.setWordWrap(True)
        self.clients = ClientTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.clients)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterRole(FILTER_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit(placeholderText="Filter clients by name or id", clearButtonEnabled=True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView(sortingEnabled=True, alternatingRowColors=True)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(50)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.events_chart = SeriesChart("events/s", {LANDED: "#1976d2"})
        self.latency_chart = SeriesChart("ms", {"ack p95": "#2e7d32", "time to table p95": "#8e24aa"})
        charts = QHBoxLayout()
        charts.addWidget(self.events_chart)
        charts.addWidget(self.latency_chart)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tiles)
        layout.addLayout(charts)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.source)

    def show_kpis(self, kpis: Kpis, ack_p95_ms: float | None = None, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        self.tiles.show_kpis(kpis, ack_p95_ms, now)
        t = now.timestamp()
        tt = kpis.time_to_table_p95_s
        self.latency_chart.add_point(t, {"ack p95": ack_p95_ms, "time to table p95": None if tt is None else tt * 1000})

    def show_series(self, series: list[SeriesPoint], now: dt.datetime) -> None:
        """Events landing in the table per second, as the store counts them (each event once)."""
        self.events_chart.set_series(now.timestamp(), LANDED, [(p.second.timestamp(), p.events) for p in series])

    def show_clients(self, clients: list[Client]) -> None:
        self.clients.set_rows(clients)

    def show_source(self, description: str) -> None:
        self.source.setText(f"Reading {description}")

    def show_error(self, message: str) -> None:
        self.source.setText(f"Cannot read the table: {message}")

    def show_waiting(self, message: str) -> None:
        self.source.setText(f"Waiting: {message}")
