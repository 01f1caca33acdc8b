"""Dashboard KPI tiles show what the table holds, formatted for people."""

from __future__ import annotations

import datetime as dt

import pytest

from zerostream_desktop.core.analytics.local_delta import Kpis
from zerostream_desktop.ui.dashboard.pane import DashboardPane

pytestmark = pytest.mark.ui
NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def test_tiles_show_the_kpis(qtbot):
    pane = DashboardPane("zerostream.sensors.sensor_stream")
    qtbot.addWidget(pane)
    kpis = Kpis(total_events=1_234_567, unique_clients=20, bytes_ingested=2_500_000, active_clients=18,
                events_per_s=123.4, bytes_per_s=40_000, time_to_table_p50_s=0.2, time_to_table_p95_s=0.45,
                last_data=NOW - dt.timedelta(seconds=3))  # fmt: skip
    pane.show_kpis(kpis, ack_p95_ms=87.0, now=NOW)
    text = {key: tile.value.text() for key, tile in pane.tiles.tiles.items()}
    assert text == {
        "total_events": "1,234,567", "unique_clients": "20", "data_ingested": "2.5 MB", "active_clients": "18",
        "events_per_s": "123.4  (40.0 KB/s)", "ack_p95": "87 ms", "time_to_table_p95": "0.45 s", "last_data": "3 s ago",
    }  # fmt: skip


def test_empty_table_and_unknown_latency(qtbot):
    pane = DashboardPane("t")
    qtbot.addWidget(pane)
    pane.show_kpis(Kpis(), ack_p95_ms=float("nan"), now=NOW)
    assert pane.tiles.tiles["last_data"].value.text() == "no data yet"
    assert pane.tiles.tiles["ack_p95"].value.text() == "–"
    pane.show_error("file not found")
    assert "Cannot read the table: file not found" in pane.source.text()
