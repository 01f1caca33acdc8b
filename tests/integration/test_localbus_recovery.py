"""localbus going away (gracefully, or with kill -9) loses no acknowledged record; the SDK resends the rest."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.localbus_helpers import LocalBusProcess, free_port, headers_provider, options, table_properties
from tests.integration.test_localbus_sdk import Acks
from zerostream_desktop.core import encoding
from zerostream_desktop.core.fleet import Fleet

pytestmark = pytest.mark.integration


class Producer(threading.Thread):
    """Streams fleet batches through the sync SDK until told to stop; remembers offsets and ids."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        from zerobus.sdk.sync import ZerobusSdk

        self.acks = Acks()
        sdk = ZerobusSdk(endpoint, "http://127.0.0.1:9")
        self.stream = sdk.create_stream(
            table_properties=table_properties(),
            options=options(ack_callback=self.acks, recovery_retries=30, recovery_backoff_ms=300),
            headers_provider=headers_provider(),
        )
        self.sent: list[tuple[int, list[str]]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.fleet = Fleet(99, 200, interval_ms=1000)
        self.fleet.start(1_800_000_000.0)

    def run(self) -> None:
        k = 0
        try:
            while not self.stop.is_set():
                k += 1
                batch = self.fleet.advance(1_800_000_000.0 + k * 0.25)
                offset = self.stream.ingest_records_offset(encoding.encode_proto(batch))
                self.sent.append((offset, batch.event_ids()))
                time.sleep(0.02)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        self.stop.set()
        self.join(60)
        assert self.error is None, self.error
        self.stream.flush()
        self.stream.close()

    def acked_offset(self) -> int:
        with self.acks.lock:
            return max(self.acks.acked, default=-1)


def all_ids(producer: Producer) -> list[str]:
    return [i for _, ids in producer.sent for i in ids]


def test_kill_9_mid_stream_then_restart_loses_nothing(tmp_path: Path):
    port = free_port()
    bus = LocalBusProcess(tmp_path / "lb", port).start()
    producer = Producer(bus.endpoint)
    producer.start()
    deadline = time.monotonic() + 20
    while producer.acked_offset() < 3 and time.monotonic() < deadline:  # some acknowledged, more in flight
        time.sleep(0.05)
    bus.kill()
    acked_at_kill = producer.acked_offset()
    assert acked_at_kill >= 0
    time.sleep(1.0)
    bus = LocalBusProcess(tmp_path / "lb", port).start()
    time.sleep(1.5)
    producer.finish()
    try:
        landed = Counter(bus.event_ids())
        sent = all_ids(producer)
        assert set(landed) == set(sent)  # none lost
        acked_before = [i for off, ids in producer.sent if off <= acked_at_kill for i in ids]
        assert all(landed[i] == 1 for i in acked_before)  # acknowledged records: exactly once
    finally:
        bus.terminate()


def test_graceful_restart_is_seamless(tmp_path: Path):
    port = free_port()
    bus = LocalBusProcess(tmp_path / "lb", port).start()
    producer = Producer(bus.endpoint)
    producer.start()
    time.sleep(1.0)
    out = bus.terminate()
    assert "localbus stopped" in out
    bus = LocalBusProcess(tmp_path / "lb", port).start()
    time.sleep(1.5)
    producer.finish()
    try:
        landed = Counter(bus.event_ids())
        assert set(landed) == set(all_ids(producer))
        assert max(landed.values()) == 1  # what was acked was committed; what was not, was not
    finally:
        bus.terminate()


def test_periodic_stream_close_moves_the_sdk_to_a_new_stream_without_loss(tmp_path: Path):
    bus = LocalBusProcess(tmp_path / "lb", free_port()).start("--stream-lifetime", "1")
    try:
        producer = Producer(bus.endpoint)
        producer.start()
        time.sleep(4.0)
        producer.finish()
        assert Counter(bus.event_ids()) == Counter(all_ids(producer))
    finally:
        out = bus.terminate()
    assert out.count("opened on") >= 3  # the SDK moved to new streams
