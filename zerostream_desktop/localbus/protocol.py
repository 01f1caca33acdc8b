"""The ZeroBus wire protocol (`databricks.zerobus`, proto2), built as descriptors at import time.

Package, message names, field numbers and labels are those of the public ZeroBus service proto,
so the official SDK cannot tell localbus from the service. `resources/proto/zerobus_service.proto`
is the same definition as source text; a test compiles it and compares.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import duration_pb2 as _duration  # registers google/protobuf/duration.proto
from google.protobuf.message import Message

PACKAGE = "databricks.zerobus"
SERVICE = f"{PACKAGE}.Zerobus"
METHOD = f"/{SERVICE}/EphemeralStream"
RECORD_TYPE_UNSPECIFIED, PROTO, JSON = 0, 1, 2

_F = descriptor_pb2.FieldDescriptorProto
_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_T = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "int64": _F.TYPE_INT64,
    "enum": _F.TYPE_ENUM,
    "msg": _F.TYPE_MESSAGE,
}

# message -> [(field, number, type, label, type_name, oneof)]
_MESSAGES: dict[str, list[tuple[str, int, str, int, str | None, str | None]]] = {
    "JsonRecordBatch": [("records", 1, "string", _REP, None, None)],
    "ProtoEncodedRecordBatch": [("records", 1, "bytes", _REP, None, None)],
    "CreateIngestStreamRequest": [
        ("table_name", 1, "string", _OPT, None, None),
        ("descriptor_proto", 3, "bytes", _OPT, None, None),
        ("record_type", 4, "enum", _OPT, ".databricks.zerobus.RecordType", None),
    ],
    "CreateIngestStreamResponse": [("stream_id", 1, "string", _OPT, None, None)],
    "IngestRecordRequest": [
        ("offset_id", 1, "int64", _OPT, None, None),
        ("proto_encoded_record", 2, "bytes", _OPT, None, "record"),
        ("json_record", 3, "string", _OPT, None, "record"),
    ],
    "IngestRecordBatchRequest": [
        ("offset_id", 1, "int64", _OPT, None, None),
        ("proto_encoded_batch", 2, "msg", _OPT, ".databricks.zerobus.ProtoEncodedRecordBatch", "batch"),
        ("json_batch", 3, "msg", _OPT, ".databricks.zerobus.JsonRecordBatch", "batch"),
    ],
    "EphemeralStreamRequest": [
        ("create_stream", 1, "msg", _OPT, ".databricks.zerobus.CreateIngestStreamRequest", "payload"),
        ("ingest_record", 2, "msg", _OPT, ".databricks.zerobus.IngestRecordRequest", "payload"),
        ("ingest_record_batch", 3, "msg", _OPT, ".databricks.zerobus.IngestRecordBatchRequest", "payload"),
    ],
    "IngestRecordResponse": [("durability_ack_up_to_offset", 1, "int64", _OPT, None, None)],
    "CloseStreamSignal": [("duration", 1, "msg", _OPT, ".google.protobuf.Duration", None)],
    "EphemeralStreamResponse": [
        ("create_stream_response", 1, "msg", _OPT, ".databricks.zerobus.CreateIngestStreamResponse", "payload"),
        ("ingest_record_response", 2, "msg", _OPT, ".databricks.zerobus.IngestRecordResponse", "payload"),
        ("close_stream_signal", 3, "msg", _OPT, ".databricks.zerobus.CloseStreamSignal", "payload"),
    ],
}
_RESERVED = {"CreateIngestStreamRequest": ("stream_id", 2), "CreateIngestStreamResponse": ("last_offset_id", 2)}


@cache
def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="zerobus_service.proto",
        package=PACKAGE,
        syntax="proto2",
        dependency=["google/protobuf/duration.proto"],
    )
    enum = fdp.enum_type.add(name="RecordType")
    for name, number in (("RECORD_TYPE_UNSPECIFIED", 0), ("PROTO", 1), ("JSON", 2)):
        enum.value.add(name=name, number=number)
    for msg_name, fields in _MESSAGES.items():
        msg = fdp.message_type.add(name=msg_name)
        oneofs: list[str] = []
        for name, number, type_, label, type_name, oneof in fields:
            field = msg.field.add(name=name, number=number, type=_T[type_], label=label)
            if type_name:
                field.type_name = type_name
            if oneof:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    msg.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
        if msg_name in _RESERVED:
            reserved_name, reserved_number = _RESERVED[msg_name]
            msg.reserved_name.append(reserved_name)
            msg.reserved_range.add(start=reserved_number, end=reserved_number + 1)
    service = fdp.service.add(name="Zerobus")
    service.method.add(
        name="EphemeralStream",
        input_type=".databricks.zerobus.EphemeralStreamRequest",
        output_type=".databricks.zerobus.EphemeralStreamResponse",
        client_streaming=True,
        server_streaming=True,
    )
    return fdp


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(_duration.DESCRIPTOR.serialized_pb)
    pool.Add(file_descriptor())
    return pool


@cache
def message(name: str) -> Any:
    """The message class `databricks.zerobus.<name>`."""
    cls: type[Message] = message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{PACKAGE}.{name}"))
    return cls


def request_class() -> Any:
    return message("EphemeralStreamRequest")


def response_class() -> Any:
    return message("EphemeralStreamResponse")
