"""The fleet: N simulated phones, advanced together with numpy, each on its own interval."""

from __future__ import annotations

import math

import numpy as np

from zerostream_desktop.core.fleet.batch import US_PER_DAY, EventBatch, new_event_ids
from zerostream_desktop.core.fleet.faults import FaultInjector, FaultLog, FaultSpec
from zerostream_desktop.core.fleet.geo import bearing_deg, haversine_m, wrap_180
from zerostream_desktop.core.fleet.identity import Identities, device_uniforms
from zerostream_desktop.core.fleet.modes import LIMITS, Mode, ModeMix
from zerostream_desktop.core.fleet.motion import integrate, pick_waypoints, terrain_m
from zerostream_desktop.core.fleet.regions import Region
from zerostream_desktop.core.fleet.sensors import (
    accelerometer,
    battery,
    gyroscope,
    orientation,
    signal_strength,
    tower_vectors,
)
from zerostream_desktop.core.fleet.state import DeviceState
from zerostream_desktop.core.fleet.traces import Trace

MAX_DEVICES = 10_000
MAX_GAP_S = 3600.0  # a device silent longer than this (a suspended laptop) is not teleported further
_U_COLS = 12  # per-device uniforms drawn at creation


class Fleet:
    """Deterministic for a seed: the same seed and the same calls give the same events."""

    def __init__(
        self,
        seed: int,
        count: int = 0,
        *,
        region: Region | None = None,
        mode_mix: ModeMix | None = None,
        interval_ms: int = 5000,
        topic: str = "sensor_stream_topic",
    ) -> None:
        self.seed = seed
        self.region = region or Region()
        self.mode_mix = mode_mix or ModeMix()
        self.default_interval_s = _check_interval(interval_ms)
        self.topic = topic
        self.state = DeviceState()
        self.identities = Identities(seed)
        self.traces: list[Trace] = []
        self._rng = np.random.default_rng([seed, 0x5EED])
        self._towers = tower_vectors(*self.region.towers(seed))
        self._clock: float | None = None
        self.faults: FaultInjector | None = None  # device faults on top (set_faults); none by default
        self.apply(count)

    def __len__(self) -> int:
        return len(self.state)

    @property
    def running(self) -> bool:
        return self._clock is not None

    @property
    def offered_per_s(self) -> float:
        """Events a second the devices send at their intervals (paused ones included)."""
        return float(np.sum(1.0 / self.state.interval_s)) if len(self.state) else 0.0

    # --- fleet size and schedule ------------------------------------------------------------

    def apply(self, count: int) -> None:
        """Grow or shrink to `count` devices; existing devices keep their identity and state."""
        if not 0 <= count <= MAX_DEVICES:
            raise ValueError(f"device count must be between 0 and {MAX_DEVICES}, got {count}")
        n = len(self.state)
        if count < n:
            self.state.truncate(count)
            if self.faults is not None:
                self.faults.forget(count)
        elif count > n:
            self.state.append(self._new_devices(np.arange(n, count)))
            pick_waypoints(self.state, np.arange(n, count), self._rng, self.region)
        self.identities.resize(count)

    def _new_devices(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        u = device_uniforms(self.seed, idx, _U_COLS)
        n = idx.size
        lat, lon, elev, anchor = self.region.start_points(u[:, :3])
        modes = np.searchsorted(np.cumsum(self.mode_mix.probabilities), u[:, 3], side="right")
        modes = np.minimum(modes, len(Mode) - 1).astype(np.int64)
        cruise_lo = np.array([LIMITS[Mode(m)].cruise[0] for m in Mode])[modes]
        cruise_hi = np.array([LIMITS[Mode(m)].cruise[1] for m in Mode])[modes]
        clock = self._clock if self._clock is not None else 0.0
        zeros = np.zeros(n)
        return {
            "home_lat": lat, "home_lon": lon, "base_alt": elev, "lat": lat, "lon": lon,
            "alt": elev + terrain_m(lat, lon), "speed": zeros, "heading": u[:, 4] * 360.0, "yaw_rate": zeros,
            "cruise": cruise_lo + u[:, 5] * (cruise_hi - cruise_lo), "wp_lat": lat, "wp_lon": lon,
            "stop_left": zeros, "long_accel": zeros, "odometer": zeros, "pitch": zeros, "roll": zeros,
            "event_pitch": zeros, "event_roll": zeros, "event_t": np.full(n, np.nan),
            "battery": 35.0 + u[:, 6] * 65.0, "shadow_db": (u[:, 7] - 0.5) * 8.0,
            "interval_s": np.full(n, self.default_interval_s),
            "next_due": clock + u[:, 8] * self.default_interval_s, "last_t": np.full(n, clock),
            "phase": u[:, 9] * 2 * np.pi, "trace_t0": zeros, "trace_scale": np.ones(n), "trace_pos": zeros,
            "acc_x": zeros, "acc_y": zeros, "acc_z": np.full(n, 9.80665), "gyr_x": zeros, "gyr_y": zeros,
            "gyr_z": zeros, "rssi": np.full(n, np.nan),
            "mode": modes, "anchor": anchor, "trace_id": np.full(n, -1),
            "charging": np.zeros(n, dtype=bool), "has_charger": (modes == Mode.DRIVING) & (u[:, 10] < 0.4),
            "paused": np.zeros(n, dtype=bool),
        }  # fmt: skip

    def start(self, now: float) -> None:
        """Begin emitting at `now` (epoch seconds); first events are spread over one interval."""
        st = self.state
        self._clock = now
        st.last_t[:] = now
        st.next_due[:] = now + self._rng.random(len(st)) * st.interval_s

    def stop(self) -> None:
        self._clock = None

    def set_interval(self, interval_ms: int, devices: np.ndarray | None = None) -> None:
        interval = _check_interval(interval_ms)
        idx = np.arange(len(self.state)) if devices is None else np.asarray(devices, dtype=np.int64)
        if devices is None:
            self.default_interval_s = interval
        self.state.interval_s[idx] = interval
        if self._clock is not None:
            self.state.next_due[idx] = np.minimum(self.state.next_due[idx], self._clock + interval)

    def pause(self, devices: np.ndarray) -> None:
        self.state.paused[np.asarray(devices, dtype=np.int64)] = True

    def resume(self, devices: np.ndarray, now: float) -> None:
        """Resume where the devices stopped: they do not jump by the paused time."""
        idx = np.asarray(devices, dtype=np.int64)
        st = self.state
        st.paused[idx] = False
        st.last_t[idx] = now
        st.next_due[idx] = now + self._rng.random(idx.size) * st.interval_s[idx]
        replaying = (st.trace_id[idx] >= 0) & ~np.isnan(st.event_t[idx])
        st.trace_t0[idx] += np.where(replaying, now - st.event_t[idx], 0.0)

    def assign_trace(self, trace: Trace, devices: np.ndarray, now: float, time_scale: float = 1.0) -> None:
        """Make `devices` replay `trace` from its start at `now`, `time_scale` times real speed."""
        if not (0.01 <= time_scale <= 1000.0):
            raise ValueError(f"time scale must be between 0.01 and 1000, got {time_scale}")
        idx = np.asarray(devices, dtype=np.int64)
        self.traces.append(trace)
        st = self.state
        st.trace_id[idx] = len(self.traces) - 1
        st.trace_t0[idx], st.trace_scale[idx], st.trace_pos[idx] = now, time_scale, 0.0
        st.lat[idx], st.lon[idx], st.alt[idx] = trace.lat[0], trace.lon[0], trace.alt[0]
        st.heading[idx] = bearing_deg(trace.lat[0], trace.lon[0], trace.lat[1], trace.lon[1])
        st.speed[idx] = 0.0
        st.last_t[idx] = now
        st.mode[idx] = _mode_for_speed(trace.length_m / trace.duration_s * time_scale)

    # --- stepping ---------------------------------------------------------------------------

    def advance(self, now: float, stamp: float | None = None) -> EventBatch:
        """Move every due device to `now` and return one event per due device.

        `now` is the schedule's time (see clock.DeviceClock); the events are stamped with `stamp`, the
        devices' own clock, when it differs (a stepped clock moves the stamps, not the schedule).
        """
        if self._clock is None:
            self.start(now)
        self._clock = now
        st = self.state
        due = np.flatnonzero(~st.paused & (st.next_due <= now))
        dt = np.clip(now - st.last_t[due], 0.0, MAX_GAP_S)
        prev_lat, prev_lon, prev_alt = st.lat[due].copy(), st.lon[due].copy(), st.alt[due].copy()
        traced = st.trace_id[due] >= 0
        integrate(st, due[~traced], dt[~traced], self._rng, self.region)
        if traced.any():
            self._replay(due[traced], dt[traced], now)
        dist = haversine_m(prev_lat, prev_lon, st.lat[due], st.lon[due])
        grade = np.where(dist > 0.5, np.degrees(np.arctan2(st.alt[due] - prev_alt, np.maximum(dist, 0.5))), 0.0)
        orientation(st, due, grade, now, self._rng)
        acc = accelerometer(st, due, now, self._rng)
        gyro = gyroscope(st, due, np.where(np.isnan(st.event_t[due]), 0.0, dt), self._rng)
        rssi = signal_strength(st, due, dt, self._towers, self._rng)
        battery(st, due, dt, rssi, self._rng)
        st.event_pitch[due], st.event_roll[due] = st.pitch[due], st.roll[due]
        st.acc_x[due], st.acc_y[due], st.acc_z[due] = acc.T
        st.gyr_x[due], st.gyr_y[due], st.gyr_z[due] = gyro.T
        st.rssi[due] = rssi
        st.last_t[due] = now
        st.event_t[due] = now
        nxt = st.next_due[due] + st.interval_s[due]
        st.next_due[due] = np.where(nxt <= now, now + st.interval_s[due], nxt)
        batch = self._batch(due, now if stamp is None else stamp, acc, gyro, rssi)
        if self.faults is not None:
            batch = self.faults.apply(batch, now, len(st), st.interval_s)
        return batch

    def set_faults(self, spec: FaultSpec | str | None, log: FaultLog | None = None) -> FaultInjector | None:
        """Inject device faults from now on (a spec, its text or a preset name); None or "clean": none."""
        spec = spec if isinstance(spec, FaultSpec) else FaultSpec.parse(spec)
        self.faults = FaultInjector(spec, self.seed, log) if spec.active else None
        return self.faults

    def _replay(self, idx: np.ndarray, dt: np.ndarray, now: float) -> None:
        st = self.state
        for tid in np.unique(st.trace_id[idx]):
            sel = st.trace_id[idx] == tid
            dev, d = idx[sel], dt[sel]
            trace = self.traces[int(tid)]
            tau = (now - st.trace_t0[dev]) * st.trace_scale[dev]
            lap = np.floor(tau / trace.duration_s)
            tau = tau - lap * trace.duration_s
            wrapped = tau < st.trace_pos[dev]
            lat0, lon0, _ = trace.position(np.zeros(dev.size))
            from_lat = np.where(wrapped, lat0, st.lat[dev])
            from_lon = np.where(wrapped, lon0, st.lon[dev])
            lat, lon, alt = trace.position(tau)
            moved = haversine_m(from_lat, from_lon, lat, lon)
            span = np.where(wrapped, tau / st.trace_scale[dev], d)
            speed = np.where(span > 0, moved / np.where(span > 0, span, 1.0), 0.0)
            heading = np.where(moved > 0.5, bearing_deg(from_lat, from_lon, lat, lon), st.heading[dev])
            safe = np.where(d > 0, d, 1.0)
            st.yaw_rate[dev] = np.where(d > 0, wrap_180(heading - st.heading[dev]) / safe, 0.0)
            st.long_accel[dev] = np.where(d > 0, (speed - st.speed[dev]) / safe, 0.0)
            st.lat[dev], st.lon[dev], st.alt[dev] = lat, lon, alt
            st.heading[dev], st.speed[dev], st.trace_pos[dev] = heading, speed, tau
            st.odometer[dev] += moved

    def _batch(self, idx: np.ndarray, stamp: float, acc: np.ndarray, gyro: np.ndarray, rssi: np.ndarray) -> EventBatch:
        st = self.state
        n = idx.size
        ts = np.full(n, int(round(stamp * 1_000_000)), dtype=np.int64)
        heading = st.heading[idx]
        columns = {
            "event_timestamp": ts,
            "event_date": (ts // US_PER_DAY).astype(np.int32),
            "latitude": st.lat[idx].copy(),
            "longitude": st.lon[idx].copy(),
            "altitude_m": st.alt[idx].copy(),
            "heading_deg": np.where(heading >= 360.0, 0.0, heading),
            "pitch_deg": st.pitch[idx].copy(),
            "roll_deg": st.roll[idx].copy(),
            "accel_x": acc[:, 0],
            "accel_y": acc[:, 1],
            "accel_z": acc[:, 2],
            "accel_magnitude": np.sqrt((acc * acc).sum(axis=1)),
            "gyro_x": gyro[:, 0],
            "gyro_y": gyro[:, 1],
            "gyro_z": gyro[:, 2],
            "speed_kmh": st.speed[idx] * 3.6,
            "battery_pct": np.round(st.battery[idx]).astype(np.int32),
            "signal_strength": rssi.astype(np.int32),
        }
        return EventBatch(idx, new_event_ids(ts, self._rng), columns, self.identities, self.topic)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Current values of every device, for views (copies)."""
        st = self.state
        return {
            "latitude": st.lat.copy(), "longitude": st.lon.copy(), "altitude_m": st.alt.copy(),
            "speed_kmh": st.speed * 3.6, "heading_deg": st.heading.copy(), "battery_pct": st.battery.copy(),
            "charging": st.charging.copy(), "mode": st.mode.copy(), "paused": st.paused.copy(),
            "pitch_deg": st.pitch.copy(), "roll_deg": st.roll.copy(), "interval_s": st.interval_s.copy(),
            "accel_x": st.acc_x.copy(), "accel_y": st.acc_y.copy(), "accel_z": st.acc_z.copy(),
            "gyro_x": st.gyr_x.copy(), "gyro_y": st.gyr_y.copy(), "gyro_z": st.gyr_z.copy(),
            "signal_strength": st.rssi.copy(),
        }  # fmt: skip


def _mode_for_speed(mean_speed_ms: float) -> Mode:
    """How a replayed track is carried, judged by its mean speed (decides gait and vibration)."""
    if mean_speed_ms < 2.5:
        return Mode.WALKING
    return Mode.CYCLING if mean_speed_ms < 8.0 else Mode.DRIVING


def _check_interval(interval_ms: int) -> float:
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float) or not math.isfinite(interval_ms):
        raise ValueError(f"interval must be a number of milliseconds, got {interval_ms!r}")
    if not 10 <= interval_ms <= 3_600_000:
        raise ValueError(f"interval must be between 10 ms and 1 hour, got {interval_ms} ms")
    return float(interval_ms) / 1000.0
