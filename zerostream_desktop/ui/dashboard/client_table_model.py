"""Thin table model over the client list; the proxy sorts by SORT_ROLE and filters by name or id."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from zerostream_desktop.core.analytics.model import Client, ClientStatus
from zerostream_desktop.ui.table_model import HeaderTableModel, Index

COL_STATUS, COL_NAME, COL_EVENTS, COL_BYTES, COL_LAST_SEEN, COL_BATTERY, COL_SIGNAL, COL_SPEED, COL_POSITION = range(9)
HEADERS = ("Status", "Device", "Events", "Data", "Last seen", "Battery %", "Signal dBm", "Speed km/h", "Position")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_COLOURS = {
    ClientStatus.ACTIVE: QColor("#2e7d32"),
    ClientStatus.IDLE: QColor("#ef6c00"),
    ClientStatus.OFFLINE: QColor("#9e9e9e"),
}


class ClientTableModel(HeaderTableModel):
    HEADERS = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Client] = []

    def set_rows(self, rows: list[Client]) -> None:
        """Same clients in the same order: only values changed; otherwise a reset."""
        same = len(rows) == len(self._rows) and all(
            a.connection_id == b.connection_id for a, b in zip(rows, self._rows, strict=True)
        )
        if not same:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
            return
        self._rows = list(rows)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(HEADERS) - 1))

    def client(self, row: int) -> Client:
        return self._rows[row]

    def row_of(self, connection_id: str) -> int:
        """The row of a client, or -1."""
        for i, c in enumerate(self._rows):
            if c.connection_id == connection_id:
                return i
        return -1

    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        c = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(c, col)
        if role == SORT_ROLE:
            return _sort_key(c, col)
        if role == FILTER_ROLE:
            return f"{c.device_name or ''} {c.connection_id}"
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            return STATUS_COLOURS[c.status]
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (
            COL_EVENTS,
            COL_BYTES,
            COL_BATTERY,
            COL_SIGNAL,
            COL_SPEED,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{c.connection_id}\nfirst seen {c.first_seen:%Y-%m-%d %H:%M:%S} UTC"
        return None


def _display(c: Client, col: int) -> str:
    if col == COL_STATUS:
        return f"● {c.status}"
    if col == COL_NAME:
        return c.device_name or c.connection_id
    if col == COL_EVENTS:
        return f"{c.events:,}"
    if col == COL_BYTES:
        return f"{c.bytes / 1000:,.1f} KB"
    if col == COL_LAST_SEEN:
        return c.last_seen.astimezone().strftime("%H:%M:%S")
    if col == COL_POSITION:
        return "–" if c.latitude is None else f"{c.latitude:.5f}, {c.longitude:.5f}"
    value = {COL_BATTERY: c.battery_pct, COL_SIGNAL: c.signal_strength, COL_SPEED: c.speed_kmh}[col]
    return "–" if value is None else (f"{value:.1f}" if col == COL_SPEED else f"{value}")


def _sort_key(c: Client, col: int) -> Any:
    keys = {
        COL_STATUS: list(ClientStatus).index(c.status),
        COL_NAME: (c.device_name or c.connection_id).lower(),
        COL_EVENTS: c.events,
        COL_BYTES: c.bytes,
        COL_LAST_SEEN: c.last_seen.timestamp(),
        COL_BATTERY: -1 if c.battery_pct is None else c.battery_pct,
        COL_SIGNAL: -999 if c.signal_strength is None else c.signal_strength,
        COL_SPEED: -1.0 if c.speed_kmh is None else c.speed_kmh,
        COL_POSITION: (c.latitude or 0.0, c.longitude or 0.0),
    }
    return keys[col]
