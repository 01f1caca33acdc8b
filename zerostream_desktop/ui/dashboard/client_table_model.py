"""Thin table model over the client list. It keeps its rows in the chosen sort order itself (one Python
sort with a key per refresh), so the proxy only filters: a proxy sorting 5,000 live rows calls back
into Python for every comparison and stalled the UI thread for tenths of a second each refresh."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
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
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: list[Client]) -> None:
        """Same clients: values change in place (reordered if the sort says so); new or gone ones: a reset."""
        rows = self._sorted(rows)
        ids = [c.connection_id for c in rows]
        old = [c.connection_id for c in self._rows]
        if ids == old:  # the usual refresh (10,000 rows: comparing lists, not building sets, saves ~2 ms)
            self._rows = rows
        elif len(ids) != len(old) or set(ids) != set(old):
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        else:
            self._relayout(rows)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(HEADERS) - 1))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self._relayout(self._sorted(self._rows))

    def _sorted(self, rows: list[Client]) -> list[Client]:
        if self._sort is None:
            return list(rows)
        column, order = self._sort
        return sorted(rows, key=lambda c: _sort_key(c, column), reverse=order == Qt.SortOrder.DescendingOrder)

    def _relayout(self, rows: list[Client]) -> None:
        """New order, same clients: persistent indexes (the selection) follow their client."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        ids = [self._rows[i.row()].connection_id if i.row() < len(self._rows) else None for i in old]
        self._rows = rows
        where = {c.connection_id: r for r, c in enumerate(rows)}
        new = [
            self.index(where[cid], i.column()) if cid in where else QModelIndex()
            for i, cid in zip(old, ids, strict=True)
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

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
        return "–" if c.last_seen is None else c.last_seen.astimezone().strftime("%H:%M:%S")
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
        COL_LAST_SEEN: float("-inf") if c.last_seen is None else c.last_seen.timestamp(),
        COL_BATTERY: -1 if c.battery_pct is None else c.battery_pct,
        COL_SIGNAL: -999 if c.signal_strength is None else c.signal_strength,
        COL_SPEED: -1.0 if c.speed_kmh is None else c.speed_kmh,
        COL_POSITION: (c.latitude or 0.0, c.longitude or 0.0),
    }
    return keys[col]


class FilterOnlyProxy(QSortFilterProxyModel):
    """Filters by FILTER_ROLE; sorting is passed to the source model, which sorts itself."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None and column >= 0:
            source.sort(column, order)
