"""Thin table model over fleet snapshots: one row per device, live values."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt

from zerostream_desktop.core.fleet import Mode
from zerostream_desktop.ui.table_model import HeaderTableModel, Index

COL_NAME, COL_MODE, COL_SPEED, COL_HEADING, COL_BATTERY, COL_LAT, COL_LON = range(7)
HEADERS = ("Device", "Mode", "Speed km/h", "Heading", "Battery %", "Latitude", "Longitude")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_MODE_NAMES = {m.value: m.name.capitalize() for m in Mode}


class DeviceTableModel(HeaderTableModel):
    HEADERS = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._values: dict[str, np.ndarray] = {}

    def set_rows(self, names: list[str], snapshot: dict[str, np.ndarray]) -> None:
        """Replace the rows; same device count means only the value columns changed."""
        if len(names) != len(self._names):
            self.beginResetModel()
            self._names, self._values = list(names), snapshot
            self.endResetModel()
            return
        self._names, self._values = list(names), snapshot
        if names:
            self.dataChanged.emit(self.index(0, COL_MODE), self.index(len(names) - 1, COL_LON))

    def row_count(self) -> int:
        return len(self._names)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == SORT_ROLE:
            return self._sort_value(row, col)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= COL_SPEED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _sort_value(self, row: int, col: int) -> Any:
        if col == COL_NAME:
            return self._names[row]
        return float(self._column(col)[row])

    def _column(self, col: int) -> np.ndarray:
        key = {COL_MODE: "mode", COL_SPEED: "speed_kmh", COL_HEADING: "heading_deg", COL_BATTERY: "battery_pct",
               COL_LAT: "latitude", COL_LON: "longitude"}[col]  # fmt: skip
        return self._values[key]

    def _display(self, row: int, col: int) -> str:
        if col == COL_NAME:
            return self._names[row]
        value = self._column(col)[row]
        if col == COL_MODE:
            return _MODE_NAMES[int(value)]
        if col in (COL_LAT, COL_LON):
            return f"{value:.5f}"
        if col == COL_BATTERY:
            charging = " ⚡" if self._values["charging"][row] else ""
            return f"{value:.0f}{charging}"
        return f"{round(value) % 360}" if col == COL_HEADING else f"{value:.1f}"
