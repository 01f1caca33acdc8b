"""Dashboard pane: KPI tiles and the client table over the sensor table (charts and map come next)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from zerostream_desktop.core.analytics.local_delta import Client, Kpis
from zerostream_desktop.ui.dashboard.client_table_model import FILTER_ROLE, SORT_ROLE, ClientTableModel
from zerostream_desktop.ui.dashboard.kpi_tiles import KpiTiles


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
        layout = QVBoxLayout(self)
        layout.addWidget(self.tiles)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.source)

    def show_kpis(self, kpis: Kpis, ack_p95_ms: float | None = None, now: dt.datetime | None = None) -> None:
        self.tiles.show_kpis(kpis, ack_p95_ms, now)

    def show_clients(self, clients: list[Client]) -> None:
        self.clients.set_rows(clients)

    def show_error(self, message: str) -> None:
        self.source.setText(f"Cannot read the table: {message}")
