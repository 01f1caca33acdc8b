"""The raw stream: the latest rows as they landed (resends included), paged, for one client or all.

The same query as the web dashboard's raw view (`Analytics.events`), read off the UI thread from
the backend the dashboard opened.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget

from zerostream_desktop.core.analytics import Analytics
from zerostream_desktop.core.errors import first_line
from zerostream_desktop.ui.background import Background
from zerostream_desktop.ui.table_model import HeaderTableModel, Index

PAGE = 50
COLUMNS = (
    ("Event time", "event_timestamp"), ("Sent", "ingested_at"), ("Client", "connection_id"),
    ("Device", "device_name"), ("Lat", "latitude"), ("Lon", "longitude"), ("Speed km/h", "speed_kmh"),
    ("Heading", "heading_deg"), ("Battery %", "battery_pct"), ("Signal dBm", "signal_strength"),
    ("Bytes", "payload_bytes"), ("Offset", "zerobus_offset"), ("Event id", "event_id"),
)  # fmt: skip


def _text(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in ("event_timestamp", "ingested_at"):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if key in ("latitude", "longitude"):
        return f"{value:.5f}"
    if key in ("speed_kmh", "heading_deg"):
        return f"{value:.1f}"
    return str(value)


class EventsModel(HeaderTableModel):
    HEADERS = tuple(title for title, _ in COLUMNS)

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_count(self) -> int:
        return len(self.rows)

    def data(self, index: Index = QModelIndex(), role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: B008
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        key = COLUMNS[index.column()][1]
        return _text(key, self.rows[index.row()].get(key))


class RawStreamView(QWidget):
    """`backend()` gives the dashboard's open backend, or None while it is still opening."""

    def __init__(self, backend: Callable[[], Analytics | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._backend = backend
        self.background = Background(self, name="raw-stream")
        self.offset = 0
        self.model = EventsModel()
        self.client = QLineEdit(placeholderText="Client id (all clients if empty)", clearButtonEnabled=True)
        self.client.returnPressed.connect(self.first_page)
        self.newer = QPushButton("◀ &Newer")
        self.older = QPushButton("&Older ▶")
        self.refresh_button = QPushButton("Re&fresh")
        self.page_label = QLabel("page 1")
        self.info = QLabel("")
        self.newer.clicked.connect(lambda: self.load(max(0, self.offset - PAGE)))
        self.older.clicked.connect(lambda: self.load(self.offset + PAGE))
        self.refresh_button.clicked.connect(lambda: self.load(self.offset))
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        bar = QHBoxLayout()
        for w in (self.client, self.newer, self.page_label, self.older, self.refresh_button):
            bar.addWidget(w)
        bar.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def first_page(self) -> None:
        self.load(0)

    def load(self, offset: int) -> None:
        backend = self._backend()
        if backend is None:
            self.info.setText("The dashboard is still opening its data source; try again in a moment.")
            return
        client = self.client.text().strip() or None
        self.info.setText("reading…")
        started = time.perf_counter()

        def shown(rows: list[dict[str, Any]]) -> None:
            self.offset = offset
            self.model.set_rows(rows)
            self.table.resizeColumnsToContents()
            self.page_label.setText(f"page {offset // PAGE + 1}")
            self.info.setText(f"{len(rows)} rows in {(time.perf_counter() - started) * 1000:.0f} ms")
            self.newer.setEnabled(offset > 0)
            self.older.setEnabled(len(rows) == PAGE)

        self.background.run(lambda: backend.events(client, PAGE, offset), shown,
                            lambda exc: self.info.setText(f"Cannot read the table: {first_line(exc)}"))  # fmt: skip
