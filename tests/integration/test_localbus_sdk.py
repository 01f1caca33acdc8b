"""localbus, driven by the official ZeroBus SDK (sync and async), as its own process."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.localbus_helpers import (
    TABLE,
    LocalBusProcess,
    free_port,
    headers_provider,
    options,
    table_properties,
)
from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import Fleet

pytestmark = pytest.mark.integration


@pytest.fixture
def bus(tmp_path: Path):
    lb = LocalBusProcess(tmp_path / "lb", free_port()).start()
    yield lb
    if lb.proc and lb.proc.poll() is None:
        lb.terminate()


SENT_US = 1_796_083_200_000_000


def _us(t) -> int:
    return round(t.timestamp() * 1_000_000)


def fleet_batches(n_devices: int, seconds: int, seed: int = 7):
    fleet = Fleet(seed, n_devices, interval_ms=1000)
    fleet.start(1_800_000_000.0)
    return [fleet.advance(1_800_000_000.0 + k) for k in range(1, seconds + 1)]


class Acks:
    """An AckCallback that remembers what was acknowledged."""

    def __new__(cls):
        from zerobus.sdk.shared import AckCallback

        class _Acks(AckCallback):
            def __init__(self):
                super().__init__()
                self.acked: list[int] = []
                self.errors: list[str] = []
                self.lock = threading.Lock()

            def on_ack(self, offset):
                with self.lock:
                    self.acked.append(offset)

            def on_error(self, offset, error_message):
                with self.lock:
                    self.errors.append(error_message)

        return _Acks()


@pytest.mark.parametrize("json_mode", [False, True], ids=["proto", "json"])
@pytest.mark.parametrize("batched", [True, False], ids=["batch", "single"])
def test_sync_sdk_lands_every_record(bus, json_mode, batched):
    from zerobus.sdk.sync import ZerobusSdk

    acks = Acks()
    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    stream = sdk.create_stream(
        table_properties=table_properties(json_mode=json_mode),
        options=options(json_mode, ack_callback=acks),
        headers_provider=headers_provider(),
    )
    sent, sizes = [], {}
    for k, batch in enumerate(fleet_batches(30, 4)):
        spooled = encoding.encode_json(batch) if json_mode else encoding.encode_proto(batch)
        records = encoding.stamp_sent(spooled, SENT_US + k)  # type: ignore[arg-type]
        sent.extend(batch.event_ids())
        for e, r in zip(batch.event_ids(), records, strict=True):
            sizes[e] = (len(r.encode()) if json_mode else len(r), SENT_US + k)
        if batched:
            stream.ingest_records_offset(records)
        else:
            for r in records:
                stream.ingest_record_offset(r)
    stream.flush()
    stream.close()
    assert Counter(bus.event_ids()) == Counter(sent)
    # written as sent: the sender's stamp and size, and nothing filled in by the endpoint
    rows = bus.rows("event_id", "payload_bytes", "ingested_at", "zerobus_offset")
    assert all((r["payload_bytes"], _us(r["ingested_at"])) == sizes[r["event_id"]] for r in rows)
    assert all(r["zerobus_offset"] is None for r in rows)
    assert acks.acked and not acks.errors


def test_async_sdk_with_wait_for_offset(bus):
    from zerobus.sdk.aio import ZerobusSdk

    async def run():
        sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
        stream = await sdk.create_stream(
            table_properties=table_properties(), options=options(), headers_provider=headers_provider()
        )
        sent, last = [], None
        for batch in fleet_batches(50, 5):
            last = await stream.ingest_records_offset(encoding.encode_proto(batch))
            sent.extend(batch.event_ids())
        await stream.wait_for_offset(last)
        landed = Counter(bus.event_ids())  # acknowledged means committed: visible before close
        await stream.close()
        return sent, landed

    sent, landed = asyncio.run(run())
    assert landed == Counter(sent)


def test_tls_with_the_local_ca(tmp_path: Path, monkeypatch):
    from zerobus.sdk.sync import ZerobusSdk

    lb = LocalBusProcess(tmp_path / "tls", free_port(), tls=True).start()
    try:
        ca = tmp_path / "tls" / "tls" / "ca.pem"
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        sdk = ZerobusSdk(lb.endpoint, "http://127.0.0.1:9")
        stream = sdk.create_stream(
            table_properties=table_properties(), options=options(), headers_provider=headers_provider()
        )
        batch = fleet_batches(10, 1)[0]
        stream.ingest_records_offset(encoding.encode_proto(batch))
        stream.flush()
        stream.close()
        assert sorted(lb.event_ids()) == sorted(batch.event_ids())
    finally:
        lb.terminate()


def expect_failure(bus, match: str, *, token: str | None = None, table: str = TABLE, props=None) -> str:
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    kwargs = {"headers_provider": headers_provider(token)} if token else {"headers_provider": headers_provider()}
    with pytest.raises(Exception, match=match) as info:
        sdk.create_stream(table_properties=props or table_properties(table), options=options(recovery=False), **kwargs)
    return str(info.value)


def test_wrong_token_is_unauthenticated(bus):
    expect_failure(bus, "(?i)unauthenticated|bearer token", token="not-the-token")


def test_unknown_table_is_named(bus):
    expect_failure(bus, "main.nowhere.sensor_stream", table="main.nowhere.sensor_stream")


def test_descriptor_that_does_not_match_names_the_column(bus):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from zerobus.sdk.shared import TableProperties

    fdp = descriptor_pb2.FileDescriptorProto(name="wrong.proto", syntax="proto2")
    msg = fdp.message_type.add(name="Wrong")
    f = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="event_id", number=1, type=f.TYPE_STRING, label=f.LABEL_REQUIRED)
    msg.field.add(name="connection_id", number=2, type=f.TYPE_STRING, label=f.LABEL_REQUIRED)
    msg.field.add(name="event_timestamp", number=3, type=f.TYPE_STRING, label=f.LABEL_REQUIRED)
    msg.field.add(name="event_date", number=4, type=f.TYPE_INT32, label=f.LABEL_REQUIRED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    wrong = message_factory.GetMessageClass(pool.FindMessageTypeByName("Wrong"))
    expect_failure(bus, "event_timestamp", props=TableProperties(TABLE, wrong.DESCRIPTOR))


def test_malformed_record_fails_the_stream_but_keeps_what_was_acknowledged(bus):
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    stream = sdk.create_stream(
        table_properties=table_properties(), options=options(recovery=False), headers_provider=headers_provider()
    )
    good = fleet_batches(10, 1)[0]
    stream.ingest_records_offset(encoding.encode_proto(good))
    stream.flush()
    with pytest.raises(Exception, match="(?i)offset|not a valid|invalid"):
        stream.ingest_record_offset(b"\xff\xff\xff not protobuf")
        stream.flush()
    assert sorted(bus.event_ids()) == sorted(good.event_ids())


def test_oversized_record_is_refused(bus):
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    stream = sdk.create_stream(
        table_properties=table_properties(json_mode=True),
        options=options(True, recovery=False),
        headers_provider=headers_provider(),
    )
    huge = encoding.encode_json(fleet_batches(1, 1)[0])[0][:-1] + ',"device_name":"' + "x" * (5 * 1024 * 1024) + '"}'
    with pytest.raises(Exception, match="(?i)limit|too large|bytes"):
        stream.ingest_record_offset(huge)
        stream.flush()
    assert bus.event_ids() == []


def test_a_second_server_on_the_same_folder_refuses(bus):
    second = LocalBusProcess(bus.data_dir, free_port())
    with pytest.raises(RuntimeError, match="already running"):
        second.start()


def raw_stream(bus, requests, token: str | None = "integration-test-token"):
    """Talk to localbus without the SDK, to send what the SDK never would."""
    import grpc

    from zerostream_desktop.localbus import protocol

    channel = grpc.insecure_channel(f"127.0.0.1:{bus.port}")
    call = channel.stream_stream(
        protocol.METHOD,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=protocol.response_class().FromString,
    )
    metadata = [("authorization", f"Bearer {token}")] if token else []
    try:
        return list(call(iter(requests), metadata=metadata, timeout=20))
    finally:
        channel.close()


def test_records_before_create_stream_are_refused(bus):
    import grpc

    from zerostream_desktop.localbus import protocol

    request = protocol.request_class()
    record = protocol.message("IngestRecordRequest")(offset_id=0, proto_encoded_record=b"\x0a\x01x")
    with pytest.raises(grpc.RpcError) as info:
        raw_stream(bus, [request(ingest_record=record)])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "create_stream" in info.value.details()


def test_missing_token_is_unauthenticated(bus):
    import grpc

    from zerostream_desktop.localbus import protocol

    create = protocol.message("CreateIngestStreamRequest")(table_name=TABLE, record_type=protocol.JSON)
    with pytest.raises(grpc.RpcError) as info:
        raw_stream(bus, [protocol.request_class()(create_stream=create)], token=None)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_json_stream_without_the_sdk_gets_cumulative_acks(bus):
    from zerostream_desktop.localbus import protocol

    request = protocol.request_class()
    create = protocol.message("CreateIngestStreamRequest")(table_name=TABLE, record_type=protocol.JSON)
    batch = fleet_batches(5, 1)[0]
    records = protocol.message("JsonRecordBatch")(records=encoding.encode_json(batch))
    ingest = protocol.message("IngestRecordBatchRequest")(offset_id=0, json_batch=records)
    responses = raw_stream(bus, [request(create_stream=create), request(ingest_record_batch=ingest)])
    kinds = [r.WhichOneof("payload") for r in responses]
    assert kinds == ["create_stream_response", "ingest_record_response"]
    assert responses[1].ingest_record_response.durability_ack_up_to_offset == 0
    assert sorted(bus.event_ids()) == sorted(batch.event_ids())


def test_batches_sent_ahead_of_a_bad_one_are_written_and_acknowledged_and_the_rest_refused(bus):
    """A client that sends faster than localbus decodes has its waiting requests decoded together;
    a bad record among them still costs only its own request and what follows it."""
    import grpc

    from zerostream_desktop.localbus import protocol

    request = protocol.request_class()
    create = protocol.message("CreateIngestStreamRequest")(
        table_name=TABLE, record_type=protocol.PROTO, descriptor_proto=schema.descriptor_proto().SerializeToString()
    )
    batches = fleet_batches(50, 25)
    bad_at = 20

    def ingest(offset: int, records: list[bytes]):
        body = protocol.message("ProtoEncodedRecordBatch")(records=records)
        return request(
            ingest_record_batch=protocol.message("IngestRecordBatchRequest")(offset_id=offset, proto_encoded_batch=body)
        )

    requests = [request(create_stream=create)]
    requests += [ingest(k, encoding.encode_proto(b)) for k, b in enumerate(batches[:bad_at])]
    requests.append(ingest(bad_at, [b"\xff\xff\xff not protobuf"]))
    requests += [ingest(bad_at + 1 + k, encoding.encode_proto(b)) for k, b in enumerate(batches[bad_at:])]
    channel = grpc.insecure_channel(f"127.0.0.1:{bus.port}")
    call = channel.stream_stream(protocol.METHOD, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=protocol.response_class().FromString)  # fmt: skip
    acked = -1
    try:
        with pytest.raises(grpc.RpcError) as info:
            for response in call(iter(requests), metadata=[("authorization", "Bearer integration-test-token")]):
                if response.WhichOneof("payload") == "ingest_record_response":
                    acked = response.ingest_record_response.durability_ack_up_to_offset
    finally:
        channel.close()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and f"offset {bad_at}" in info.value.details()
    assert acked == bad_at - 1  # everything before the bad request, acknowledged
    assert sorted(bus.event_ids()) == sorted(i for b in batches[:bad_at] for i in b.event_ids())
