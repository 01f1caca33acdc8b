"""Thin table model over the client list. It sorts and filters its rows itself, once per refresh: a proxy
sorting 5,000 live rows called back into Python for every comparison and stalled the UI thread for tenths
of a second each refresh, and a proxy that only filtered still made every repaint of the table (one a
second, 200 cells) a third slower, mapping each cell's index and asking the model for its size each time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from zerostream_desktop.core.analytics.model import Client, ClientColumns, ClientStatus
from zerostream_desktop.ui.table_model import HeaderTableModel, Index

COL_STATUS, COL_NAME, COL_EVENTS, COL_BYTES, COL_LAST_SEEN, COL_BATTERY, COL_SIGNAL, COL_SPEED, COL_POSITION = range(9)
HEADERS = ("Status", "Device", "Events", "Data", "Last seen", "Battery %", "Signal dBm", "Speed km/h", "Position")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
# roles as plain ints: data() is called for seven roles of each cell a repaint draws, and reading an enum
# member from Qt's namespace is an attribute lookup through the binding each time
_DISPLAY, _FOREGROUND, _ALIGN, _TOOLTIP, _SORT = (int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.ToolTipRole, SORT_ROLE))  # fmt: skip
_ROLES = frozenset((_DISPLAY, _FOREGROUND, _ALIGN, _TOOLTIP, _SORT))
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
STATUS_COLOURS = {
    ClientStatus.ACTIVE: QColor("#2e7d32"),
    ClientStatus.IDLE: QColor("#ef6c00"),
    ClientStatus.OFFLINE: QColor("#9e9e9e"),
}


class ClientTableModel(HeaderTableModel):
    HEADERS = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: Sequence[Client] = []  # as the refresh gave them
        self._filter = ""  # lower case; a row shows when its name or id contains it
        self._rows: Sequence[Client] = []  # sorted and filtered: what the table shows
        self._ids: list[str] = []
        self._made: dict[int, Client] = {}  # rows of ClientColumns made into Clients since the last refresh
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: Sequence[Client]) -> None:
        """Same clients: values change in place (reordered if the sort says so); new or gone ones: a reset."""
        self._all = rows
        rows = self._shown(rows)
        ids = _column(rows, "connection_id")
        if ids == self._ids:  # the usual refresh (10,000 rows: comparing lists, not building sets, saves ~2 ms)
            self._keep(rows, ids)
        elif len(ids) != len(self._ids) or set(ids) != set(self._ids):
            self.beginResetModel()
            self._keep(rows, ids)
            self.endResetModel()
            return
        else:
            self._relayout(rows)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(HEADERS) - 1))

    def _keep(self, rows: Sequence[Client], ids: list[str]) -> None:
        self._rows, self._ids, self._made = rows, ids, {}

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self._relayout(self._shown(self._all))

    def set_filter(self, text: str) -> None:
        """Show only the clients whose name or id contains `text` (any case); all of them for ''."""
        self._filter = text.strip().lower()
        self.beginResetModel()  # other rows, not the same ones moved: the view starts again (the pane reselects)
        rows = self._shown(self._all)
        self._keep(rows, _column(rows, "connection_id"))
        self.endResetModel()

    def _shown(self, rows: Sequence[Client]) -> Sequence[Client]:
        return self._filtered(self._sorted(rows))

    def _filtered(self, rows: Sequence[Client]) -> Sequence[Client]:
        if not self._filter:
            return rows
        names, ids = _column(rows, "device_name"), _column(rows, "connection_id")
        keep = [i for i, (n, c) in enumerate(zip(names, ids, strict=True)) if self._filter in f"{n or ''} {c}".lower()]
        return rows.take(keep) if isinstance(rows, ClientColumns) else [rows[i] for i in keep]

    def _sorted(self, rows: Sequence[Client]) -> Sequence[Client]:
        if self._sort is None:
            return rows if isinstance(rows, ClientColumns) else list(rows)
        column, order = self._sort
        keys = _sort_keys(rows, column)
        ranks = sorted(range(len(keys)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        return rows.take(ranks) if isinstance(rows, ClientColumns) else [rows[i] for i in ranks]

    def _relayout(self, rows: Sequence[Client]) -> None:
        """New order, same clients: persistent indexes (the selection) follow their client."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        ids = [self._ids[i.row()] if i.row() < len(self._ids) else None for i in old]
        self._keep(rows, _column(rows, "connection_id"))
        where = {cid: r for r, cid in enumerate(self._ids)}
        new = [
            self.index(where[cid], i.column()) if cid in where else QModelIndex()
            for i, cid in zip(old, ids, strict=True)
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def client(self, row: int) -> Client:
        made = self._made.get(row)
        if made is None:
            made = self._made[row] = self._rows[row]
        return made

    def row_of(self, connection_id: str) -> int:
        """The row of a client, or -1."""
        try:
            return self._ids.index(connection_id)
        except ValueError:
            return -1

    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        if role not in _ROLES or not index.isValid():  # the delegate asks for fonts, icons, backgrounds...
            return None
        col = index.column()
        if role == _ALIGN:
            return _RIGHT if col in _RIGHT_ALIGNED else None
        if role == _FOREGROUND and col != COL_STATUS:
            return None
        c = self.client(index.row())
        if role == _DISPLAY:
            return _display(c, col)
        if role == _FOREGROUND:
            return STATUS_COLOURS[c.status]
        if role == _SORT:
            return _sort_keys([c], col)[0]
        return f"{c.connection_id}\nfirst seen {c.first_seen:%Y-%m-%d %H:%M:%S} UTC"  # the tooltip


_RIGHT_ALIGNED = frozenset((COL_EVENTS, COL_BYTES, COL_BATTERY, COL_SIGNAL, COL_SPEED))


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


def _column(rows: Sequence[Client], name: str) -> list[Any]:
    if isinstance(rows, ClientColumns):
        return rows.columns[name]
    return [getattr(c, name) for c in rows]


_STATUS_RANK = {s: i for i, s in enumerate(ClientStatus)}


def _sort_keys(rows: Sequence[Client], col: int) -> list[Any]:
    """Each row's key for sorting by `col`, read from the columns (no Client is made for it)."""
    if col == COL_STATUS:
        return [_STATUS_RANK[s] for s in _column(rows, "status")]
    if col == COL_NAME:
        names, ids = _column(rows, "device_name"), _column(rows, "connection_id")
        return [(n or c).lower() for n, c in zip(names, ids, strict=True)]
    if col == COL_POSITION:
        lats, lons = _column(rows, "latitude"), _column(rows, "longitude")
        return [(a or 0.0, b or 0.0) for a, b in zip(lats, lons, strict=True)]
    if col == COL_LAST_SEEN:
        return [float("-inf") if t is None else t.timestamp() for t in _column(rows, "last_seen")]
    name, missing = {COL_EVENTS: ("events", 0), COL_BYTES: ("bytes", 0), COL_BATTERY: ("battery_pct", -1),
                     COL_SIGNAL: ("signal_strength", -999), COL_SPEED: ("speed_kmh", -1.0)}[col]  # fmt: skip
    return [missing if v is None else v for v in _column(rows, name)]
