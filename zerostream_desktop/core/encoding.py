"""Wire encodings of event batches: proto2 (ZeroBus PROTO mode) and JSON (ZeroBus JSON mode).

The proto encoder writes the protobuf wire format for a whole batch with numpy instead of building
one message object per event; its output is byte-identical to the protobuf runtime's own
serialisation of the `schema.message_class()` message (a test holds it to that).

The encoders write what goes into the spool: every device column, but not the send time. The ZeroBus
service fills no column of its own (a nullable column the record leaves out is written as NULL), so
the sender stamps `ingested_at` itself each time it hands records to ZeroBus: `stamp_sent` appends a
fixed-width field (protobuf parsers take fields in any order, and JSON keys have no order).
Each record's `payload_bytes` is the length of the record as sent, stamp and that field included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from zerostream_desktop.core import schema
from zerostream_desktop.core.fleet.batch import EventBatch
from zerostream_desktop.core.fleet.identity import Identities

_WIRE_VARINT, _WIRE_FIXED64, _WIRE_LEN = 0, 1, 2
PAYLOAD_FIELD = "payload_bytes"
_STAMP_DIGITS = 16  # epoch microseconds from 2001 to 2286
_STAMP_VARINT = 8  # 7-bit groups: canonical for epoch microseconds from 1987 to 4253


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@cache
def _tag(name: str, wire_type: int) -> bytes:
    return _varint((schema.field_number(name) << 3) | wire_type)


def _sent_tag() -> bytes:
    return _tag(schema.SENT_AT, _WIRE_VARINT)


def _sent_json_key() -> str:
    return f',"{schema.SENT_AT}":'


def stamp_bytes() -> int:
    """What `stamp_sent` adds to a proto record."""
    return len(_sent_tag()) + _STAMP_VARINT


def stamp_chars() -> int:
    """What `stamp_sent` adds to a JSON record."""
    return len(_sent_json_key()) + _STAMP_DIGITS


def stamp_sent(records: list[bytes] | list[str], now_us: int | None = None) -> list[Any]:
    """The records as sent: each with `ingested_at` = now (epoch microseconds) appended.

    Proto records get the field at the end as an 8-byte varint, JSON records a last key of 16 digits,
    so a record's size as sent is the same whenever it is sent.
    """
    if not records:
        return []
    now = time.time_ns() // 1000 if now_us is None else now_us
    if isinstance(records[0], str):
        tail = f"{_sent_json_key()}{now}}}"
        return [r[:-1] + tail for r in records]  # type: ignore[index,operator]
    v = max(0, now) & ((1 << 56) - 1)
    groups = [(v >> (7 * i)) & 0x7F for i in range(_STAMP_VARINT)]
    stamp = _sent_tag() + bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])
    return [r + stamp for r in records]  # type: ignore[operator]


def varint_block(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 10) varint bytes and their lengths; negative ints become 10-byte two's complement."""
    v = np.ascontiguousarray(values, dtype=np.int64).view(np.uint64)
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    groups = ((v[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    thresholds = np.uint64(1) << (np.arange(1, 10, dtype=np.uint64) * np.uint64(7))
    lengths = 1 + (v[:, None] >= thresholds[None, :]).sum(axis=1)
    cont = np.arange(10)[None, :] < (lengths[:, None] - 1)
    groups[cont] |= 0x80
    return groups, lengths


class _StringFields:
    """Per-device proto bytes of the identity strings (tag, length, UTF-8), cached per generation."""

    def __init__(self) -> None:
        self._key: tuple[int, str] | None = None
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []

    def blocks(self, ids: Identities, topic: str) -> list[tuple[np.ndarray, np.ndarray]]:
        key = (ids.generation, topic)
        if key != self._key:
            self._blocks = [
                _pad([_len_field("connection_id", s) for s in ids.connection_ids]),
                _pad([_len_field("device_name", s) for s in ids.names]),
            ]
            self._topic = _len_field("zerobus_topic", topic)
            self._key = key
        return self._blocks

    @property
    def topic(self) -> bytes:
        return self._topic


def _len_field(name: str, text: str) -> bytes:
    data = text.encode("utf-8")
    return _tag(name, _WIRE_LEN) + _varint(len(data)) + data


def _pad(items: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(b) for b in items), default=1)
    arr = np.zeros((len(items), width), dtype=np.uint8)
    lengths = np.fromiter((len(b) for b in items), dtype=np.int64, count=len(items))
    for i, b in enumerate(items):
        arr[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    return arr, lengths


@cache
def _string_cache() -> _StringFields:
    return _StringFields()


@dataclass(frozen=True)
class _Segment:
    """A run of fields written together: one string field, one varint, or consecutive doubles."""

    kind: str  # event_id | connection_id | device_name | zerobus_topic | doubles | varint | payload
    names: tuple[str, ...]
    tag_len: int
    tags: np.ndarray  # (len(names), tag_len)


@cache
def _layout() -> tuple[_Segment, ...]:
    segments: list[_Segment] = []
    for col in schema.DEVICE_COLUMNS:
        if col.type is schema.ColumnType.STRING:
            tag = _tag(col.name, _WIRE_LEN)
            segments.append(_Segment(col.name, (col.name,), len(tag), np.frombuffer(tag, np.uint8)[None, :]))
            continue
        kind = "payload" if col.name == PAYLOAD_FIELD else "varint"
        wire = _WIRE_VARINT
        if col.type is schema.ColumnType.DOUBLE:
            kind, wire = "doubles", _WIRE_FIXED64
        tag = _tag(col.name, wire)
        last = segments[-1] if segments else None
        if kind == "doubles" and last and last.kind == "doubles" and last.tag_len == len(tag):
            tags = np.vstack([last.tags, np.frombuffer(tag, np.uint8)])
            segments[-1] = _Segment(kind, (*last.names, col.name), len(tag), tags)
        else:
            segments.append(_Segment(kind, (col.name,), len(tag), np.frombuffer(tag, np.uint8)[None, :]))
    return tuple(segments)


def _segment_width(seg: _Segment, strings: list[tuple[np.ndarray, np.ndarray]], topic: bytes) -> int:
    if seg.kind == "event_id":
        return seg.tag_len + 1 + 36
    if seg.kind in ("connection_id", "device_name"):
        return int(strings[seg.kind == "device_name"][0].shape[1])
    if seg.kind == "zerobus_topic":
        return len(topic)
    if seg.kind == "doubles":
        return len(seg.names) * (seg.tag_len + 8)
    return seg.tag_len + 10


def encode_proto(batch: EventBatch) -> list[bytes]:
    """One serialized `SensorEvent` per event, in batch order."""
    n = len(batch)
    if n == 0:
        return []
    cache_ = _string_cache()
    strings = cache_.blocks(batch.identities, batch.topic)
    topic = cache_.topic
    layout = _layout()
    widths = [_segment_width(seg, strings, topic) for seg in layout]
    out = np.zeros((n, sum(widths)), dtype=np.uint8)
    mask = np.ones((n, sum(widths)), dtype=bool)
    sizes = np.zeros(n, dtype=np.int64)
    at = 0
    for seg, w in zip(layout, widths, strict=True):
        dst = out[:, at : at + w]
        if seg.kind == "event_id":
            dst[:, : seg.tag_len] = seg.tags[0]
            dst[:, seg.tag_len] = 36
            dst[:, seg.tag_len + 1 :] = batch.event_id
            sizes += w
        elif seg.kind in ("connection_id", "device_name"):
            block, lengths = strings[seg.kind == "device_name"]
            used = lengths[batch.device_index]
            dst[:] = block[batch.device_index]
            mask[:, at : at + w] = np.arange(w)[None, :] < used[:, None]
            sizes += used
        elif seg.kind == "zerobus_topic":
            dst[:] = np.frombuffer(topic, dtype=np.uint8)
            sizes += w
        elif seg.kind == "doubles":
            k = len(seg.names)
            cells = dst.reshape(n, k, seg.tag_len + 8)
            cells[:, :, : seg.tag_len] = seg.tags
            values = np.column_stack([batch.columns[name] for name in seg.names]).astype("<f8", copy=False)
            cells[:, :, seg.tag_len :] = values.view(np.uint8).reshape(n, k, 8)
            sizes += w
        else:
            if seg.kind == "payload":
                value = _self_sizing(sizes + seg.tag_len + stamp_bytes(), _varint_len)
            else:
                value = batch.columns[seg.names[0]]
            groups, lengths = varint_block(value)
            dst[:, : seg.tag_len] = seg.tags[0]
            dst[:, seg.tag_len :] = groups
            mask[:, at + seg.tag_len : at + w] = np.arange(10)[None, :] < lengths[:, None]
            sizes += seg.tag_len + lengths
        at += w
    flat = out[mask].tobytes()
    ends = np.cumsum(sizes).tolist()
    starts = [0, *ends[:-1]]
    return [flat[s:e] for s, e in zip(starts, ends, strict=True)]


def _varint_len(v: np.ndarray) -> np.ndarray:
    return np.asarray(varint_block(v)[1], dtype=np.int64)


def _digits_len(v: np.ndarray) -> np.ndarray:
    return np.char.str_len(v.astype(np.int64).astype(str)).astype(np.int64)


def _self_sizing(base: np.ndarray, width_of: object) -> np.ndarray:
    """Smallest T with T == base + width_of(T): a size that counts its own digits."""
    total = base + 1
    for _ in range(4):
        nxt = base + width_of(total)  # type: ignore[operator]
        if np.array_equal(nxt, total):
            break
        total = nxt
    return np.asarray(total, dtype=np.int64)


# --- JSON --------------------------------------------------------------------------------


def _json_template() -> tuple[str, list[str]]:
    fields = []
    order = []
    for col in schema.DEVICE_COLUMNS:
        if col.name == PAYLOAD_FIELD:
            continue
        spec = (
            "%s" if col.type is schema.ColumnType.STRING else ("%r" if col.type is schema.ColumnType.DOUBLE else "%d")
        )
        fields.append(f'"{col.name}":{spec}')
        order.append(col.name)
    return "{" + ",".join(fields), order


def encode_json(batch: EventBatch) -> list[str]:
    """One JSON object per event with wire values (timestamps in epoch microseconds)."""
    n = len(batch)
    if n == 0:
        return []
    template, order = _json_template()
    conn = [json.dumps(s) for s in batch.identities.connection_ids]
    names = [json.dumps(s) for s in batch.identities.names]
    columns: dict[str, list[object]] = {
        "event_id": ['"' + s + '"' for s in batch.event_ids()],
        "connection_id": [conn[i] for i in batch.device_index.tolist()],
        "device_name": [names[i] for i in batch.device_index.tolist()],
        "zerobus_topic": [json.dumps(batch.topic)] * n,
    }
    for name in order:
        if name not in columns:
            columns[name] = batch.columns[name].tolist()
    texts = [template % values for values in zip(*(columns[k] for k in order), strict=True)]
    suffix = f',"{PAYLOAD_FIELD}":'
    base = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n) + len(suffix) + 1 + stamp_chars()
    sizes = _self_sizing(base, _digits_len).tolist()
    return [f"{t}{suffix}{s}}}" for t, s in zip(texts, sizes, strict=True)]
