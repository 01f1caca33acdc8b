"""What a user of the simulator would notice: believable movement, schedules, traces, pause."""

from __future__ import annotations

import numpy as np
import pytest

from zerostream_desktop.core.fleet import BoundingBox, Fleet, Mode, ModeMix, Region
from zerostream_desktop.core.fleet.geo import haversine_m
from zerostream_desktop.core.fleet.traces import build_trace

T0 = 1_800_000_000.0


def drive(fleet: Fleet, seconds: float, step: float = 1.0) -> list:
    fleet.start(T0)
    return [fleet.advance(T0 + k * step) for k in range(1, int(seconds / step) + 1)]


def test_modes_travel_at_believable_speeds_over_ten_minutes():
    fleet = Fleet(1, 300, interval_ms=1000)
    batches = drive(fleet, 600)
    speeds = {m: [] for m in Mode}
    for b in batches:
        for m in Mode:
            speeds[m].extend(b.columns["speed_kmh"][fleet.state.mode[b.device_index] == m])
    walk, cycle, car = (np.median(speeds[m]) for m in Mode)
    assert 3 < walk < 7
    assert 12 < cycle < 28
    assert 25 < car < 90
    assert max(speeds[Mode.DRIVING]) <= 36 * 3.6 + 1e-6


def test_devices_turn_smoothly_and_reach_waypoints():
    fleet = Fleet(2, 100, interval_ms=1000, mode_mix=ModeMix(walking=0, cycling=0, driving=1))
    batches = drive(fleet, 900)
    headings = np.array([b.columns["heading_deg"] for b in batches])
    change = np.abs((np.diff(headings, axis=0) + 180) % 360 - 180)
    assert np.percentile(change, 99) < 31  # a car does not spin on the spot
    home = haversine_m(fleet.state.home_lat, fleet.state.home_lon, fleet.state.lat, fleet.state.lon)
    assert np.median(home) > 300  # they went somewhere
    assert np.all(home < 40_000)  # and stayed around their city


def test_altitude_changes_smoothly():
    fleet = Fleet(3, 50, interval_ms=1000)
    alt = np.array([b.columns["altitude_m"] for b in drive(fleet, 300)])
    speed = np.array([b.columns["speed_kmh"] for b in drive(Fleet(3, 50, interval_ms=1000), 300)]) / 3.6
    step = np.abs(np.diff(alt, axis=0))
    moved_at_most = np.maximum(np.maximum(speed[1:], speed[:-1]), 0.5)  # metres in the second between events
    assert np.all(step <= moved_at_most * 0.2 + 0.01)  # never steeper than a 20 % grade


def test_position_advances_by_real_elapsed_time_whatever_the_interval():
    """One 10 s interval moves devices as far as ten 1 s intervals (same speed profile)."""
    drivers = ModeMix(walking=0, cycling=0, driving=1)
    fast = Fleet(4, 200, interval_ms=1000, mode_mix=drivers)
    slow = Fleet(4, 200, interval_ms=10_000, mode_mix=drivers)
    drive(fast, 120)
    drive(slow, 120, step=10.0)
    ratio = np.median(slow.state.odometer) / np.median(fast.state.odometer)
    assert 0.85 < ratio < 1.15
    assert np.median(fast.state.odometer) > 500


def test_each_device_keeps_its_own_interval():
    fleet = Fleet(5, 10, interval_ms=1000)
    fleet.set_interval(250, np.array([0, 1]))
    counts = np.zeros(10, dtype=int)
    for b in drive(fleet, 20, step=0.05):
        np.add.at(counts, b.device_index, 1)
    assert 76 <= counts[0] <= 81 and 76 <= counts[1] <= 81
    assert np.all((counts[2:] >= 19) & (counts[2:] <= 21))


def test_paused_devices_send_nothing_and_do_not_jump_on_resume():
    fleet = Fleet(6, 4, interval_ms=1000)
    fleet.start(T0)
    fleet.advance(T0 + 1.0)
    fleet.pause(np.array([0]))
    where = (fleet.state.lat[0], fleet.state.lon[0])
    for k in range(2, 60):
        assert 0 not in fleet.advance(T0 + k).device_index
    fleet.resume(np.array([0]), T0 + 60)
    b = fleet.advance(T0 + 62.0)
    assert 0 in b.device_index
    assert haversine_m(*where, fleet.state.lat[0], fleet.state.lon[0]) < 36 * 2.0 + 1


def test_bounding_box_region_keeps_devices_inside():
    box = BoundingBox(52.30, 4.80, 52.42, 5.00)
    fleet = Fleet(7, 200, region=Region(box=box), interval_ms=2000)
    for b in drive(fleet, 1800, step=2.0):
        lat, lon = b.columns["latitude"], b.columns["longitude"]
        assert np.all((lat > box.south - 0.05) & (lat < box.north + 0.05))
        assert np.all((lon > box.west - 0.08) & (lon < box.east + 0.08))


def test_battery_drains_and_charging_devices_gain():
    fleet = Fleet(8, 200, interval_ms=5000)
    start = fleet.state.battery.copy()
    fleet.state.charging[:100] = True
    fleet.state.has_charger[:100] = True
    fleet.state.battery[:100] = 50.0
    drive(fleet, 3600, step=5.0)
    assert np.all(fleet.state.battery[100:] < start[100:])
    drained = start[100:] - fleet.state.battery[100:]
    assert 2 < np.median(drained) < 15  # a few % per hour, like a phone tracking GPS
    assert np.all(fleet.state.battery[:100] > 60.0)


def test_signal_is_stronger_near_a_tower():
    fleet = Fleet(9, 2, interval_ms=1000, region=Region.parse("Amsterdam"))
    t_lat, t_lon = fleet.region.towers(fleet.seed)
    fleet.state.lat[0], fleet.state.lon[0] = t_lat[0] + 0.0005, t_lon[0]
    fleet.state.lat[1], fleet.state.lon[1] = t_lat[0] + 0.5, t_lon[0] + 0.5  # ~60 km out in the polder
    fleet.state.cruise[:] = 0
    rssi = np.array([b.columns["signal_strength"] for b in drive(fleet, 30)])
    assert np.median(rssi[:, 0]) > np.median(rssi[:, 1]) + 30


def test_trace_replay_follows_the_track_at_the_time_scale():
    lat = [52.0, 52.0, 52.0]
    lon = [4.0, 4.01, 4.02]  # ~685 m per segment, eastwards
    trace = build_trace("east", lat, lon, [0, 5, 10], [0, 100, 200])
    fleet = Fleet(10, 3, interval_ms=1000)
    fleet.assign_trace(trace, np.array([0, 1]), T0, time_scale=10.0)
    batches = drive(fleet, 15)
    b = batches[9]  # t = 10 s real = 100 s of track
    j = list(b.device_index).index(0)
    assert b.columns["longitude"][j] == pytest.approx(4.01, abs=1e-4)
    assert b.columns["altitude_m"][j] == pytest.approx(5.0, abs=0.1)
    assert b.columns["heading_deg"][j] == pytest.approx(90.0, abs=0.5)
    assert b.columns["speed_kmh"][j] == pytest.approx(685 / 10 * 3.6, rel=0.02)  # 10x of 6.85 m/s
    steady = [bb.columns["accel_magnitude"][list(bb.device_index).index(0)] for bb in batches[2:9]]
    assert np.median(steady) == pytest.approx(9.81, abs=0.2)  # steady speed: gravity plus road vibration
    # After the end it starts over, without a teleport-speed spike.
    assert max(bb.columns["speed_kmh"][list(bb.device_index).index(0)] for bb in batches[10:]) < 300


def test_apply_rejects_out_of_range_counts():
    with pytest.raises(ValueError, match="between 0 and 10000"):
        Fleet(1, 10_001)
    with pytest.raises(ValueError, match="interval"):
        Fleet(1, 1, interval_ms=0)
