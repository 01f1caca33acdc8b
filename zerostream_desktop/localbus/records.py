"""Checking a stream's declared record shape against its table, and decoding records into Arrow.

Errors name the table, the column or the record's offset, the way the ZeroBus service reports
them, and are raised before anything of the failing request is written. Like the service, this
writes exactly what a record carries: a nullable column the record leaves out is NULL, a NOT NULL
one refuses the record, and no column is filled in by the endpoint (docs.databricks.com, Zerobus
"Schema management": "Zerobus Ingest never augments your table").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from zerostream_desktop.core import schema
from zerostream_desktop.localbus.proto_columns import decode_flat, to_arrow

MAX_RECORD_BYTES = 4 * 1024 * 1024  # the ZeroBus per-record limit
DECODE_CHUNK = 6_000  # records decoded at once by the numpy path (~1M rows/s at 5,000-8,000 here, ~half at 10,000)

_FD = descriptor_pb2.FieldDescriptorProto
_PROTO_FOR_ARROW = {
    pa.string(): {_FD.TYPE_STRING},
    pa.float64(): {_FD.TYPE_DOUBLE},
    pa.int32(): {_FD.TYPE_INT32},
    pa.int64(): {_FD.TYPE_INT64},
    pa.date32(): {_FD.TYPE_INT32},
}
_TYPE_NAMES = {v: k.removeprefix("TYPE_").lower() for k, v in _FD.Type.items()}


class SchemaMismatchError(ValueError):
    """The stream's descriptor does not fit the table."""


class RecordError(ValueError):
    """A record that cannot be ingested; nothing of its request is written."""


def _column_type(arrow_type: pa.DataType) -> schema.ColumnType:
    if pa.types.is_timestamp(arrow_type):
        return schema.ColumnType.TIMESTAMP
    return {
        pa.string(): schema.ColumnType.STRING,
        pa.float64(): schema.ColumnType.DOUBLE,
        pa.int32(): schema.ColumnType.INT,
        pa.int64(): schema.ColumnType.BIGINT,
        pa.date32(): schema.ColumnType.DATE,
    }[arrow_type]


def _allowed_proto_types(arrow_type: pa.DataType) -> set[int]:
    if pa.types.is_timestamp(arrow_type):
        return {_FD.TYPE_INT64}
    return _PROTO_FOR_ARROW.get(arrow_type, set())


def check_descriptor(table_name: str, table_schema: pa.Schema, descriptor: descriptor_pb2.DescriptorProto) -> None:
    """Raise SchemaMismatchError naming the first field or column that does not match."""
    columns = {f.name: f for f in table_schema}
    declared = set()
    for field in descriptor.field:
        declared.add(field.name)
        column = columns.get(field.name)
        if column is None:
            raise SchemaMismatchError(f"field {field.name} of the record does not exist in table {table_name}")
        if field.label == _FD.LABEL_REPEATED or field.type not in _allowed_proto_types(column.type):
            raise SchemaMismatchError(
                f"field {field.name} is {_TYPE_NAMES.get(field.type, field.type)} but column {field.name} of "
                f"table {table_name} is {_column_type(column.type).value}"
            )
    for column in table_schema:
        if not column.nullable and column.name not in declared:
            raise SchemaMismatchError(
                f"column {column.name} of table {table_name} is NOT NULL but the record has no such field"
            )


class Decoder:
    """Turns the records of one stream (PROTO or JSON) into Arrow tables of the table's schema."""

    def __init__(self, table_name: str, table_schema: pa.Schema, descriptor: bytes | None, json_mode: bool) -> None:
        self.table_name = table_name
        self.schema = table_schema
        self.json_mode = json_mode
        self._columns = list(table_schema)
        self._checks = {f.name: schema.Column(f.name, _column_type(f.type), f.nullable, "") for f in self._columns}
        self._message: Any = None
        self._fields: list[descriptor_pb2.FieldDescriptorProto] = []
        if not json_mode:
            self._message = self._message_class(descriptor)
            self._fields = _fields_of(self._message)
        self._required = [f for f in self._fields if self._must_have(f)]

    def _must_have(self, field: descriptor_pb2.FieldDescriptorProto) -> bool:
        """Every record must carry it: the message says required, or the table's column is NOT NULL."""
        check = self._checks.get(field.name)
        return field.label == _FD.LABEL_REQUIRED or (check is not None and not check.nullable)

    def _message_class(self, descriptor: bytes | None) -> Any:
        if not descriptor:
            raise SchemaMismatchError("PROTO streams must send descriptor_proto with create_stream")
        try:
            proto = descriptor_pb2.DescriptorProto.FromString(descriptor)
        except DecodeError:
            raise SchemaMismatchError("descriptor_proto is not a serialized DescriptorProto") from None
        if proto.nested_type or proto.enum_type:
            raise SchemaMismatchError(f"nested messages are not supported by table {self.table_name}")
        check_descriptor(self.table_name, self.schema, proto)
        fdp = descriptor_pb2.FileDescriptorProto(name="stream_record.proto", package="localbus.stream", syntax="proto2")
        fdp.message_type.add().CopyFrom(proto)
        pool = descriptor_pool.DescriptorPool()
        try:
            pool.Add(fdp)
        except (TypeError, ValueError) as exc:
            raise SchemaMismatchError(f"descriptor_proto is invalid: {exc}") from None
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"localbus.stream.{proto.name}"))

    def decode(self, records: Sequence[bytes | str], first_offset: int) -> pa.Table:
        """One Arrow table for `records`; RecordError names the offset of the first bad record."""
        if not self.json_mode and records:
            raws = records if all(type(r) is bytes for r in records) else [_as_bytes(r) for r in records]
            parts = []
            for at in range(0, len(raws), DECODE_CHUNK):  # a few thousand at a time stay in the CPU's caches
                part = self._decode_columns(raws[at : at + DECODE_CHUNK], first_offset + at)  # type: ignore[arg-type]
                if part is None:
                    break
                parts.append(part)
            else:
                return parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        return self._decode_rows(records, first_offset)

    def _decode_columns(self, raws: list[bytes], first_offset: int) -> pa.Table | None:
        """The numpy path; None when a record needs the runtime's judgement (which then raises)."""
        sizes = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
        too_big = np.flatnonzero(sizes > MAX_RECORD_BYTES)
        if too_big.size:
            raise _too_big(first_offset + int(too_big[0]), int(sizes[too_big[0]]))
        batch = decode_flat(raws, self._fields, sizes)
        if batch.bad.size:
            i = int(batch.bad[0])
            self._proto_row(raws[i], first_offset + i)  # raises with the runtime's own message
            return None
        for f in self._required:
            present = batch.columns[f.name].present
            if not present.all():
                raise _no_value(first_offset + int(np.argmin(present)), f.name)
        by_name = {f.name: f for f in self._fields}
        arrays = []
        for column in self.schema:
            if column.name in by_name:
                try:
                    arrays.append(to_arrow(batch, by_name[column.name], column.type))
                except pa.ArrowInvalid as exc:
                    raise RecordError(f"column {column.name}: {exc}") from None
            elif not column.nullable:
                raise RecordError(f"column {column.name} is NOT NULL but the records have no such field")
            else:
                arrays.append(pa.nulls(len(raws), column.type))
        return pa.Table.from_arrays(arrays, schema=self.schema.with_metadata(None))

    def _decode_rows(self, records: Sequence[bytes | str], first_offset: int) -> pa.Table:
        values: dict[str, list[Any]] = {f.name: [] for f in self._columns}
        sizes: list[int] = []
        for i, record in enumerate(records):
            raw = record.encode("utf-8") if isinstance(record, str) else record
            if len(raw) > MAX_RECORD_BYTES:
                raise _too_big(first_offset + i, len(raw))
            row = self._json_row(raw, first_offset + i) if self.json_mode else self._proto_row(raw, first_offset + i)
            for name, column in values.items():
                column.append(row.get(name))
            sizes.append(len(raw))
        arrays = [
            pa.array(values[f.name], type=f.type) if f.name in values else pa.nulls(len(sizes), f.type)
            for f in self.schema
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema.with_metadata(None))

    def _proto_row(self, raw: bytes, offset: int) -> dict[str, Any]:
        try:
            message = self._message.FromString(raw)
        except DecodeError as exc:
            raise RecordError(
                f"record at offset {offset} is not a valid {self._message.DESCRIPTOR.name} message: {exc}"
            ) from None
        row = {fd.name: value for fd, value in message.ListFields()}
        self._check_required(row, offset)
        return row

    def _json_row(self, raw: bytes, offset: int) -> dict[str, Any]:
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecordError(f"record at offset {offset} is not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise RecordError(f"record at offset {offset} must be a JSON object")
        for name, value in row.items():
            check = self._checks.get(name)
            if check is None:
                raise RecordError(f"record at offset {offset}: column {name} does not exist in table {self.table_name}")
            try:
                schema.check_value(check, value)
            except schema.RecordError as exc:
                raise RecordError(f"record at offset {offset}: {exc}") from None
        self._check_required(row, offset)
        return row

    def _check_required(self, row: dict[str, Any], offset: int) -> None:
        for name, check in self._checks.items():
            if not check.nullable and row.get(name) is None:
                raise _no_value(offset, name)


def _fields_of(message_class: Any) -> list[descriptor_pb2.FieldDescriptorProto]:
    proto = descriptor_pb2.DescriptorProto()
    message_class.DESCRIPTOR.CopyToProto(proto)
    return list(proto.field)


def _as_bytes(record: bytes | str) -> bytes:
    return record.encode() if isinstance(record, str) else record


def _too_big(offset: int, size: int) -> RecordError:
    return RecordError(f"record at offset {offset} is {size} bytes; the limit is {MAX_RECORD_BYTES}")


def _no_value(offset: int, column: str) -> RecordError:
    return RecordError(f"record at offset {offset}: column {column} is NOT NULL but has no value")
