"""Local tables: created on first use, listed by the CLI, kept fast by upkeep."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from zerostream_desktop.cli import main
from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus.records import Decoder, RecordError, SchemaMismatchError, check_descriptor
from zerostream_desktop.localbus.tables import TableCatalog
from zerostream_desktop.localbus.writer import GroupCommitWriter, WriterConfig

TABLE = "zerostream.sensors.sensor_stream"


def rows(n_devices: int, seed: int = 1) -> pa.Table:
    fleet = Fleet(seed, n_devices, interval_ms=1000)
    fleet.start(0.0)
    batch = fleet.advance(1.5)
    decoder = Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)
    return decoder.decode(encoding.encode_proto(batch), 0)


def test_tables_command_lists_tables_with_rows(tmp_path: Path, capsys):
    catalog = TableCatalog(tmp_path)
    assert main(["--data-dir", str(tmp_path), "localbus", "tables"]) == 0
    assert "no tables" in capsys.readouterr().out
    catalog.create_sensor_table(TABLE)
    writer = GroupCommitWriter(catalog)
    writer.submit(TABLE, rows(25)).result(10)
    writer.close()
    assert main(["--data-dir", str(tmp_path), "localbus", "tables"]) == 0
    out = capsys.readouterr().out
    assert TABLE in out and " 25" in out


def test_upkeep_compacts_checkpoints_and_keeps_every_row(tmp_path: Path):
    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    config = WriterConfig(flush_records=1, flush_ms=0, compact_every_commits=10, checkpoint_every_commits=5,
                          vacuum_every_commits=20, vacuum_retention_hours=0)  # fmt: skip
    writer = GroupCommitWriter(catalog, config)
    data = rows(20)
    for i in range(40):
        writer.submit(TABLE, data.slice(i % 20, 1)).result(10)
    writer.close()
    info = catalog.describe(TABLE)
    assert info.rows == 40
    assert info.files < 10  # compacted from 40 one-row files
    log_dir = catalog.path(TABLE) / "_delta_log"
    assert list(log_dir.glob("*.checkpoint.parquet"))
    table = catalog.open(TABLE).to_pyarrow_table()
    assert sorted(table["event_id"].to_pylist()) == sorted(data["event_id"].to_pylist() * 2)


def test_compaction_leaves_files_at_its_target_size_alone(tmp_path: Path):
    """Only the small files are merged: the big one is not read and rewritten at every compaction."""
    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    config = WriterConfig(flush_records=1, flush_ms=0, compact_every_commits=31, checkpoint_every_commits=1000,
                          compact_target_bytes=128 * 1024)  # fmt: skip
    writer = GroupCommitWriter(catalog, config)
    writer.submit(TABLE, rows(2000)).result(10)  # one file of several times the target
    big = set(catalog.open(TABLE).file_uris())
    assert len(big) == 1
    small = rows(30, seed=2)
    for i in range(30):
        writer.submit(TABLE, small.slice(i, 1)).result(10)
    writer.close()
    files = set(catalog.open(TABLE).file_uris())
    assert big <= files  # kept as it was
    assert len(files) <= 5  # the 30 one-row files (11 kB each) merged into files of about the target
    assert catalog.describe(TABLE).rows == 2030


def test_commits_are_acknowledged_while_a_long_compaction_runs(tmp_path: Path, monkeypatch):
    from deltalake.table import TableOptimizer

    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    compacting, compact = [], TableOptimizer.compact

    def slow_compact(self, *args, **kwargs):  # a busy table's compaction takes seconds
        compacting.append(time.monotonic())
        time.sleep(4)
        return compact(self, *args, **kwargs)

    monkeypatch.setattr(TableOptimizer, "compact", slow_compact)
    writer = GroupCommitWriter(catalog, WriterConfig(flush_records=1, flush_ms=0, compact_every_commits=3))
    data = rows(10)
    for i in range(3):
        writer.submit(TABLE, data.slice(i, 1)).result(10)
    deadline = time.monotonic() + 5
    while not compacting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert compacting, "no compaction was started after 3 commits"
    took = []
    for i in range(3, 8):  # acknowledged at once, the compaction still running
        start = time.monotonic()
        writer.submit(TABLE, data.slice(i, 1)).result(10)
        took.append(time.monotonic() - start)
    assert time.monotonic() - compacting[0] < 4 and max(took) < 1.0, took
    writer.close()  # waits for the compaction: both it and the appends made meanwhile stand
    assert catalog.describe(TABLE).rows == 8
    table = catalog.open(TABLE).to_pyarrow_table()
    assert sorted(table["event_id"].to_pylist()) == sorted(data.slice(0, 8)["event_id"].to_pylist())


def test_creating_twice_never_replaces_a_table(tmp_path: Path):
    catalog = TableCatalog(tmp_path)
    assert catalog.create_sensor_table(TABLE)
    writer = GroupCommitWriter(catalog)
    writer.submit(TABLE, rows(3)).result(10)
    writer.close()
    assert not catalog.create_sensor_table(TABLE)
    assert catalog.describe(TABLE).rows == 3


def test_json_records_with_wrong_types_or_missing_columns_name_them():
    decoder = Decoder(TABLE, schema.arrow_schema(), None, True)
    fleet = Fleet(1, 1)
    fleet.start(0.0)
    good = encoding.encode_json(fleet.advance(10.0))[0]
    assert decoder.decode([good], 0).num_rows == 1
    with pytest.raises(RecordError, match="offset 7: column latitude expects a number"):
        decoder.decode([good.replace('"latitude":', '"latitude":"north","x":')], 7)
    with pytest.raises(RecordError, match="column event_id is NOT NULL"):
        decoder.decode(['{"connection_id":"c","event_timestamp":1,"event_date":0}'], 0)
    with pytest.raises(RecordError, match="column colour does not exist"):
        decoder.decode(['{"colour":"red"}'], 0)
    with pytest.raises(RecordError, match="not valid JSON"):
        decoder.decode(["{oops"], 0)


def test_descriptor_checks_name_the_column():
    from google.protobuf import descriptor_pb2

    d = descriptor_pb2.DescriptorProto()
    d.CopyFrom(schema.descriptor_proto())
    d.field[3].type = descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE  # event_timestamp
    with pytest.raises(SchemaMismatchError, match="field event_timestamp is double but column event_timestamp"):
        check_descriptor(TABLE, schema.arrow_schema(), d)
    del d.field[0]  # event_id
    d.field[2].type = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
    with pytest.raises(SchemaMismatchError, match="column event_id .* NOT NULL"):
        check_descriptor(TABLE, schema.arrow_schema(), d)


def test_a_submission_whose_stream_went_away_does_not_stop_the_writer(tmp_path: Path):
    """A client that dies mid-stream cancels its pending futures; later commits must still happen."""
    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    writer = GroupCommitWriter(catalog, WriterConfig(flush_ms=200))
    data = rows(10)
    abandoned = writer.submit(TABLE, data.slice(0, 5))
    abandoned.cancel()
    assert writer.submit(TABLE, data.slice(5, 5)).result(10) >= 1
    writer.close()
    assert catalog.describe(TABLE).rows == 10


def test_retention_deletes_old_days_and_the_dashboard_counts_again(tmp_path: Path):
    import datetime as dt

    from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
    from zerostream_desktop.core.analytics.model import Window

    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    today = dt.datetime.now(dt.UTC)
    fresh = rows(10)  # the fleet's clock started at 0: dated 1970, so re-date them

    def dated(table: pa.Table, when: dt.datetime) -> pa.Table:
        n = table.num_rows
        table = table.set_column(table.schema.get_field_index("event_date"), "event_date",
                                 pa.array([when.date()] * n, pa.date32()))  # fmt: skip
        return table.set_column(table.schema.get_field_index("ingested_at"), "ingested_at",
                                pa.array([when] * n, pa.timestamp("us", tz="UTC")))  # fmt: skip

    writer = GroupCommitWriter(catalog, WriterConfig(retention_days=0))
    writer.submit(TABLE, dated(rows(10, seed=2), today - dt.timedelta(days=45))).result(10)
    writer.submit(TABLE, dated(fresh, today)).result(10)
    writer.close()
    dashboard = LocalDeltaAnalytics(catalog.path(TABLE))
    assert dashboard.kpis(Window(today)).total_events == 20

    keeping = GroupCommitWriter(catalog, WriterConfig(retention_days=30, retention_every_s=0))
    keeping.submit(TABLE, dated(rows(5, seed=3), today)).result(10)  # upkeep after this commit applies retention
    keeping.close()
    left = catalog.open(TABLE).to_pyarrow_table(columns=["event_date"])["event_date"].to_pylist()
    assert len(left) == 15 and min(left) >= (today - dt.timedelta(days=30)).date()
    assert dashboard.kpis(Window(today)).total_events == 15  # the deletes were read: state built again
    assert dashboard.stats["rebuilds"] == 2


def _stream_into(writer: GroupCommitWriter, rows_per_s: int, seconds: float) -> tuple[list[float], int]:
    """Submit batches of about 1,000 rows at a steady rate: the seconds each took to be committed, and the rows."""
    batch = pa.concat_tables([rows(200, seed=k) for k in range(5)])
    interval, waits, futures = batch.num_rows / rows_per_s, [], []
    start = time.monotonic()
    for k in range(int(seconds * rows_per_s / batch.num_rows)):
        time.sleep(max(0.0, start + k * interval - time.monotonic()))
        sent = time.monotonic()
        future = writer.submit(TABLE, batch)
        future.add_done_callback(lambda _, sent=sent: waits.append(time.monotonic() - sent))
        futures.append(future)
    for future in futures:
        future.result(timeout=30)
    return waits, batch.num_rows * len(futures)


def test_commits_grow_with_the_load_and_stay_quick_when_it_is_light(tmp_path: Path):
    catalog = TableCatalog(tmp_path)
    catalog.create_sensor_table(TABLE)
    writer = GroupCommitWriter(catalog)
    try:
        light, light_rows = _stream_into(writer, 5_000, 1.5)  # a commit every flush_ms
        before = catalog.open(TABLE).version()
        _, heavy_rows = _stream_into(writer, 150_000, 2.0)  # ~300,000 rows: in commits of busy_commit_s of them
        commits = catalog.open(TABLE).version() - before
    finally:
        writer.close()
    assert sorted(light)[len(light) // 2] < 0.2, "a light load waits for its commit"
    eager = GroupCommitWriter(catalog, WriterConfig(flush_records=1, flush_ms=0))  # a commit per submission
    try:
        waits = []
        for k in range(30):
            start = time.monotonic()
            eager.submit(TABLE, rows(5, seed=k)).result(10)
            waits.append(time.monotonic() - start)
    finally:
        eager.close()
    late = sorted(waits[15:])[7]  # once the writer has measured the (low) rate
    assert late < 0.15, f"one submission at a time waited {late:.2f} s for its commit"
    assert commits <= 15, f"{commits} commits of {heavy_rows:,} rows at 150,000 rows/s: they did not grow with the load"
    assert catalog.describe(TABLE).rows == light_rows + heavy_rows + sum(rows(5, seed=k).num_rows for k in range(30))
