"""Fuzzing the local endpoint: malformed, truncated and random records and gRPC messages get a gRPC error,
the server stays up, and the table stays valid with every acknowledged record in it."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port
from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus import protocol
from zerostream_desktop.localbus.tables import TableCatalog

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    lb = LocalBusProcess(tmp_path_factory.mktemp("fuzz"), free_port()).start()
    yield lb
    lb.terminate()


def call(bus: LocalBusProcess, messages: list[bytes], timeout: float = 10) -> list[object]:
    """Raw bytes as the stream's messages: what no SDK would send."""
    channel = grpc.insecure_channel(f"127.0.0.1:{bus.port}")
    try:
        stub = channel.stream_stream(protocol.METHOD, request_serializer=lambda b: b,
                                     response_deserializer=protocol.response_class().FromString)  # fmt: skip
        return list(stub(iter(messages), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=timeout))
    finally:
        channel.close()


def create(json_mode: bool = False) -> bytes:
    req = protocol.message("CreateIngestStreamRequest")(
        table_name=TABLE,
        record_type=protocol.JSON if json_mode else protocol.PROTO,
        descriptor_proto=b"" if json_mode else schema.descriptor_proto().SerializeToString(),
    )
    return protocol.request_class()(create_stream=req).SerializeToString()


def records(payloads: list[bytes], offset: int = 0) -> bytes:
    batch = protocol.message("ProtoEncodedRecordBatch")(records=payloads)
    req = protocol.message("IngestRecordBatchRequest")(offset_id=offset, proto_encoded_batch=batch)
    return protocol.request_class()(ingest_record_batch=req).SerializeToString()


def good_records(n: int) -> tuple[list[bytes], list[str]]:
    fleet = Fleet(5, n, interval_ms=100)
    fleet.start(0.0)
    batch = fleet.advance(0.2)
    return encoding.stamp_sent(encoding.encode_proto(batch)), batch.event_ids()


def alive_and_valid(bus: LocalBusProcess, expect: set[str]) -> None:
    assert bus.proc is not None and bus.proc.poll() is None, "localbus died"
    payloads, ids = good_records(3)
    responses = call(bus, [create(), records(payloads)])
    assert any(getattr(r, "ingest_record_response", None) for r in responses)
    landed = set(TableCatalog(bus.data_dir).open(TABLE).to_pyarrow_table(columns=["event_id"])["event_id"].to_pylist())
    assert expect | set(ids) <= landed  # every acknowledged record is there, the table opens and reads


def refused(bus: LocalBusProcess, messages: list[bytes]) -> grpc.StatusCode | None:
    try:
        call(bus, messages)
    except grpc.RpcError as exc:
        return exc.code()
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=5))
def test_random_records_after_a_valid_create_are_refused_or_written_never_fatal(bus, junk):
    code = refused(bus, [create(), records(junk)])
    assert code in (None, grpc.StatusCode.INVALID_ARGUMENT), code  # written only if they happened to be valid
    assert bus.proc.poll() is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.binary(min_size=0, max_size=200), rest=st.lists(st.binary(max_size=200), max_size=3))
def test_random_grpc_messages_get_a_grpc_error(bus, first, rest):
    code = refused(bus, [first, *rest])
    assert code is not None and code is not grpc.StatusCode.UNKNOWN, code
    assert bus.proc.poll() is None


def test_truncated_records_and_messages_and_the_table_stays_valid(bus):
    payloads, ids = good_records(20)
    acked = call(bus, [create(), records(payloads)])
    assert acked
    for cut in (1, 5, len(payloads[0]) // 2, len(payloads[0]) - 1):
        assert refused(bus, [create(), records([p[:cut] for p in payloads])]) == grpc.StatusCode.INVALID_ARGUMENT
    whole = records(payloads)
    for cut in (3, len(whole) // 2, len(whole) - 1):
        assert refused(bus, [create(), whole[:cut]]) is not None
    alive_and_valid(bus, set(ids))


def test_a_huge_declared_length_or_a_wrong_descriptor_is_refused(bus, tmp_path: Path):
    bogus = protocol.message("CreateIngestStreamRequest")(
        table_name=TABLE, record_type=protocol.PROTO, descriptor_proto=b"\x0a\xff\xff\xff\xff\x0f"
    )
    assert refused(bus, [protocol.request_class()(create_stream=bogus).SerializeToString()]) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert refused(bus, [create(), records([b"\x0a\xff\xff\xff\xff\x0fabc"])]) == grpc.StatusCode.INVALID_ARGUMENT
    alive_and_valid(bus, set())
