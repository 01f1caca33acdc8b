"""KPI tiles: a title and a big number each."""

from __future__ import annotations

import datetime as dt
import math

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from zerostream_desktop.core.analytics.model import Kpis

TILES = (
    ("total_events", "Total events"),
    ("unique_clients", "Unique clients"),
    ("data_ingested", "Data ingested"),
    ("active_clients", "Active connections"),
    ("events_per_s", "Events/s (last minute)"),
    ("ack_p95", "Ack latency p95"),
    ("send_delay_p95", "Send delay p95"),
    ("last_data", "Last data"),
)


TIPS = {
    "active_clients": "Devices with an event sent in the active window (ACTIVE_WINDOW_SECONDS)",
    "events_per_s": "Events sent over the last minute, each event counted once",
    "ack_p95": "Time from sending a batch to ZeroBus to its durable acknowledgement (this app's stream)",
    "send_delay_p95": (
        "Event time to the moment the ingest client sent it to ZeroBus (ingested_at − event_timestamp),\n"
        "over the last minute: how long events waited before they were sent. ZeroBus itself fills no column."
    ),
    "last_data": "The latest send time in the table (ingested_at)",
}


class KpiTile(QFrame):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, frameShape=QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        self.value = QLabel("–")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.value.setFont(font)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.value)


class KpiTiles(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = {key: KpiTile(title) for key, title in TILES}
        for key, tip in TIPS.items():
            self.tiles[key].setToolTip(tip)
        grid = QGridLayout(self)
        for i, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, i // 4, i % 4)

    def show_kpis(self, k: Kpis, ack_p95_ms: float | None = None, now: dt.datetime | None = None) -> None:
        t = self.tiles
        t["total_events"].value.setText(f"{k.total_events:,}")
        t["unique_clients"].value.setText(f"{k.unique_clients:,}")
        t["data_ingested"].value.setText(_bytes(k.bytes_ingested))
        t["active_clients"].value.setText(f"{k.active_clients:,}")
        t["events_per_s"].value.setText(f"{k.events_per_s:,.1f}  ({_bytes(k.bytes_per_s)}/s)")
        ok = ack_p95_ms is not None and not math.isnan(ack_p95_ms)
        t["ack_p95"].value.setText(f"{ack_p95_ms:,.0f} ms" if ok else "–")
        tt = k.send_delay_p95_s
        t["send_delay_p95"].value.setText("–" if tt is None else f"{tt:,.2f} s")
        t["last_data"].value.setText(_ago(k.last_data, now or dt.datetime.now(dt.UTC)))


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def _ago(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "no data yet"
    seconds = max(0.0, (now - when).total_seconds())
    return f"{seconds:.0f} s ago" if seconds < 120 else when.astimezone().strftime("%H:%M:%S")
