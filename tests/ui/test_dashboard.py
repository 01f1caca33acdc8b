"""Dashboard KPI tiles show what the table holds, formatted for people."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from zerostream_desktop.core.analytics.model import Kpis, SeriesPoint
from zerostream_desktop.ui.dashboard.pane import DashboardPane

pytestmark = pytest.mark.ui
NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def test_tiles_show_the_kpis(qtbot):
    pane = DashboardPane("zerostream.sensors.sensor_stream")
    qtbot.addWidget(pane)
    kpis = Kpis(total_events=1_234_567, unique_clients=20, bytes_ingested=2_500_000, active_clients=18,
                events_per_s=123.4, bytes_per_s=40_000, send_delay_p50_s=0.2, send_delay_p95_s=0.45,
                last_data=NOW - dt.timedelta(seconds=3))  # fmt: skip
    pane.show_kpis(kpis, ack_p95_ms=87.0, now=NOW)
    text = {key: tile.value.text() for key, tile in pane.tiles.tiles.items()}
    assert text == {
        "total_events": "1,234,567", "unique_clients": "20", "data_ingested": "2.5 MB", "active_clients": "18",
        "events_per_s": "123.4  (40.0 KB/s)", "ack_p95": "87 ms", "send_delay_p95": "0.45 s", "last_data": "3 s ago",
    }  # fmt: skip


def test_empty_table_and_unknown_latency(qtbot):
    pane = DashboardPane("t")
    qtbot.addWidget(pane)
    pane.show_kpis(Kpis(), ack_p95_ms=float("nan"), now=NOW)
    assert pane.tiles.tiles["last_data"].value.text() == "no data yet"
    assert pane.tiles.tiles["ack_p95"].value.text() == "–"
    pane.show_error("file not found")
    assert "Cannot read the table: file not found" in pane.source.text()


def clients_for_test():
    from zerostream_desktop.core.analytics.model import Client, ClientStatus

    def c(cid, name, events, status, battery):
        return Client(cid, name, events, events * 300, NOW, NOW, 52.0, 4.0, battery, -90, 12.5, status)

    return [
        c("id-1", "Pixel 8 #00001", 5, ClientStatus.ACTIVE, 80),
        c("id-2", "Galaxy S24 #00002", 120, ClientStatus.OFFLINE, 9),
        c("id-3", "iPhone 15 #00003", 40, ClientStatus.IDLE, 100),
    ]


def test_client_table_sorts_numbers_as_numbers_filters_and_colours_status(qtbot):
    from PySide6.QtCore import Qt

    from zerostream_desktop.ui.dashboard.client_table_model import COL_EVENTS, COL_NAME, COL_STATUS, STATUS_COLOURS

    pane = DashboardPane("t")
    qtbot.addWidget(pane)
    pane.show_clients(clients_for_test())
    assert pane.clients.rowCount() == 3
    pane.table.sortByColumn(COL_EVENTS, Qt.SortOrder.DescendingOrder)
    assert [pane.clients.index(r, COL_EVENTS).data() for r in range(3)] == ["120", "40", "5"]
    pane.filter.setText("iphone")
    assert pane.clients.rowCount() == 1 and pane.clients.index(0, COL_NAME).data() == "iPhone 15 #00003"
    pane.filter.setText("id-2")  # the connection id works too
    status = pane.clients.index(0, COL_STATUS)
    assert status.data() == "● offline"
    assert status.data(Qt.ItemDataRole.ForegroundRole) == STATUS_COLOURS[clients_for_test()[1].status]
    pane.show_clients(clients_for_test())  # the next refresh: still filtered
    assert pane.clients.rowCount() == 1 and pane.clients.index(0, COL_STATUS).data() == "● offline"
    pane.filter.clear()
    pane.select_client("id-3")
    assert pane.selected_client == "id-3"
    pane.filter.setText("#0000")  # the selected client is among those shown: it stays selected
    [row] = pane.table.selectionModel().selectedRows()
    assert pane.clients.client(row.row()).connection_id == "id-3"
    pane.filter.setText("nothing like it")
    assert pane.clients.rowCount() == 0 and pane.selected_client == "id-3"  # its track stays on the map


def varied_clients(n: int):
    """Clients with every field varied, some missing (no name, no position, never seen since), for sorting."""
    from zerostream_desktop.core.analytics.model import Client, ClientStatus

    statuses = list(ClientStatus)
    return [
        Client(
            f"id-{i:03d}",
            None if i % 7 == 0 else f"Device {(i * 37) % n:03d}",
            (i * 13) % 29,
            (i * 31) % 17 * 300,
            NOW - dt.timedelta(seconds=i),
            None if i % 5 == 0 else NOW - dt.timedelta(seconds=(i * 11) % 23),
            None if i % 6 == 0 else 52.0 + (i * 17 % 11) / 100,
            None if i % 6 == 0 else 4.0 + i / 1000,
            None if i % 4 == 0 else (i * 7) % 101,
            -60 - (i * 3) % 40,
            None if i % 9 == 0 else (i * 5) % 33 / 2,
            statuses[i % 3],
        )  # fmt: skip
        for i in range(n)
    ]


def test_the_client_table_shows_sorts_and_selects_alike_from_columns_and_from_a_list(qtbot):
    """The desktop's reader sends clients as columns (ClientColumns); the table must not tell the difference."""
    from PySide6.QtCore import Qt

    from zerostream_desktop.core.analytics.model import ClientColumns
    from zerostream_desktop.ui.dashboard.client_table_model import HEADERS

    clients = varied_clients(60)
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole)

    def shown(pane: DashboardPane) -> list[list[object]]:
        return [[pane.clients.index(r, c).data(role) for c in range(len(HEADERS)) for role in roles]
                for r in range(pane.clients.rowCount())]  # fmt: skip

    from_list, from_columns = DashboardPane("t", with_map=False), DashboardPane("t", with_map=False)
    for pane in (from_list, from_columns):
        qtbot.addWidget(pane)
    from_list.show_clients(clients)
    from_columns.show_clients(ClientColumns.of(clients))
    assert shown(from_columns) == shown(from_list) and len(shown(from_list)) == 60
    for column in range(len(HEADERS)):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            for pane in (from_list, from_columns):
                pane.table.sortByColumn(column, order)
            assert shown(from_columns) == shown(from_list), (HEADERS[column], order)
    names = [from_columns.clients.index(r, 1).data() for r in range(60)]
    assert names != sorted(names) and names != [c.device_name or c.connection_id for c in clients]  # really sorted
    from_columns.select_client("id-042")
    moved = [dataclasses.replace(c, events=1000 - c.events) for c in clients]  # a refresh that reorders the rows
    from_list.show_clients(moved)
    from_columns.show_clients(ClientColumns.of(moved))
    for pane in (from_list, from_columns):
        pane.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    assert shown(from_columns) == shown(from_list)
    selected = from_columns.table.selectionModel().selectedRows()
    assert [from_columns.clients.index(i.row(), 0).data(Qt.ItemDataRole.ToolTipRole).split()[0] for i in selected] == [
        "id-042"
    ]
    assert from_columns.clients.row_of("id-042") >= 0 and from_columns.clients.row_of("nope") == -1


def test_the_feed_shows_the_tiles_at_once_then_the_table_and_ends_on_the_newest_refresh(qtbot):
    """The table and the map follow the tiles in event-loop turns of their own; a refresh that comes while
    they are drawn is the one they end on (not the older one, and not left undrawn)."""
    from zerostream_desktop.core.analytics.model import Refresh, Window
    from zerostream_desktop.core.analytics.refresher import DashboardRefresher, DashboardUpdate
    from zerostream_desktop.core.settings import load_settings
    from zerostream_desktop.ui.dashboard.client_table_model import COL_EVENTS
    from zerostream_desktop.ui.dashboard.feed import DashboardFeed

    pane = DashboardPane("t", with_map=False)
    qtbot.addWidget(pane)
    feed = DashboardFeed(pane, DashboardRefresher(load_settings(environ={}, search_dirs=[])))
    first, newer = varied_clients(30), [dataclasses.replace(c, events=c.events + 500) for c in varied_clients(40)]

    def update(clients, total: int) -> DashboardUpdate:
        return DashboardUpdate("data", NOW, "t", Refresh(Window(NOW), Kpis(total_events=total), clients))

    shown_devices: list[int] = []

    def devices_drawn(clients, devices=None) -> None:
        shown_devices.append(len(clients))
        if len(shown_devices) == 1:  # the newer refresh arrives while the first one's map is drawn
            feed.show(update(newer, 2))

    pane.show_devices = devices_drawn  # type: ignore[method-assign]
    feed.show(update(first, 1))
    assert pane.tiles.tiles["total_events"].value.text() == "1" and pane.clients.rowCount() == 0  # table: not yet
    qtbot.waitUntil(lambda: shown_devices == [30, 40], timeout=5000)
    assert pane.clients.rowCount() == 40 and pane.tiles.tiles["total_events"].value.text() == "2"
    assert sorted(int(pane.clients.index(r, COL_EVENTS).data()) for r in range(40)) == sorted(c.events for c in newer)


def test_charts_follow_arrivals_and_latency(qtbot):
    pane = DashboardPane("t")
    qtbot.addWidget(pane)
    for i, total in enumerate((0, 100, 300)):
        pane.show_kpis(Kpis(total_events=total, send_delay_p95_s=0.25), ack_p95_ms=80.0,
                       now=NOW + dt.timedelta(seconds=i))  # fmt: skip
    series = [SeriesPoint(NOW + dt.timedelta(seconds=s), n, n * 200) for s, n in ((0, 40), (1, 100), (2, 150))]
    pane.show_series(series, NOW + dt.timedelta(seconds=2, milliseconds=500))
    assert pane.events_chart.latest("in the table, by second sent") == pytest.approx(100.0)  # the last complete second
    pane.show_series(series, NOW + dt.timedelta(seconds=3))
    assert pane.events_chart.latest("in the table, by second sent") == pytest.approx(150.0)
    assert pane.latency_chart.latest("send delay p95") == pytest.approx(250.0)
    assert pane.latency_chart.latest("ack p95") == pytest.approx(80.0)
    pane.show_kpis(Kpis(total_events=300), ack_p95_ms=float("nan"), now=NOW + dt.timedelta(seconds=3))
    assert pane.latency_chart.latest("ack p95") == pytest.approx(80.0)  # an unknown value leaves a gap, not a zero


def test_the_data_quality_view_shows_what_a_faulty_fleet_sent(qtbot, tmp_path):
    from tests.analytics import dataset
    from tests.analytics.conftest import local_table
    from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
    from zerostream_desktop.core.analytics.model import QualityThresholds
    from zerostream_desktop.core.analytics.refresher import read_quality

    rows = dataset.rows()
    backend = LocalDeltaAnalytics(local_table(tmp_path, rows), incremental=False)
    want = dataset.expected_quality(rows, QualityThresholds())
    pane = DashboardPane("t", with_map=False)
    qtbot.addWidget(pane)
    with qtbot.waitSignal(pane.quality_shown) as shown:
        pane.views.setCurrentIndex(1)
    assert shown.args == [True]
    report = read_quality(backend, None)
    pane.show_quality(report, NOW, 123.0)
    text = {key: tile.value.text() for key, tile in pane.quality.tiles.items()}
    assert text["late"] == f"{want.late:,}" and text["duplicates"] == f"{want.duplicates:,}"
    assert text["jumps"] == f"{want.jumps:,} ({want.jump_devices:,} devices)"
    assert text["skewed_devices"] == str(want.skewed_devices)
    assert pane.quality.devices.rowCount() == len(report.devices) > 0
    assert "read again every 10 s" in pane.quality.status.text()
    worst = report.devices[0].connection_id
    pane.show_clients([c for c in backend.clients(dataset.WINDOW)])
    with qtbot.waitSignal(pane.track_requested) as asked:
        pane.quality.devices.selectRow(0)  # a device in the quality table selects it: its track and its marks
    assert asked.args == [worst] and pane.selected_client == worst
    backend.close()
