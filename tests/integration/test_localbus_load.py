"""Many streams at once, and a client that never reads its acks: nobody starves, memory stays bounded."""

from __future__ import annotations

import threading
import time
from collections import Counter

import grpc
import pytest

from tests.integration.localbus_helpers import TOKEN, LocalBusProcess, free_port, headers_provider, options
from tests.integration.localbus_helpers import table_properties as props
from tests.integration.test_localbus_fuzz import create, good_records, records
from zerostream_desktop.core import encoding
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.localbus import protocol

pytestmark = pytest.mark.integration


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_fifty_concurrent_streams_each_land_everything(tmp_path):
    from zerobus.sdk.sync import ZerobusSdk

    bus = LocalBusProcess(tmp_path, free_port()).start()
    sent: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def producer(seed: int) -> None:
        try:
            sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
            stream = sdk.create_stream(table_properties=props(), options=options(), headers_provider=headers_provider())
            fleet = Fleet(seed, 20, interval_ms=100)
            fleet.start(0.0)
            for k in range(1, 6):
                batch = fleet.advance(k * 0.1)
                stream.ingest_records_offset(encoding.stamp_sent(encoding.encode_proto(batch)))
                with lock:
                    sent.extend(batch.event_ids())
            stream.flush()
            stream.close()
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    try:
        threads = [threading.Thread(target=producer, args=(seed,)) for seed in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        assert Counter(bus.event_ids()) == Counter(sent) and len(sent) >= 50 * 20
    finally:
        bus.terminate()


def test_a_client_that_never_reads_acks_holds_only_itself_back(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_FAULT_COMMIT_DELAY_MS", "50")  # the table is slower than the client
    bus = LocalBusProcess(tmp_path, free_port()).start("--flush-records", "1", "--flush-ms", "0")
    assert bus.proc is not None
    payloads, _ = good_records(1000)
    stop = threading.Event()
    sent = [0]

    def flood():  # type: ignore[no-untyped-def]
        yield create()
        for offset in range(100_000):  # far more than it will get through
            if stop.is_set():
                return
            sent[0] += 1
            yield records(payloads, offset)

    channel = grpc.insecure_channel(f"127.0.0.1:{bus.port}")
    stub = channel.stream_stream(protocol.METHOD, request_serializer=lambda b: b,
                                 response_deserializer=protocol.response_class().FromString)  # fmt: skip
    responses = stub(flood(), metadata=[("authorization", f"Bearer {TOKEN}")])  # never read
    try:
        time.sleep(2.0)
        baseline = rss_mb(bus.proc.pid)
        peak = baseline
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            peak = max(peak, rss_mb(bus.proc.pid))
            time.sleep(0.25)
        # a well-behaved stream meanwhile gets its records in
        from tests.integration.test_localbus_fuzz import call

        good, ids = good_records(50)
        started = time.monotonic()
        assert call(bus, [create(), records(good)], timeout=30)
        assert time.monotonic() - started < 15
        assert set(ids) <= set(bus.event_ids())
        print(f"localbus RSS {baseline:.0f} -> peak {peak:.0f} MB; {sent[0]} batches offered")  # noqa: T201
        assert peak - baseline < 400, (baseline, peak, sent[0])  # bounded, though it kept sending
    finally:
        stop.set()
        responses.cancel()
        channel.close()
        bus.terminate()
