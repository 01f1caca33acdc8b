"""localbus speaks the ZeroBus protocol: the checked-in .proto and the run-time descriptors agree."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from zerostream_desktop.core.paths import resource_path
from zerostream_desktop.localbus import protocol


def compile_proto(tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    out = tmp_path / "set.pb"
    folder = resource_path("proto", "zerobus_service.proto").parent
    rc = protoc.main(["protoc", f"-I{include}", f"-I{folder}", f"--descriptor_set_out={out}", "zerobus_service.proto"])
    assert rc == 0
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in compiled.message_type:
        for field in message.field:
            field.ClearField("json_name")
    compiled.ClearField("syntax")  # protoc leaves it empty for proto2
    return compiled


def test_runtime_descriptors_equal_the_compiled_proto(tmp_path: Path):
    mine = descriptor_pb2.FileDescriptorProto()
    mine.CopyFrom(protocol.file_descriptor())
    mine.ClearField("syntax")
    assert compile_proto(tmp_path) == mine


def test_wire_names_and_numbers_are_the_services():
    request = protocol.request_class()
    fields = {f.name: f.number for f in request.DESCRIPTOR.fields}
    assert fields == {"create_stream": 1, "ingest_record": 2, "ingest_record_batch": 3}
    assert request.DESCRIPTOR.full_name == "databricks.zerobus.EphemeralStreamRequest"
    ack = protocol.message("IngestRecordResponse")(durability_ack_up_to_offset=41)
    wrapped = protocol.response_class()(ingest_record_response=ack).SerializeToString()
    assert wrapped == bytes([0x12, 0x02, 0x08, 41])  # field 2 (len 2): field 1 varint 41
    assert protocol.METHOD == "/databricks.zerobus.Zerobus/EphemeralStream"
