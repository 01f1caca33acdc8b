"""Invariants of the simulated fleet, for any seed, size, interval and schedule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerostream_desktop.core.fleet import Fleet, ModeMix
from zerostream_desktop.core.fleet.geo import haversine_m
from zerostream_desktop.core.fleet.modes import LIMITS, Mode
from zerostream_desktop.core.fleet.motion import G

T0 = 1_800_000_000.0
seeds = st.integers(min_value=0, max_value=2**63 - 1)
intervals = st.integers(min_value=50, max_value=30_000)
PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(fleet: Fleet, steps: int, step_s: float) -> list:
    fleet.start(T0)
    return [fleet.advance(T0 + k * step_s) for k in range(1, steps + 1)]


@PROPS
@given(seed=seeds, n=st.integers(1, 60), interval=intervals, steps=st.integers(1, 40))
def test_every_event_is_physically_valid(seed, n, interval, steps):
    fleet = Fleet(seed, n, interval_ms=interval)
    for batch in run(fleet, steps, interval / 1000.0):
        c = batch.columns
        assert np.all(np.abs(c["latitude"]) <= 90) and np.all(np.abs(c["longitude"]) <= 180)
        assert np.all((c["heading_deg"] >= 0) & (c["heading_deg"] < 360))
        assert np.all((c["battery_pct"] >= 0) & (c["battery_pct"] <= 100))
        assert np.all((c["signal_strength"] >= -125) & (c["signal_strength"] <= -45))
        assert np.all(np.abs(c["pitch_deg"]) <= 90) and np.all(np.abs(c["roll_deg"]) <= 180)
        assert np.all(c["speed_kmh"] >= 0)
        for name in c:
            assert np.all(np.isfinite(c[name])), name
        acc = np.stack([c["accel_x"], c["accel_y"], c["accel_z"]], axis=1)
        assert np.allclose(np.linalg.norm(acc, axis=1), c["accel_magnitude"])


@PROPS
@given(seed=seeds, interval=st.integers(50, 1000))
def test_speed_is_consistent_with_displacement_over_elapsed_time(seed, interval):
    """Within one sub-step the path length is the mean of the speeds times the elapsed time."""
    fleet = Fleet(seed, 40, interval_ms=interval)
    fleet.start(T0)
    dt = interval / 1000.0
    st_ = fleet.state
    for k in range(1, 30):
        before = (st_.lat.copy(), st_.lon.copy(), st_.speed.copy(), st_.odometer.copy(), st_.last_t.copy())
        now = T0 + k * dt
        batch = fleet.advance(now)
        i = batch.device_index
        if i.size == 0:
            continue
        lat0, lon0, v0, odo0, last_t = (a[i] for a in before)
        elapsed = st_.last_t[i] - last_t if k > 1 else None  # each device's own time since its last slot
        v1 = batch.columns["speed_kmh"] / 3.6
        path = st_.odometer[i] - odo0
        moved = haversine_m(lat0, lon0, batch.columns["latitude"], batch.columns["longitude"])
        assert np.all(moved <= path + 0.01)  # a straight line is never longer than the path
        if elapsed is not None:
            mean = 0.5 * (v0 + v1) * elapsed
            assert np.allclose(path, mean, rtol=1e-9, atol=1e-6)
            assert np.all(moved >= 0.97 * path - 0.05)  # little curvature within one second
        vmax = np.array([LIMITS[Mode(m)].max_speed for m in st_.mode[i]])
        assert np.all(v1 <= vmax + 1e-9)


@PROPS
@given(seed=seeds, interval=st.integers(200, 60_000))
def test_displacement_never_exceeds_the_mode_speed_limit_over_any_interval(seed, interval):
    fleet = Fleet(seed, 30, interval_ms=interval)
    dt = interval / 1000.0
    fleet.start(T0)
    st_ = fleet.state
    last = {}
    for k in range(1, 12):
        batch = fleet.advance(T0 + k * dt)
        for j, dev in enumerate(batch.device_index.tolist()):
            lat, lon, t = batch.columns["latitude"][j], batch.columns["longitude"][j], T0 + k * dt
            if dev in last:
                plat, plon, pt = last[dev]
                assert haversine_m(plat, plon, lat, lon) <= LIMITS[Mode(st_.mode[dev])].max_speed * (t - pt) + 0.01
            last[dev] = (lat, lon, t)


@PROPS
@given(seed=seeds)
def test_accelerometer_reads_about_g_at_rest(seed):
    fleet = Fleet(seed, 50, interval_ms=1000)
    fleet.state.cruise[:] = 0.0  # nobody wants to move
    for batch in run(fleet, 6, 1.0):
        assert np.allclose(batch.columns["accel_magnitude"], G, atol=0.15)
        assert np.allclose(batch.columns["speed_kmh"], 0.0)


@PROPS
@given(seed=seeds, n=st.integers(1, 40), interval=intervals)
def test_same_seed_gives_the_same_stream(seed, n, interval):
    a, b = Fleet(seed, n, interval_ms=interval), Fleet(seed, n, interval_ms=interval)
    for x, y in zip(run(a, 8, 0.7), run(b, 8, 0.7), strict=True):
        assert x.to_rows() == y.to_rows()


@PROPS
@given(seed=seeds, a=st.integers(0, 80), b=st.integers(0, 80))
def test_apply_keeps_existing_devices(seed, a, b):
    fleet = Fleet(seed, a)
    ids_before = list(fleet.identities.connection_ids)
    lat_before = fleet.state.lat.copy()
    fleet.apply(b)
    keep = min(a, b)
    assert fleet.identities.connection_ids[:keep] == ids_before[:keep]
    assert np.array_equal(fleet.state.lat[:keep], lat_before[:keep])
    assert len(set(fleet.identities.connection_ids)) == b
    # A restart with the same seed and size gives the same identities.
    assert Fleet(seed, b).identities.connection_ids == fleet.identities.connection_ids


def test_mode_mix_decides_modes():
    fleet = Fleet(5, 2000, mode_mix=ModeMix(walking=1, cycling=0, driving=3))
    counts = np.bincount(fleet.state.mode, minlength=3)
    assert counts[Mode.CYCLING] == 0
    assert 0.2 < counts[Mode.WALKING] / 2000 < 0.3


def _events_by_id(batches) -> dict[str, tuple]:
    out = {}
    for b in batches:
        names = b.connection_ids()
        for i, event in enumerate(b.event_ids()):
            out[event] = (names[i], *(float(b.columns[k][i]) for k in sorted(b.columns)))
    return out


@pytest.mark.parametrize("faults", [None, "chaos"])
def test_a_slice_of_the_fleet_run_alone_makes_exactly_the_events_the_whole_fleet_makes_for_it(faults):
    """A device's events depend on (seed, device, slot) only: not on the other devices, nor on how often the
    process that runs it steps (the whole fleet every 0.1 s, the slice every 0.25 s)."""
    whole = Fleet(11, 40, interval_ms=1000)
    part = Fleet(11, 10, interval_ms=1000, first_index=30)  # devices 30..39
    assert part.identities.connection_ids == whole.identities.connection_ids[30:]
    for fleet in (whole, part):
        fleet.set_faults(faults)
        fleet.start(T0)
    got_whole = [whole.advance(T0 + k * 0.1) for k in range(1, 601)]
    got_part = [part.advance(T0 + k * 0.25) for k in range(1, 241)]
    mine = set(part.identities.connection_ids)
    expected = {e: v for e, v in _events_by_id(got_whole).items() if v[0] in mine}
    assert len(expected) > 400 and _events_by_id(got_part) == expected  # (chaos: some devices die, go offline)
