"""The numpy proto decoder gives exactly what the protobuf runtime gives, or defers to it."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerostream_desktop.core import schema
from zerostream_desktop.localbus.records import Decoder, RecordError

TABLE = "zerostream.sensors.sensor_stream"
MESSAGE = schema.message_class()
DOUBLES = [c.name for c in schema.COLUMNS if c.type is schema.ColumnType.DOUBLE]

uuids = st.uuids().map(str)
texts = st.text(max_size=40)
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def records(draw) -> bytes:
    """A valid record: required fields, any optional subset, fields in any order, some repeated."""
    parts = {
        "event_id": draw(uuids), "connection_id": draw(uuids),
        "event_timestamp": draw(st.integers(0, 2**52)), "event_date": draw(st.integers(0, 40_000)),
    }  # fmt: skip
    optional = {name: finite for name in DOUBLES} | {
        "device_name": texts, "zerobus_topic": texts, "battery_pct": int32s, "signal_strength": int32s,
        "ingested_at": int64s, "zerobus_offset": int64s, "payload_bytes": int32s,
    }  # fmt: skip
    for name, strategy in optional.items():
        if draw(st.booleans()):
            parts[name] = draw(strategy)
    chunks = [MESSAGE(**{k: v}).SerializePartialToString() for k, v in parts.items()]
    for name in draw(st.lists(st.sampled_from(sorted(parts)), max_size=3)):  # repeats: the last one wins
        chunks.append(MESSAGE(**{name: parts[name]}).SerializePartialToString())
    return b"".join(draw(st.permutations(chunks)))


def decoder() -> Decoder:
    return Decoder(TABLE, schema.arrow_schema(), schema.descriptor_proto().SerializeToString(), False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=30))
def test_columns_equal_the_runtime_decoding(batch):
    d = decoder()
    fast = d._decode_columns(batch, 0)
    slow = d._decode_rows(batch, 0)
    assert fast is not None
    assert fast.equals(slow), (fast.to_pylist(), slow.to_pylist())


@st.composite
def one_layout(draw) -> list[bytes]:
    """Records as one producer sends them: the same fields in the same order, values of any size
    (varints and strings of different lengths), and now and then one record laid out differently."""
    names = ["event_id", "connection_id", "event_timestamp", "event_date"] + draw(
        st.lists(st.sampled_from([*DOUBLES, "device_name", "battery_pct", "ingested_at", "payload_bytes"]),
                 unique=True, max_size=12)
    )  # fmt: skip
    names = draw(st.permutations(names))
    values = {"event_id": uuids, "connection_id": uuids, "event_timestamp": st.integers(0, 2**62),
              "event_date": int32s, "device_name": texts, "battery_pct": int32s, "ingested_at": int64s,
              "payload_bytes": int32s} | {name: finite for name in DOUBLES}  # fmt: skip
    count = draw(st.integers(2, 40))
    batch = [MESSAGE(**{k: draw(values[k]) for k in names}).SerializeToString() for _ in range(count)]
    if draw(st.booleans()):
        odd = draw(st.integers(0, len(batch) - 1))
        batch[odd] = draw(records())
    return batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_layout())
def test_batches_of_one_layout_read_by_their_layout_equal_the_runtime_decoding(batch):
    d = decoder()
    fast = d._decode_columns(batch, 0)
    assert fast is not None and fast.equals(d._decode_rows(batch, 0)), (fast, d._decode_rows(batch, 0).to_pylist())


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=80))
def test_garbage_is_refused_or_agrees_with_the_runtime(junk):
    d = decoder()
    try:
        slow = d._decode_rows([junk], 5)
    except RecordError:
        with pytest.raises(RecordError, match="offset 5"):
            d.decode([junk], 5)
        return
    assert d.decode([junk], 5).equals(slow)


def test_missing_required_field_names_the_column_and_offset():
    raw = MESSAGE(event_id="e", connection_id="c", event_timestamp=1).SerializePartialToString()
    with pytest.raises(RecordError, match="offset 12"):
        decoder().decode([raw], 12)


@pytest.mark.parametrize("json_mode", [False, True], ids=["proto", "json"])
def test_the_record_is_written_as_sent_and_nothing_is_filled_in(json_mode):
    """Like the ZeroBus service: what the record says (even a wrong payload_bytes), NULL for the rest."""
    values = {"event_id": "e", "connection_id": "c", "event_timestamp": 1, "event_date": 0, "payload_bytes": 9999}
    raw = json.dumps(values) if json_mode else MESSAGE(**values).SerializeToString()
    descriptor = None if json_mode else schema.descriptor_proto().SerializeToString()
    table = Decoder(TABLE, schema.arrow_schema(), descriptor, json_mode).decode([raw], 0)
    assert table.schema.names == list(schema.COLUMN_NAMES)
    row = table.to_pylist()[0]
    assert row["payload_bytes"] == 9999
    assert {k for k, v in row.items() if v is None} == set(schema.COLUMN_NAMES) - set(values)
