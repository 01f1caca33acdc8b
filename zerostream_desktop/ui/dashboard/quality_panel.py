"""The data-quality view: what a messy fleet sent, as the table shows it.

Tiles for late and out-of-order events, duplicates, position jumps, stale fixes and skewed clocks;
the distribution of delays beyond each device's usual one; and the devices with findings, worst
first (a click selects the device: its track on the map gets rings where its points look wrong).
Read every ten seconds while the view is open (the queries read the whole table).
"""

from __future__ import annotations

import datetime as dt

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from zerostream_desktop.core.analytics.model import DELAY_BUCKETS_S, DeviceQuality, Quality, QualityThresholds
from zerostream_desktop.ui.dashboard.kpi_tiles import KpiTile

T = QualityThresholds()
TILES = (
    ("late", "Late events", f"Sent more than {T.late_s:g} s later than the device usually sends (offline, buffered)"),
    ("out_of_order", "Out of order", "Sent after a newer event of the same device"),
    ("duplicates", "Duplicates", "Rows beyond one per event id: sent twice, or resent after a failure"),
    ("jumps", "Position jumps", f"Fixes whose implied speed in and out is above {T.jump_kmh:g} km/h"),
    ("stale", "Stale fixes", f"The same position again while the device reports {T.stale_kmh:g} km/h or more"),
    ("skewed_devices", "Skewed clocks", f"Devices whose usual delay is {T.skew_s:g} s or more off the fleet's"),
)
BUCKET_LABELS = ("<1 s", "1–5 s", "5–30 s", "30 s–2 min", "2–10 min", "≥10 min")
DEVICE_COLUMNS = ("Device", "Events", "Late", "Out of order", "Jumps", "Stale", "Clock off by")
assert len(BUCKET_LABELS) == len(DELAY_BUCKETS_S) + 1


class QualityPanel(QWidget):
    device_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = {key: KpiTile(title) for key, title, _ in TILES}
        for tile in self.tiles.values():  # smaller than the KPI tiles above: the table below needs the room
            font = tile.value.font()
            font.setPointSizeF(font.pointSizeF() * 0.65)
            tile.value.setFont(font)
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (key, _, tip) in enumerate(TILES):
            self.tiles[key].setToolTip(tip)
            grid.addWidget(self.tiles[key], i // 3, i % 3)
        self.chart = pg.PlotWidget(background=None)
        self.chart.setMinimumHeight(110)
        self.chart.setMaximumHeight(150)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.setLabel("left", "events")
        self.chart.setLabel("bottom", "sent later than the device's usual delay")
        self.chart.getAxis("bottom").setTicks([list(enumerate(BUCKET_LABELS))])
        self.bars = pg.BarGraphItem(x=list(range(len(BUCKET_LABELS))), height=[0] * len(BUCKET_LABELS), width=0.7,
                                    brush="#7b1fa2")  # fmt: skip
        self.chart.addItem(self.bars)
        self.devices = QTableWidget(0, len(DEVICE_COLUMNS))
        self.devices.setHorizontalHeaderLabels(DEVICE_COLUMNS)
        self.devices.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.devices.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.devices.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.devices.verticalHeader().hide()
        self.devices.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.devices.horizontalHeader().setStretchLastSection(True)
        self.devices.itemSelectionChanged.connect(self._picked)
        self.status = QLabel("Reading the table for its data quality…")
        self.status.setWordWrap(True)
        line = QFrame(frameShape=QFrame.Shape.HLine)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.chart)
        layout.addWidget(line)
        layout.addWidget(QLabel("Devices with findings, worst first (select one to mark its track):"))
        layout.addWidget(self.devices, 1)
        layout.addWidget(self.status)
        self.quality: Quality | None = None
        self._filling = False

    def show_quality(self, quality: Quality, devices: list[DeviceQuality], now: dt.datetime, elapsed_ms: float) -> None:
        self.quality = quality
        values = {
            "late": quality.late, "out_of_order": quality.out_of_order, "duplicates": quality.duplicates,
            "jumps": quality.jumps, "stale": quality.stale, "skewed_devices": quality.skewed_devices,
        }  # fmt: skip
        for key, value in values.items():
            self.tiles[key].value.setText("n/a" if value is None else f"{value:,}")
        if quality.duplicates is None:
            self.tiles["duplicates"].setToolTip("Not measurable here: a Lakebase synced table keeps one row per event")
        if quality.jump_devices:
            self.tiles["jumps"].value.setText(f"{quality.jumps:,} ({quality.jump_devices:,} devices)")
        self.bars.setOpts(height=list(quality.delay_buckets))
        self.chart.setYRange(0, max(1, max(quality.delay_buckets)) * 1.1, padding=0)
        self._fill(devices)
        self.status.setText(
            f"{quality.events:,} events read at {now.astimezone():%H:%M:%S} in {elapsed_ms:,.0f} ms; "
            "read again every 10 s while this view is open"
        )

    def _fill(self, devices: list[DeviceQuality]) -> None:
        selected = self.selected_device()
        self._filling = True
        try:
            self.devices.setRowCount(len(devices))
            for row, d in enumerate(devices):
                skew = "" if d.skew_s is None or abs(d.skew_s) < 1 else f"{d.skew_s:+,.0f} s"
                cells = (d.connection_id, f"{d.events:,}", f"{d.late:,}", f"{d.out_of_order:,}", f"{d.jumps:,}",
                         f"{d.stale:,}", skew)  # fmt: skip
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if col:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.devices.setItem(row, col, item)
                if d.connection_id == selected:
                    self.devices.selectRow(row)
        finally:
            self._filling = False

    def selected_device(self) -> str | None:
        rows = self.devices.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.devices.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def _picked(self) -> None:
        if not self._filling and (device := self.selected_device()):
            self.device_selected.emit(device)
