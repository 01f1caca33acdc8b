"""Decode a batch of flat proto2 records straight into columns, with numpy.

All records are parsed together, one field per step: read every record's next tag, then its value,
then move every cursor on. A step costs a few array operations whatever the batch size, so a
1,000-record batch of 22-field events takes about 25 steps. Records this path cannot vouch for
(malformed bytes, a wire type that does not match the field, field numbers past 2047, groups,
more fields than steps) are reported, and the caller hands them to the protobuf runtime, which
gives the exact error or value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from google.protobuf import descriptor_pb2

_FD = descriptor_pb2.FieldDescriptorProto
_VARINT_TYPES = {_FD.TYPE_INT32, _FD.TYPE_INT64, _FD.TYPE_UINT32, _FD.TYPE_UINT64, _FD.TYPE_BOOL, _FD.TYPE_ENUM}
_WIRE = {**dict.fromkeys(_VARINT_TYPES, 0), _FD.TYPE_DOUBLE: 1, _FD.TYPE_FIXED64: 1, _FD.TYPE_SFIXED64: 1,
         _FD.TYPE_STRING: 2, _FD.TYPE_BYTES: 2, _FD.TYPE_FLOAT: 5, _FD.TYPE_FIXED32: 5}  # fmt: skip
MAX_STEPS = 64
_PAD = 16


@dataclass
class FieldColumn:
    present: np.ndarray  # bool per record
    values: np.ndarray  # int64 raw varints / fixed bits, or (start, length) for strings


@dataclass
class DecodedBatch:
    columns: dict[str, FieldColumn]
    bad: np.ndarray  # indices of records to hand to the protobuf runtime
    buffer: np.ndarray


def _varints(buf: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and byte lengths of the varints starting at `at`; length 11 means malformed.

    One byte position at a time for the records whose varint goes on, so a column of one-byte
    values costs one step and a timestamp about six."""
    byte = buf[at]
    value = (byte & 0x7F).astype(np.uint64)
    length = np.ones(at.size, dtype=np.int64)
    going = np.flatnonzero(byte >= 0x80)
    for k in range(1, 10):
        if going.size == 0:
            return value, length
        byte = buf[at[going] + k]
        value[going] |= (byte & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        length[going] += 1
        going = going[byte >= 0x80]
    length[going] = 11
    return value, length


def _rows_of(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The `width` bytes at each of `at`, as an (n, width) array: rows of a sliding-window view, so
    no index array of n x width positions is built."""
    if width == 0:
        return np.zeros((at.size, 0), dtype=np.uint8)
    rows: np.ndarray = np.lib.stride_tricks.sliding_window_view(buf, width)[at]
    return rows


def _tags(buf: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tags of at most two bytes (field numbers up to 2047); longer ones come back as 0 (bad)."""
    b0 = buf[at].astype(np.int64)
    b1 = buf[at + 1].astype(np.int64)
    two = b0 >= 0x80
    tag = np.where(two, (b0 & 0x7F) | (b1 << 7), b0)
    tag[two & (b1 >= 0x80)] = 0
    return tag, np.where(two, 2, 1)


def _distinct(values: np.ndarray) -> list[int]:
    """Distinct values; usually there is one (every record at the same field), so check that first."""
    first = values[0]
    if (values == first).all():
        return [int(first)]
    return [int(v) for v in np.unique(values)]


def decode_flat(
    records: list[bytes], fields: list[descriptor_pb2.FieldDescriptorProto], lengths: np.ndarray | None = None
) -> DecodedBatch:
    """Parse `records` of a flat message with `fields` (scalars and strings, no nesting)."""
    n = len(records)
    if lengths is None:
        lengths = np.fromiter((len(r) for r in records), dtype=np.int64, count=n)
    ends = np.cumsum(lengths)
    pos = ends - lengths
    buf = np.frombuffer(b"".join(records) + bytes(_PAD), dtype=np.uint8)
    by_number = {f.number: f for f in fields}
    columns = {
        f.name: FieldColumn(np.zeros(n, dtype=bool), np.zeros((n, 2) if _WIRE[f.type] == 2 else n, dtype=np.int64))
        for f in fields
    }
    steps = _layout(records[0], by_number) if n else None
    if steps is not None and _decode_by_layout(buf, pos, ends, steps, columns):
        return DecodedBatch(columns, np.zeros(0, dtype=np.int64), buf)
    for col in columns.values():  # the layout path may have filled some: start again
        col.present[:] = False
    bad = np.zeros(n, dtype=bool)
    for _ in range(MAX_STEPS):
        live = np.flatnonzero((pos < ends) & ~bad)
        if live.size == 0:
            break
        at = pos[live]
        tag, tag_len = _tags(buf, at)
        bad[live[tag == 0]] = True
        number = tag >> 3
        wire = tag & 7
        at = at + tag_len
        new_pos = np.full(live.size, -1, dtype=np.int64)
        for w in _distinct(wire):
            sel = np.flatnonzero(wire == w)
            p = at[sel]
            if w == 0:
                value, size = _varints(buf, p)
                new_pos[sel] = np.where(size > 10, -1, p + size)
                _store(columns, by_number, number[sel], live[sel], value.view(np.int64), 0, bad)
            elif w in (1, 5):
                width = 8 if w == 1 else 4
                raw = buf[p[:, None] + np.arange(width)[None, :]]
                value = raw.copy().view("<i8" if w == 1 else "<i4").ravel().astype(np.int64)
                new_pos[sel] = p + width
                _store(columns, by_number, number[sel], live[sel], value, w, bad)
            elif w == 2:
                size, size_len = _varints(buf, p)
                start = p + size_len
                length = size.astype(np.int64)
                new_pos[sel] = np.where((size_len > 10) | (length < 0), -1, start + length)
                _store(columns, by_number, number[sel], live[sel], np.stack([start, length], axis=1), 2, bad)
            else:
                bad[live[sel]] = True
        overrun = (new_pos < 0) | (new_pos > ends[live])
        bad[live[overrun]] = True
        pos[live] = np.where(overrun, ends[live], new_pos)
    bad |= pos != ends
    return DecodedBatch(columns, np.flatnonzero(bad), buf)


@dataclass(frozen=True)
class _Step:
    """One field of the shared layout, or a run of fixed-width fields read as one block."""

    tag: bytes  # the tag bytes expected (a block: at each item's offset)
    wire: int  # 0 varint, 2 length-delimited, 1 a block of fixed-width fields
    field: descriptor_pb2.FieldDescriptorProto | None = None
    items: tuple[tuple[int, bytes, int, descriptor_pb2.FieldDescriptorProto], ...] = ()  # (offset, tag, width, field)
    length: int = 0  # a block's bytes


def _scalar_varint(data: bytes, i: int) -> tuple[int, int] | None:
    value = shift = 0
    for k in range(10):
        if i + k >= len(data):
            return None
        b = data[i + k]
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, k + 1
    return None


def _layout(record: bytes, by_number: dict[int, descriptor_pb2.FieldDescriptorProto]) -> list[_Step] | None:
    """The field sequence of one record, if every record of its batch is likely to share it (one
    producer's encoder writes the same fields in the same order); None when it has anything unusual."""
    steps: list[_Step] = []
    block: list[tuple[int, bytes, int, descriptor_pb2.FieldDescriptorProto]] = []
    block_len = 0

    def close_block() -> None:
        nonlocal block, block_len
        if block:
            steps.append(_Step(b"", 1, items=tuple(block), length=block_len))
        block, block_len = [], 0

    i = 0
    while i < len(record):
        read = _scalar_varint(record, i)
        if read is None or read[1] > 2:
            return None
        tag, tag_len = read
        field = by_number.get(tag >> 3)
        wire = tag & 7
        if field is None or _WIRE[field.type] != wire:
            return None
        tag_bytes = record[i : i + tag_len]
        i += tag_len
        if wire in (1, 5):
            width = 8 if wire == 1 else 4
            block.append((block_len, tag_bytes, width, field))
            block_len += tag_len + width
            i += width
            continue
        close_block()
        size = _scalar_varint(record, i)
        if size is None:
            return None
        i += size[1] + (size[0] if wire == 2 else 0)
        steps.append(_Step(tag_bytes, wire, field))
    close_block()
    return steps if i == len(record) and len(steps) <= MAX_STEPS else None


def _decode_by_layout(
    buf: np.ndarray, pos: np.ndarray, ends: np.ndarray, steps: list[_Step], columns: dict[str, FieldColumn]
) -> bool:
    """Read every record as the shared layout says, checking each tag on the way: a few array
    operations per field (or per run of fixed-width fields) for the whole batch. False when any
    record differs; the general path then reads the batch."""
    for step in steps:
        if step.wire == 1:
            if (pos + step.length > ends).any():
                return False
            raw = _rows_of(buf, pos, step.length)
            for offset, tag, width, field in step.items:
                for k, byte in enumerate(tag):
                    if (raw[:, offset + k] != byte).any():
                        return False
                start = offset + len(tag)
                value = np.ascontiguousarray(raw[:, start : start + width]).view("<i8" if width == 8 else "<i4")
                col = columns[field.name]
                col.values = value.ravel().astype(np.int64)
                col.present[:] = True
            pos = pos + step.length
            continue
        for k, byte in enumerate(step.tag):
            if (buf[pos + k] != byte).any():
                return False
        pos = pos + len(step.tag)
        value, size = _varints(buf, pos)
        if (size > 10).any():
            return False
        assert step.field is not None
        col = columns[step.field.name]
        if step.wire == 0:
            col.values = value.view(np.int64)
            pos = pos + size
        else:
            start = pos + size
            length = value.view(np.int64)
            if (length < 0).any():
                return False
            col.values = np.stack([start, length], axis=1)
            pos = start + length
        col.present[:] = True
        if (pos > ends).any():
            return False
    return bool((pos == ends).all())


def _store(columns: dict[str, FieldColumn], by_number: dict[int, descriptor_pb2.FieldDescriptorProto],
           numbers: np.ndarray, rows: np.ndarray, values: np.ndarray, wire: int, bad: np.ndarray) -> None:  # fmt: skip
    for number in _distinct(numbers):
        field = by_number.get(number)
        sel = numbers == number
        if field is None:
            continue  # an unknown field: skipped, as the protobuf runtime does
        if _WIRE[field.type] != wire:
            bad[rows[sel]] = True
            continue
        col = columns[field.name]
        col.present[rows[sel]] = True
        col.values[rows[sel]] = values[sel]  # a repeated occurrence overwrites: last one wins


def to_arrow(batch: DecodedBatch, field: descriptor_pb2.FieldDescriptorProto, arrow_type: pa.DataType) -> pa.Array:
    """One decoded field as an Arrow array of the column's type (missing fields are null)."""
    col = batch.columns[field.name]
    n = col.present.size
    mask = None if col.present.all() else ~col.present
    if field.type == _FD.TYPE_STRING:
        start, length = col.values[:, 0], col.values[:, 1]
        if mask is not None:
            length = np.where(col.present, length, 0)
        offsets = np.empty(n + 1, dtype=np.int64)
        offsets[0] = 0
        np.cumsum(length, out=offsets[1:])
        if mask is None and n and (length == length[0]).all():  # all of one length (ids): rows of a window view
            data = pa.py_buffer(_rows_of(batch.buffer, start, int(length[0])).tobytes())
        else:
            index = np.arange(offsets[-1]) - np.repeat(offsets[:-1] - start, length)
            data = pa.py_buffer(batch.buffer[index].tobytes())
        validity = None if mask is None else pa.py_buffer(np.packbits(col.present, bitorder="little"))
        if offsets[-1] < 2**31 and arrow_type == pa.string():
            arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data, validity)
        else:
            arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data, validity)
        arr.validate(full=True)  # raises on invalid UTF-8
        return arr if arr.type == arrow_type else arr.cast(arrow_type)
    if field.type == _FD.TYPE_DOUBLE:
        array = pa.array(col.values.view(np.float64), type=pa.float64(), mask=mask)
    else:
        ints = col.values
        if field.type == _FD.TYPE_INT32:
            ints = ints.astype(np.int32)  # low 32 bits, as the protobuf runtime reads int32
        array = pa.array(ints, mask=mask)
        if pa.types.is_timestamp(arrow_type) or pa.types.is_date32(arrow_type):
            array = array.cast(pa.int64() if pa.types.is_timestamp(arrow_type) else pa.int32())
    return array if array.type == arrow_type else array.cast(arrow_type)
