"""The local backend's incremental state agrees with a full recompute on every refresh while data streams in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from tests.analytics import dataset
from tests.analytics.conftest import TABLE, local_table
from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.model import ClientStatus, Window, client_status
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter

pytestmark = pytest.mark.integration


def same_answers(a: LocalDeltaAnalytics, b: LocalDeltaAnalytics, w: Window, cid: str) -> None:
    ka, kb = a.kpis(w), b.kpis(w)  # percentiles: numpy and DuckDB may round the last microsecond apart
    assert dataclasses.replace(ka, send_delay_p50_s=None, send_delay_p95_s=None) == dataclasses.replace(
        kb, send_delay_p50_s=None, send_delay_p95_s=None
    )
    for pa_, pb in ((ka.send_delay_p50_s, kb.send_delay_p50_s), (ka.send_delay_p95_s, kb.send_delay_p95_s)):
        assert (pa_ is None) == (pb is None) and (pa_ is None or abs(pa_ - pb) <= 2e-6)
    assert a.clients(w) == b.clients(w)
    assert a.track(cid, limit=300, max_points=40) == b.track(cid, limit=300, max_points=40)
    assert a.series(w, 120) == b.series(w, 120)


RESEND = dt.timedelta(seconds=4)


def test_incremental_equals_full_recompute_on_every_refresh(tmp_path: Path):
    rows = dataset.rows()
    rng = random.Random(3)
    path = local_table(tmp_path, rows[:50])
    inc, full = LocalDeltaAnalytics(path), LocalDeltaAnalytics(path, incremental=False)
    inc.kpis(dataset.WINDOW)  # state built from the first 50 rows; everything after comes from the feed
    i, refreshes = 50, 0
    while i < len(rows):
        n = rng.randrange(1, 900)
        batch = rows[i : i + n]
        if rng.random() < 0.3:  # a reconnect resends some of what had landed, stamped with the resend's time
            resent = rng.sample(rows[:i], 20)
            batch = batch + [{**r, "ingested_at": r["ingested_at"] and r["ingested_at"] + RESEND} for r in resent]
        write_deltalake(str(path), dataset.arrow(batch), mode="append")
        i += n
        if rng.random() < 0.15:
            DeltaTable(str(path)).optimize.compact()  # what localbus does every 200 commits: no new rows
        now = max(r["ingested_at"] for r in rows[:i] if r["ingested_at"]) + dt.timedelta(seconds=rng.uniform(0, 20))
        same_answers(inc, full, Window(now, 15, 120), rng.choice(["dev-01", dataset.LONG, "dev-07"]))
        refreshes += 1
    assert inc.stats["rebuilds"] == 1 and inc.stats["feed_rows"] >= len(rows) - 50 and refreshes > 5


def test_an_unreadable_change_feed_rebuilds_the_state(tmp_path: Path, monkeypatch):
    rows = dataset.rows()
    path = local_table(tmp_path, rows[:1000])
    inc, full = LocalDeltaAnalytics(path), LocalDeltaAnalytics(path, incremental=False)
    inc.kpis(dataset.WINDOW)
    write_deltalake(str(path), dataset.arrow(rows[1000:]), mode="append")

    def gone(*args, **kwargs):
        raise OSError("No such file or directory: part-00001.parquet")  # vacuumed before it was read

    monkeypatch.setattr(DeltaTable, "load_cdf", gone)
    same_answers(inc, full, dataset.WINDOW, "dev-01")
    assert inc.stats["rebuilds"] == 2


def test_no_table_yet_means_empty_answers(tmp_path: Path):
    backend = LocalDeltaAnalytics(tmp_path / "missing")
    assert backend.kpis(dataset.WINDOW).total_events == 0 and backend.kpis(dataset.WINDOW).last_data is None
    assert backend.clients(dataset.WINDOW) == [] and backend.track("dev-01").points == ()
    assert [p.events for p in backend.series(dataset.WINDOW, 5)] == [0] * 5


def test_commits_by_localbus_are_seen_on_the_next_call(tmp_path: Path):
    rows = dataset.rows()
    backend = LocalDeltaAnalytics(local_table(tmp_path, rows[:10]))
    assert backend.kpis(dataset.WINDOW).total_events == 10
    writer = GroupCommitWriter(TableCatalog(tmp_path))
    now = dt.datetime.now(dt.UTC)
    more = pa.Table.from_pylist([{**r, "ingested_at": now} for r in rows[10:30]], schema=schema.arrow_schema())
    writer.submit(TABLE, more).result(10)
    writer.close()
    kpis = backend.kpis(Window(now))
    assert kpis.total_events == 30 and kpis.active_clients >= 1  # sent just now


def test_status_thresholds():
    now = dataset.NOW
    assert client_status(now - dt.timedelta(seconds=15), now, 15, 300) is ClientStatus.ACTIVE
    assert client_status(now - dt.timedelta(seconds=16), now, 15, 300) is ClientStatus.IDLE
    assert client_status(now - dt.timedelta(seconds=301), now, 15, 300) is ClientStatus.OFFLINE


def test_a_restart_loads_the_saved_state_and_reads_only_what_came_since(tmp_path: Path):
    rows = dataset.rows()
    path = local_table(tmp_path, rows[:1500])
    first = LocalDeltaAnalytics(path)
    first.kpis(dataset.WINDOW)
    write_deltalake(str(path), dataset.arrow(rows[1500:2500]), mode="append")
    first.kpis(dataset.WINDOW)
    first.close()  # saves the state at the version it reflects
    now = max(r["ingested_at"] for r in rows[:2500] if r["ingested_at"]) + dt.timedelta(seconds=5)
    reopened = LocalDeltaAnalytics(path)  # its minute figures and series come from the saved landings
    same_answers(reopened, LocalDeltaAnalytics(path, incremental=False), Window(now, 15, 120), dataset.LONG)
    assert reopened.stats == {"rebuilds": 0, "feed_rows": 0, "snapshot_loads": 1}
    write_deltalake(str(path), dataset.arrow(rows[2500:]), mode="append")  # while the app was closed

    restarted, full = LocalDeltaAnalytics(path), LocalDeltaAnalytics(path, incremental=False)
    same_answers(restarted, full, dataset.WINDOW, dataset.LONG)
    assert restarted.stats == {"rebuilds": 0, "feed_rows": len(rows) - 2500, "snapshot_loads": 1}
    write_deltalake(str(path), dataset.arrow(rows[:300]), mode="append")  # resends after the restart
    same_answers(restarted, full, dataset.WINDOW, "dev-01")


def test_a_snapshot_of_another_table_or_a_damaged_one_is_rebuilt_from_the_rows(tmp_path: Path):
    rows = dataset.rows()
    path = local_table(tmp_path, rows[:1000])
    first = LocalDeltaAnalytics(path)
    first.kpis(dataset.WINDOW)
    first.close()
    snapshot = path.parent / f".{path.name}.dashboard-state"
    assert (snapshot / "meta.json").is_file()

    TableCatalog(tmp_path).drop_table(TABLE)  # the same name made again: another table, fewer rows
    path = local_table(tmp_path, rows[:200])
    again, full = LocalDeltaAnalytics(path), LocalDeltaAnalytics(path, incremental=False)
    same_answers(again, full, dataset.WINDOW, "dev-01")
    assert again.stats["rebuilds"] == 1 and again.stats["snapshot_loads"] == 0
    again.close()

    (snapshot / "seen.npz").write_bytes(b"not a numpy file")
    damaged = LocalDeltaAnalytics(path)
    same_answers(damaged, full, dataset.WINDOW, "dev-01")
    assert damaged.stats["rebuilds"] == 1 and damaged.stats["snapshot_loads"] == 0
