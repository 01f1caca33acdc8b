"""Dashboard pane: KPI tiles over the sensor table (charts, client table and map come next)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from zerostream_desktop.core.analytics.local_delta import Kpis
from zerostream_desktop.ui.dashboard.kpi_tiles import KpiTiles


class DashboardPane(QWidget):
    def __init__(self, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = KpiTiles()
        self.source = QLabel(f"Reading {source}")
        self.source.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tiles)
        layout.addWidget(self.source)
        layout.addStretch(1)

    def show_kpis(self, kpis: Kpis, ack_p95_ms: float | None = None, now: dt.datetime | None = None) -> None:
        self.tiles.show_kpis(kpis, ack_p95_ms, now)

    def show_error(self, message: str) -> None:
        self.source.setText(f"Cannot read the table: {message}")
