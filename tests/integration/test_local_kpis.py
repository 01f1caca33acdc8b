"""KPIs from the local Delta table: exact counts, duplicates counted once, windows by ingestion time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter

TABLE = "zerostream.sensors.sensor_stream"
T0 = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def row(event_id: str, device: str, seconds: float, lag_s: float, size: int) -> dict:
    ingested = T0 + dt.timedelta(seconds=seconds)
    return {
        "event_id": event_id, "connection_id": device, "device_name": device,
        "event_timestamp": ingested - dt.timedelta(seconds=lag_s), "event_date": ingested.date(),
        "ingested_at": ingested, "payload_bytes": size,
    }  # fmt: skip


def write_rows(tmp_path: Path, rows: list[dict]) -> Path:
    from zerostream_desktop.core import schema

    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    arrow = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    from deltalake import write_deltalake

    write_deltalake(str(catalog.path(TABLE)), arrow, mode="append")  # fixed ingestion times, unlike the writer
    return catalog.path(TABLE)


def test_kpis_count_each_event_once_and_window_by_ingestion_time(tmp_path: Path):
    rows = [
        row("e1", "a", 0, 0.5, 100),
        row("e2", "a", 50, 1.0, 100),
        row("e3", "b", 100, 2.0, 200),
        row("e3", "b", 101, 2.0, 200),  # the same event landed twice (a resend)
        row("e4", "c", 110, 4.0, 300),
        row("e5", "'; DROP TABLE sensor_stream; --", 115, 1.0, 50),  # data, not SQL
    ]
    kpis = LocalDeltaAnalytics(write_rows(tmp_path, rows)).kpis(T0 + dt.timedelta(seconds=120), active_window_s=15)
    assert kpis.total_events == 5
    assert kpis.unique_clients == 4
    assert kpis.bytes_ingested == 950  # bytes landed, the resent copy included
    assert kpis.active_clients == 2  # c and the odd one landed within 15 s of t=120
    assert kpis.events_per_s == pytest.approx(3 / 60)  # e3 (once), e4, e5; e1 and e2 landed before t=60
    assert kpis.time_to_table_p50_s == pytest.approx(2.0)  # landings with lags 2, 2, 4, 1 s
    assert kpis.last_data == T0 + dt.timedelta(seconds=115)


def test_no_table_yet_means_zeros(tmp_path: Path):
    kpis = LocalDeltaAnalytics(tmp_path / "missing").kpis(T0, 15)
    assert kpis.total_events == 0 and kpis.last_data is None


def test_new_commits_are_seen_on_the_next_call(tmp_path: Path):
    path = write_rows(tmp_path, [row("e1", "a", 0, 0.1, 10)])
    backend = LocalDeltaAnalytics(path)
    assert backend.kpis(T0, 15).total_events == 1
    writer = GroupCommitWriter(TableCatalog(tmp_path))
    from zerostream_desktop.core import schema

    more = pa.Table.from_pylist([row("e2", "b", 1, 0.1, 10)], schema=schema.arrow_schema())
    writer.submit(TABLE, more).result(10)
    writer.close()
    assert backend.kpis(T0, 15).total_events == 2


def test_client_list_has_totals_latest_values_and_status(tmp_path: Path):
    from zerostream_desktop.core.analytics.local_delta import ClientStatus

    rows = [
        {**row("e1", "a", 0, 0.5, 100), "latitude": 1.0, "longitude": 2.0, "battery_pct": 90},
        {**row("e2", "a", 50, 0.5, 100), "latitude": 1.5, "longitude": 2.5, "battery_pct": 89},
        row("e3", "b", 250, 1.0, 300),
        row("e3", "b", 251, 1.0, 300),  # landed twice: counted once
        row("e4", "'; DROP TABLE sensor_stream; --", 299, 1.0, 10),
    ]
    backend = LocalDeltaAnalytics(write_rows(tmp_path, rows))
    now = T0 + dt.timedelta(seconds=300)
    clients = {c.connection_id: c for c in backend.clients(now, active_window_s=15, offline_after_s=200)}
    assert set(clients) == {"a", "b", "'; DROP TABLE sensor_stream; --"}
    a = clients["a"]
    assert (a.events, a.bytes, a.latitude, a.longitude, a.battery_pct) == (2, 200, 1.5, 2.5, 89)  # latest position
    assert clients["b"].bytes == 600  # bytes landed: both copies of e3
    assert a.first_seen == T0 - dt.timedelta(seconds=0.5)
    assert a.status is ClientStatus.OFFLINE  # last seen 250 s ago
    assert clients["b"].events == 1 and clients["b"].status is ClientStatus.IDLE  # 49 s ago
    assert clients["'; DROP TABLE sensor_stream; --"].status is ClientStatus.ACTIVE


def test_status_thresholds():
    from zerostream_desktop.core.analytics.local_delta import ClientStatus, client_status

    now = T0 + dt.timedelta(seconds=1000)
    assert client_status(now - dt.timedelta(seconds=15), now, 15, 300) is ClientStatus.ACTIVE
    assert client_status(now - dt.timedelta(seconds=16), now, 15, 300) is ClientStatus.IDLE
    assert client_status(now - dt.timedelta(seconds=301), now, 15, 300) is ClientStatus.OFFLINE
