"""All representations of the sensor event agree: proto, Arrow, DDL, JSON, and the bytes on the wire."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import descriptor_pb2

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import Fleet

SENT_US = 1_796_083_200_123_456  # 2026-12-01, epoch microseconds
ORIGINAL_COLUMNS = [
    "event_id",
    "connection_id",
    "device_name",
    "event_timestamp",
    "event_date",
    "ingested_at",
    "latitude",
    "longitude",
    "altitude_m",
    "heading_deg",
    "pitch_deg",
    "roll_deg",
    "accel_x",
    "accel_y",
    "accel_z",
    "accel_magnitude",
    "gyro_x",
    "gyro_y",
    "gyro_z",
    "speed_kmh",
    "battery_pct",
    "signal_strength",
    "zerobus_topic",
    "zerobus_offset",
    "payload_bytes",
]
ORIGINAL_TYPES = {
    "STRING": {"event_id", "connection_id", "device_name", "zerobus_topic"},
    "TIMESTAMP": {"event_timestamp", "ingested_at"},
    "DATE": {"event_date"},
    "INT": {"battery_pct", "signal_strength", "payload_bytes"},
    "BIGINT": {"zerobus_offset"},
}


@pytest.fixture(scope="module")
def batch():
    fleet = Fleet(11, 300, interval_ms=1000)
    fleet.start(1_800_000_000.0)
    for k in range(1, 5):
        fleet.advance(1_800_000_000.0 + k * 0.5)
    b = fleet.advance(1_800_000_003.0)
    assert len(b) > 50
    return b


def test_columns_follow_the_original_table():
    assert list(schema.COLUMN_NAMES) == ORIGINAL_COLUMNS
    for col in schema.COLUMNS:
        expected = next((t for t, names in ORIGINAL_TYPES.items() if col.name in names), "DOUBLE")
        assert col.type.value == expected, col.name
    assert {c.name for c in schema.COLUMNS if not c.nullable} == {
        "event_id", "connection_id", "event_timestamp", "event_date"
    }  # fmt: skip


def test_arrow_schema_has_every_column_in_order():
    s = schema.arrow_schema()
    assert s.names == ORIGINAL_COLUMNS
    assert s.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert s.field("event_date").type == pa.date32()
    assert s.field("zerobus_offset").type == pa.int64()
    assert not s.field("event_id").nullable and s.field("device_name").nullable


def test_databricks_ddl_is_idempotent_partitioned_with_change_data_feed():
    ddl = schema.databricks_ddl("main", "iot", "sensor_stream")
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS `main`.`iot`.`sensor_stream` (")
    assert "DROP" not in ddl.upper()
    assert "USING DELTA" in ddl and "PARTITIONED BY (event_date)" in ddl
    assert "'delta.enableChangeDataFeed' = 'true'" in ddl
    declared = re.findall(r"^  (\w+)\s+(STRING|TIMESTAMP|DATE|DOUBLE|INT|BIGINT)( NOT NULL)?", ddl, re.M)
    assert [(n, t, bool(nn)) for n, t, nn in declared] == [
        (c.name, c.type.value, not c.nullable) for c in schema.COLUMNS
    ]


def test_postgres_ddl_matches_columns_and_keys_on_event_id():
    ddl = schema.postgres_ddl("sensordata", "sensor_stream")
    declared = re.findall(r"^  (\w+) ([A-Z ]+?)( NOT NULL)?,?$", ddl, re.M)
    assert [n for n, _, _ in declared] == ORIGINAL_COLUMNS
    types = {n: t for n, t, _ in declared}
    assert types["event_timestamp"] == "TIMESTAMPTZ" and types["zerobus_offset"] == "BIGINT"
    assert "PRIMARY KEY (event_id)" in ddl


@pytest.mark.parametrize("bad", ["x; DROP TABLE t", "a`b", "", "1abc"])
def test_identifiers_with_sql_in_them_are_refused(bad):
    with pytest.raises(ValueError):
        schema.databricks_ddl("main", bad)


def test_proto_descriptor_matches_what_the_zerobus_sdk_generates(tmp_path: Path):
    """The SDK's own generate_proto tool, given our table's columns, writes our message."""
    from zerobus.tools.generate_proto import generate_proto_file

    columns = [{"name": c.name, "type_text": c.type.value, "nullable": c.nullable} for c in schema.COLUMNS]
    out = tmp_path / "sdk.proto"
    generate_proto_file(schema.MESSAGE_NAME, columns, str(out))
    assert out.read_text().strip() == schema.proto_text().strip()


def test_checked_in_proto_file_is_current():
    from zerostream_desktop.core.paths import resource_path

    assert resource_path("proto", "sensor_event.proto").read_text() == schema.proto_text()


def test_descriptor_round_trips_through_bytes():
    raw = schema.descriptor_proto().SerializeToString()
    parsed = descriptor_pb2.DescriptorProto.FromString(raw)
    assert [f.name for f in parsed.field] == ORIGINAL_COLUMNS
    assert [f.number for f in parsed.field] == list(range(1, 26))


def test_proto_bytes_are_identical_to_the_protobuf_runtime(batch):
    """What is spooled is the runtime's own bytes; what is sent adds the send time, sized in advance."""
    message = schema.message_class()
    rows = batch.to_rows()
    encoded = encoding.encode_proto(batch)
    sent = encoding.stamp_sent(encoded, SENT_US)
    assert len(encoded) == len(rows) == len(sent)
    for row, raw, wire in zip(rows, encoded, sent, strict=True):
        expected = message(**row)
        expected.payload_bytes = len(wire)
        assert raw == expected.SerializeToString()
        decoded = message.FromString(wire)
        expected.ingested_at = SENT_US
        assert decoded == expected
        assert decoded.payload_bytes == len(wire)
        assert not decoded.HasField("zerobus_offset")  # ZeroStream does not fill it; nor does the service


def test_the_send_time_is_a_canonical_varint_for_any_date_from_1987_to_4253():
    from google.protobuf.internal.encoder import _VarintBytes

    for us in (2**49, SENT_US, 2**56 - 1):
        stamp = encoding.stamp_sent([b""], us)[0]
        assert stamp == bytes([schema.field_number("ingested_at") << 3]) + _VarintBytes(us)
        assert len(stamp) == encoding.stamp_bytes()
    assert schema.message_class().FromString(encoding.stamp_sent([b""], 5)[0]).ingested_at == 5  # padded, still valid


def test_json_records_carry_the_same_values_and_their_real_size(batch):
    rows = batch.to_rows()
    texts = encoding.encode_json(batch)
    sent = encoding.stamp_sent(texts, SENT_US)
    for row, text, wire in zip(rows, texts, sent, strict=True):
        assert "ingested_at" not in json.loads(text)
        obj = json.loads(wire)
        assert obj.pop("payload_bytes") == len(wire.encode("utf-8"))
        assert obj.pop("ingested_at") == SENT_US
        assert obj == row
        for name, value in obj.items():
            schema.check_value(schema.BY_NAME[name], value)


def test_arrow_table_of_a_batch_fits_the_table_schema(batch):
    payload = np.array([len(r) for r in encoding.encode_proto(batch)], dtype=np.int32)
    table = batch.to_arrow(payload)
    assert table.schema == schema.arrow_schema()
    first = table.slice(0, 1).to_pylist()[0]
    row = batch.to_rows()[0]
    assert first["event_id"] == row["event_id"]
    assert int(first["event_timestamp"].timestamp() * 1_000_000) == row["event_timestamp"]
    assert (first["event_date"] - __import__("datetime").date(1970, 1, 1)).days == row["event_date"]
    assert first["payload_bytes"] == payload[0]
    assert first["ingested_at"] is None and first["zerobus_offset"] is None


def test_payload_size_counts_its_own_digits_across_varint_boundaries():
    """A record whose size crosses 127 -> 128 bytes needs a 2-byte varint; the size must still be exact."""
    fleet = Fleet(3, 5, interval_ms=1000)
    fleet.start(0.0)
    b = fleet.advance(2.0)
    for length in range(1, 60):
        b.identities.names[:] = ["n" * length] * len(b.identities.names)
        b.identities.touch()
        for raw in encoding.stamp_sent(encoding.encode_proto(b), SENT_US):
            assert schema.message_class().FromString(raw).payload_bytes == len(raw)
        for text in encoding.stamp_sent(encoding.encode_json(b), SENT_US):
            assert json.loads(text)["payload_bytes"] == len(text)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16383, 16384, 2**31 - 1, -1, -(2**31), 2**62, -(2**63)])
def test_varints_match_protobuf(value):
    from google.protobuf.internal.encoder import _VarintBytes  # the runtime's reference encoder

    block, lengths = encoding.varint_block(np.array([value], dtype=np.int64))
    expected = _VarintBytes(value & (2**64 - 1))
    assert bytes(block[0, : lengths[0]]) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("event_id", None, "NOT NULL"),
        ("latitude", "52.1", "expects a number"),
        ("battery_pct", 12.5, "expects an integer"),
        ("battery_pct", True, "expects an integer"),
        ("battery_pct", 2**31, "out of range"),
        ("device_name", 5, "expects a string"),
    ],
)
def test_values_of_the_wrong_type_name_the_column(name, value, message):
    with pytest.raises(schema.RecordError, match=f"{name}.*{message}"):
        schema.check_value(schema.BY_NAME[name], value)


def test_two_fleets_never_share_cached_identity_bytes():
    """Alternating fleets (a restart, a second simulator) must each encode their own devices."""
    for _ in range(3):
        for seed, n in ((1, 10), (2, 30)):
            fleet = Fleet(seed, n, interval_ms=1000)
            fleet.start(0.0)
            b = fleet.advance(1.5)
            decoded = [schema.message_class().FromString(r) for r in encoding.encode_proto(b)]
            assert [d.connection_id for d in decoded] == b.connection_ids()
            assert [d.device_name for d in decoded] == b.device_names()
