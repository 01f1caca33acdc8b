"""The sensor event, defined once.

Every other representation (the proto2 message for ZeroBus PROTO mode, the Arrow schema of the
local Delta table, the Databricks and PostgreSQL DDL, the JSON field order) is derived from
`COLUMNS`, so they cannot drift apart. Names, types, nullability and order follow the original
ZeroStream table.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

MESSAGE_NAME = "SensorEvent"
PROTO_FILE_NAME = "zerostream_sensor_event.proto"
PARTITION_COLUMN = "event_date"
DEFAULT_TABLE_NAME = "sensor_stream"


class ColumnType(enum.Enum):
    """Delta column types used by the table, with their wire and engine counterparts."""

    STRING = "STRING"
    TIMESTAMP = "TIMESTAMP"  # epoch microseconds (UTC) on the wire
    DATE = "DATE"  # days since 1970-01-01 on the wire
    DOUBLE = "DOUBLE"
    INT = "INT"
    BIGINT = "BIGINT"


_PROTO_TYPES = {
    ColumnType.STRING: descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    ColumnType.TIMESTAMP: descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    ColumnType.DATE: descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    ColumnType.DOUBLE: descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    ColumnType.INT: descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    ColumnType.BIGINT: descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
}
_PROTO_TYPE_NAMES = {
    ColumnType.STRING: "string",
    ColumnType.TIMESTAMP: "int64",
    ColumnType.DATE: "int32",
    ColumnType.DOUBLE: "double",
    ColumnType.INT: "int32",
    ColumnType.BIGINT: "int64",
}
_ARROW_TYPES = {
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.DATE: pa.date32(),
    ColumnType.DOUBLE: pa.float64(),
    ColumnType.INT: pa.int32(),
    ColumnType.BIGINT: pa.int64(),
}
_POSTGRES_TYPES = {
    ColumnType.STRING: "TEXT",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
    ColumnType.DATE: "DATE",
    ColumnType.DOUBLE: "DOUBLE PRECISION",
    ColumnType.INT: "INTEGER",
    ColumnType.BIGINT: "BIGINT",
}
_INT_RANGES = {
    ColumnType.DATE: (-(2**31), 2**31 - 1),
    ColumnType.INT: (-(2**31), 2**31 - 1),
    ColumnType.TIMESTAMP: (-(2**63), 2**63 - 1),
    ColumnType.BIGINT: (-(2**63), 2**63 - 1),
}


class Origin(enum.Enum):
    """Who fills a column. The ZeroBus service fills none: it writes the record's fields and NULL for
    every nullable column the record leaves out (docs.databricks.com, Zerobus "Schema management")."""

    DEVICE = "device"  # generated with the event
    SENDER = "sender"  # the ingest client, each time it hands the record to ZeroBus
    NOBODY = "nobody"  # kept from the original table; NULL unless another producer sets it


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool
    comment: str
    origin: Origin = Origin.DEVICE

    @property
    def proto_label(self) -> str:
        return "optional" if self.nullable else "required"


def _c(name: str, type_: ColumnType, nullable: bool, comment: str, origin: Origin = Origin.DEVICE) -> Column:
    return Column(name, type_, nullable, comment, origin)


STR, TS, DATE, DBL, INT, BIG = (
    ColumnType.STRING,
    ColumnType.TIMESTAMP,
    ColumnType.DATE,
    ColumnType.DOUBLE,
    ColumnType.INT,
    ColumnType.BIGINT,
)

COLUMNS: tuple[Column, ...] = (
    _c("event_id", STR, False, "UUID per event (time-ordered v7)"),
    _c("connection_id", STR, False, "Simulated device connection ID"),
    _c("device_name", STR, True, "Human-readable device label"),
    _c("event_timestamp", TS, False, "Event generation time (device clock)"),
    _c("event_date", DATE, False, "Event generation date (device clock, UTC)"),
    _c("ingested_at", TS, True, "When the ingest client sent the record to ZeroBus (its latest send)", Origin.SENDER),
    _c("latitude", DBL, True, "GPS latitude decimal degrees (-90 to 90)"),
    _c("longitude", DBL, True, "GPS longitude decimal degrees (-180 to 180)"),
    _c("altitude_m", DBL, True, "Altitude in metres above sea level"),
    _c("heading_deg", DBL, True, "Compass heading 0-360 degrees"),
    _c("pitch_deg", DBL, True, "Pitch angle -90 to +90 degrees"),
    _c("roll_deg", DBL, True, "Roll angle -180 to +180 degrees"),
    _c("accel_x", DBL, True, "Specific force X axis (device right) m/s2"),
    _c("accel_y", DBL, True, "Specific force Y axis (device forward) m/s2"),
    _c("accel_z", DBL, True, "Specific force Z axis (device up) m/s2"),
    _c("accel_magnitude", DBL, True, "Total acceleration magnitude m/s2"),
    _c("gyro_x", DBL, True, "Angular velocity X axis degrees/s"),
    _c("gyro_y", DBL, True, "Angular velocity Y axis degrees/s"),
    _c("gyro_z", DBL, True, "Angular velocity Z axis degrees/s"),
    _c("speed_kmh", DBL, True, "Speed km/h"),
    _c("battery_pct", INT, True, "Battery percentage 0-100"),
    _c("signal_strength", INT, True, "Cellular RSSI dBm"),
    _c("zerobus_topic", STR, True, "ZeroBus topic name"),
    _c("zerobus_offset", BIG, True, "ZeroBus stream offset of the record (not filled by ZeroStream)", Origin.NOBODY),
    _c("payload_bytes", INT, True, "Encoded record size in bytes, this field included"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
DEVICE_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.origin is Origin.DEVICE)
SENT_AT = "ingested_at"  # the one SENDER column
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

TABLE_PROPERTIES: dict[str, str] = {
    "delta.enableChangeDataFeed": "true",
    "delta.autoOptimize.optimizeWrite": "true",
    "delta.autoOptimize.autoCompact": "true",
}
TABLE_COMMENT = "ZeroStream sensor events ingested via ZeroBus"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def quote_identifier(part: str) -> str:
    """Backtick-quote one part of a Unity Catalog name; refuse what cannot be a name."""
    if not part or "`" in part or not _IDENTIFIER.match(part):
        raise ValueError(f"invalid identifier {part!r}: use letters, digits, '_' or '-'")
    return f"`{part}`"


def qualified_name(catalog: str, schema: str, table: str) -> str:
    return ".".join(quote_identifier(p) for p in (catalog, schema, table))


def split_table_name(full_name: str) -> tuple[str, str, str]:
    """`catalog.schema.table` -> its three parts, each checked."""
    parts = full_name.split(".")
    if len(parts) != 3:
        raise ValueError(f"table name {full_name!r} must have three parts: catalog.schema.table")
    for p in parts:
        quote_identifier(p)
    return parts[0], parts[1], parts[2]


# --- Arrow -------------------------------------------------------------------------------


def arrow_type(column_type: ColumnType) -> pa.DataType:
    return _ARROW_TYPES[column_type]


@cache
def arrow_schema() -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.type], nullable=c.nullable, metadata={"comment": c.comment}) for c in COLUMNS]
    )


# --- DDL ---------------------------------------------------------------------------------


def databricks_ddl(catalog: str, schema: str, table: str = DEFAULT_TABLE_NAME) -> str:
    """`CREATE TABLE IF NOT EXISTS` for Unity Catalog; never a DROP."""
    width = max(len(c.name) for c in COLUMNS)
    lines = []
    for c in COLUMNS:
        null = "" if c.nullable else " NOT NULL"
        comment = c.comment.replace("'", "\\'")
        lines.append(f"  {c.name.ljust(width)} {c.type.value}{null} COMMENT '{comment}'")
    props = ",\n".join(f"  '{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified_name(catalog, schema, table)} (\n"
        + ",\n".join(lines)
        + f"\n)\nUSING DELTA\nPARTITIONED BY ({PARTITION_COLUMN})\n"
        + f"COMMENT '{TABLE_COMMENT}'\nTBLPROPERTIES (\n{props}\n)"
    )


def postgres_ddl(schema: str, table: str = DEFAULT_TABLE_NAME) -> str:
    """DDL of the Lakebase (PostgreSQL) copy; event_id is the key the synced table uses."""
    quoted = f'"{schema}"."{table}"'
    for part in (schema, table):
        quote_identifier(part)
    lines = []
    for c in COLUMNS:
        null = "" if c.nullable else " NOT NULL"
        lines.append(f"  {c.name} {_POSTGRES_TYPES[c.type]}{null}")
    lines.append("  PRIMARY KEY (event_id)")
    return f"CREATE TABLE IF NOT EXISTS {quoted} (\n" + ",\n".join(lines) + "\n)"


def postgres_type(column: Column) -> str:
    return _POSTGRES_TYPES[column.type]


# --- Protobuf ------------------------------------------------------------------------------


@cache
def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(name=PROTO_FILE_NAME, syntax="proto2")
    msg = fdp.message_type.add(name=MESSAGE_NAME)
    for number, c in enumerate(COLUMNS, start=1):
        label = (
            descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            if c.nullable
            else descriptor_pb2.FieldDescriptorProto.LABEL_REQUIRED
        )
        msg.field.add(name=c.name, number=number, type=_PROTO_TYPES[c.type], label=label)
    return fdp


def descriptor_proto() -> descriptor_pb2.DescriptorProto:
    """The message descriptor that ZeroBus create_stream carries in PROTO mode."""
    return file_descriptor().message_type[0]


@cache
def message_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    cls: type[Message] = message_factory.GetMessageClass(pool.FindMessageTypeByName(MESSAGE_NAME))
    return cls


def field_number(name: str) -> int:
    return COLUMN_NAMES.index(name) + 1


def proto_text() -> str:
    """The .proto source, in the shape the ZeroBus SDK's generate_proto tool writes."""
    body = "\n".join(f"\t{c.proto_label} {_PROTO_TYPE_NAMES[c.type]} {c.name} = {n};" for n, c in enumerate(COLUMNS, 1))
    return f'syntax = "proto2";\n\nmessage {MESSAGE_NAME} {{\n{body}\n}}\n'


# --- Validation of a decoded record (JSON mode) -----------------------------------------------


class RecordError(ValueError):
    """A record that does not fit the table; the message names the column."""


def check_value(column: Column, value: Any) -> None:
    """Raise RecordError if `value` is not a valid wire value for `column`."""
    if value is None:
        if not column.nullable:
            raise RecordError(f"column {column.name} is NOT NULL but the record has no value")
        return
    t = column.type
    if t is ColumnType.STRING:
        if not isinstance(value, str):
            raise RecordError(f"column {column.name} expects a string, got {type(value).__name__}")
    elif t is ColumnType.DOUBLE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(f"column {column.name} expects a number, got {type(value).__name__}")
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"column {column.name} expects an integer, got {type(value).__name__}")
        lo, hi = _INT_RANGES[t]
        if not lo <= value <= hi:
            raise RecordError(f"column {column.name} value {value} is out of range")
