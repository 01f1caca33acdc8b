"""A step of the machine's clock (or of a device's, the campaign's fault) moves event timestamps, never the
schedule: devices neither fall silent until the wall clock catches up nor all fire at once."""

from __future__ import annotations

import numpy as np
import pytest

from zerostream_desktop.core.fleet import DeviceClock, Fleet
from zerostream_desktop.core.fleet import clock as clock_module


class FakeTime:
    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 500.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def tick(self, s: float) -> None:
        self.wall += s
        self.mono += s


@pytest.fixture
def fake_time(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(clock_module, "time", fake)
    return fake


def run_ticks(fleet: Fleet, clock: DeviceClock, fake: FakeTime, ticks: int) -> list[tuple[int, np.ndarray]]:
    out = []
    for _ in range(ticks):
        fake.tick(0.1)
        batch = fleet.advance(clock.schedule(), clock.wall())
        out.append((len(batch), batch.columns["event_timestamp"].copy()))
    return out


@pytest.mark.parametrize("step_s", [-3600.0, 86_400.0])
def test_a_clock_step_moves_stamps_not_the_schedule(fake_time, step_s):
    clock = DeviceClock(fault="")
    fleet = Fleet(7, 40, interval_ms=500)
    fleet.start(clock.schedule())
    before = run_ticks(fleet, clock, fake_time, 20)
    fake_time.wall += step_s  # NTP (or a user) steps the machine's clock
    after = run_ticks(fleet, clock, fake_time, 20)
    # the same pace either side of the step: 40 devices every 0.5 s, 80 events per second
    assert sum(n for n, _ in before[10:]) == pytest.approx(80, abs=8)
    assert sum(n for n, _ in after[10:]) == pytest.approx(80, abs=8)
    assert max(n for n, _ in after) <= 40  # nobody fires twice in a tick (no burst after a step forward)
    stamps = np.concatenate([ts for n, ts in after if n])
    assert abs(stamps.min() / 1e6 - (1_800_000_002.0 + step_s)) < 3  # the stamps follow the stepped clock


def test_stamps_and_motion_are_independent():
    a, b = Fleet(3, 25, interval_ms=200), Fleet(3, 25, interval_ms=200)
    a.start(1_800_000_000.0)
    b.start(1_800_000_000.0)
    for k in range(1, 30):
        now = 1_800_000_000.0 + k * 0.2
        x, y = a.advance(now), b.advance(now, stamp=now - 7200)
        assert np.array_equal(x.columns["latitude"], y.columns["latitude"])
        assert np.array_equal(x.columns["event_timestamp"] - 7_200_000_000, y.columns["event_timestamp"])


def test_the_fault_knob_steps_the_device_clock_once_due(fake_time):
    clock = DeviceClock(fault="2.5:-600")
    fake_time.tick(2.0)
    assert clock.wall() == fake_time.wall
    fake_time.tick(1.0)
    assert clock.wall() == fake_time.wall - 600
    assert clock.schedule() == pytest.approx(1_800_000_003.0)
