"""The fleet: N simulated phones, advanced together with numpy, each on its own interval."""

from __future__ import annotations

import math

import numpy as np

from zerostream_desktop.core.fleet.batch import US_PER_DAY, EventBatch, new_event_ids
from zerostream_desktop.core.fleet.draws import Draws, Site
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
CLOCK_STEP_S = 0.5  # the devices' clock this far from the schedule has been stepped: stamps follow it; below, the
# difference is the two clocks read a moment apart (or slewed), and stamps stay on the slots, the same in every process
CATCH_UP_S = 2.0  # slots a late process still makes up (older ones are skipped)
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
        first_index: int = 0,
    ) -> None:
        self.seed = seed
        self.first_index = first_index  # a shard of a larger fleet: its devices are first_index, first_index + 1...
        self.region = region or Region()
        self.mode_mix = mode_mix or ModeMix()
        self.default_interval_s = _check_interval(interval_ms)
        self.topic = topic
        self.state = DeviceState()
        self.identities = Identities(seed, first_index)
        self.traces: list[Trace] = []
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
            new = np.arange(n, count)
            pick_waypoints(self.state, new, Draws(self.seed, new + self.first_index, -1), self.region)
        self.identities.resize(count)

    def _new_devices(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        u = device_uniforms(self.seed, idx + self.first_index, _U_COLS)
        n = idx.size
        lat, lon, elev, anchor = self.region.start_points(u[:, :3])
        modes = np.searchsorted(np.cumsum(self.mode_mix.probabilities), u[:, 3], side="right")
        modes = np.minimum(modes, len(Mode) - 1).astype(np.int64)
        cruise_lo = np.array([LIMITS[Mode(m)].cruise[0] for m in Mode])[modes]
        cruise_hi = np.array([LIMITS[Mode(m)].cruise[1] for m in Mode])[modes]
        clock = self._clock if self._clock is not None else 0.0
        first_slot, first_due = _first_slots(clock, self.default_interval_s, u[:, 8])
        zeros = np.zeros(n)
        return {
            "home_lat": lat, "home_lon": lon, "base_alt": elev, "lat": lat, "lon": lon,
            "alt": elev + terrain_m(lat, lon), "speed": zeros, "heading": u[:, 4] * 360.0, "yaw_rate": zeros,
            "cruise": cruise_lo + u[:, 5] * (cruise_hi - cruise_lo), "wp_lat": lat, "wp_lon": lon,
            "stop_left": zeros, "long_accel": zeros, "odometer": zeros, "pitch": zeros, "roll": zeros,
            "event_pitch": zeros, "event_roll": zeros, "event_t": np.full(n, np.nan),
            "battery": 35.0 + u[:, 6] * 65.0, "shadow_db": (u[:, 7] - 0.5) * 8.0,
            "interval_s": np.full(n, self.default_interval_s), "sched_phase": u[:, 8],
            "next_due": first_due, "last_t": np.full(n, clock),
            "phase": u[:, 9] * 2 * np.pi, "trace_t0": zeros, "trace_scale": np.ones(n), "trace_pos": zeros,
            "acc_x": zeros, "acc_y": zeros, "acc_z": np.full(n, 9.80665), "gyr_x": zeros, "gyr_y": zeros,
            "gyr_z": zeros, "rssi": np.full(n, np.nan),
            "mode": modes, "anchor": anchor, "trace_id": np.full(n, -1),
            "slot": first_slot - 1,
            "charging": np.zeros(n, dtype=bool), "has_charger": (modes == Mode.DRIVING) & (u[:, 10] < 0.4),
            "paused": np.zeros(n, dtype=bool),
        }  # fmt: skip

    def start(self, now: float) -> None:
        """Begin emitting at `now` (epoch seconds); first events are spread over one interval."""
        st = self.state
        self._clock = now
        st.last_t[:] = now
        self._reschedule(np.arange(len(st)), now)
        if self.faults is not None:
            self.faults.begin(now)

    def _reschedule(self, idx: np.ndarray, now: float) -> None:
        """The devices' next events at their first slots from `now` (slots on a grid of their interval, fixed
        in time: a device run by another process, or later, is due at the same moments)."""
        st = self.state
        slot, due = _first_slots(now, st.interval_s[idx], st.sched_phase[idx])
        st.slot[idx], st.next_due[idx] = slot - 1, due

    def stop(self) -> None:
        self._clock = None

    def set_interval(self, interval_ms: int, devices: np.ndarray | None = None) -> None:
        interval = _check_interval(interval_ms)
        idx = np.arange(len(self.state)) if devices is None else np.asarray(devices, dtype=np.int64)
        if devices is None:
            self.default_interval_s = interval
        self.state.interval_s[idx] = interval
        if self._clock is not None:
            self._reschedule(idx, self._clock)

    def pause(self, devices: np.ndarray) -> None:
        self.state.paused[np.asarray(devices, dtype=np.int64)] = True

    def resume(self, devices: np.ndarray, now: float) -> None:
        """Resume where the devices stopped: they do not jump by the paused time."""
        idx = np.asarray(devices, dtype=np.int64)
        st = self.state
        st.paused[idx] = False
        st.last_t[idx] = now
        self._reschedule(idx, now)
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

    def advance(self, now: float, stamp: float | None = None, catch_up_s: float = 0.0) -> EventBatch:
        """Move every due device through its slots up to `now` and return one event per slot, in time order.

        `now` is the schedule's time (see clock.DeviceClock); each event is at its device's slot, a pure
        function of the device and the interval, and stamped on the devices' own clock, `stamp`, when it
        differs (a stepped clock moves the stamps, not the schedule). A device's readings depend only on
        (seed, device, slot): never on which other devices were due, nor on the process that runs it.

        A device due more than once since the last call sends its latest slot only, unless `catch_up_s`: then
        every slot of the last `catch_up_s` seconds (a producer stepping in real time passes `CATCH_UP_S`, so a
        moment's lag on a busy machine loses no slot, while after a suspend or while the spool held the fleet
        back the older slots are skipped).
        """
        if self._clock is None:
            self.start(now)
        self._clock = now
        st = self.state
        due = np.flatnonzero(~st.paused & (st.next_due <= now))
        iv, phase = st.interval_s[due], st.sched_phase[due]
        last = np.floor(now / iv - phase).astype(np.int64)
        first = np.maximum(st.slot[due] + 1, np.ceil((now - catch_up_s) / iv - phase).astype(np.int64))
        first = np.minimum(first, last)  # (rounding: a device due now has at least its latest slot)
        count = last - first + 1
        step = 0.0 if stamp is None or abs(stamp - now) < CLOCK_STEP_S else stamp - now  # a stepped device clock
        parts = []
        for k in range(int(np.max(count)) if due.size else 1):
            behind = count > k
            if k == 0 or behind.all():
                parts.append(self._emit(due, first + k, step))
            else:
                parts.append(self._emit(due[behind], first[behind] + k, step))
        batch = EventBatch.concat(parts)
        if self.faults is not None:
            batch = self.faults.apply(batch, now, len(st), st.interval_s)
        return batch

    def _emit(self, due: np.ndarray, slot: np.ndarray, step: float) -> EventBatch:
        """Devices `due` move to their `slot` and each sends its event."""
        st = self.state
        iv, phase = st.interval_s[due], st.sched_phase[due]
        t = (slot + phase) * iv
        ticks = np.round(t * 1000.0).astype(np.int64)
        draws = Draws(self.seed, due + self.first_index, ticks)
        dt = np.clip(t - st.last_t[due], 0.0, MAX_GAP_S)
        prev_lat, prev_lon, prev_alt = st.lat[due].copy(), st.lon[due].copy(), st.alt[due].copy()
        traced = st.trace_id[due] >= 0
        integrate(st, due[~traced], dt[~traced], draws.rows(~traced), self.region)
        if traced.any():
            self._replay(due[traced], dt[traced], t[traced])
        dist = haversine_m(prev_lat, prev_lon, st.lat[due], st.lon[due])
        grade = np.where(dist > 0.5, np.degrees(np.arctan2(st.alt[due] - prev_alt, np.maximum(dist, 0.5))), 0.0)
        orientation(st, due, grade, t, draws)
        acc = accelerometer(st, due, t, draws)
        gyro = gyroscope(st, due, np.where(np.isnan(st.event_t[due]), 0.0, dt), draws)
        rssi = signal_strength(st, due, dt, self._towers, draws)
        battery(st, due, dt, rssi, draws)
        st.event_pitch[due], st.event_roll[due] = st.pitch[due], st.roll[due]
        st.acc_x[due], st.acc_y[due], st.acc_z[due] = acc.T
        st.gyr_x[due], st.gyr_y[due], st.gyr_z[due] = gyro.T
        st.rssi[due] = rssi
        st.last_t[due] = t
        st.event_t[due] = t
        st.slot[due] = slot
        st.next_due[due] = (slot + 1 + phase) * iv
        return self._batch(due, t + step, acc, gyro, rssi, draws, ticks)

    def set_faults(self, spec: FaultSpec | str | None, log: FaultLog | None = None) -> FaultInjector | None:
        """Inject device faults from now on (a spec, its text or a preset name); None or "clean": none."""
        spec = spec if isinstance(spec, FaultSpec) else FaultSpec.parse(spec)
        self.faults = FaultInjector(spec, self.seed, log, self.first_index) if spec.active else None
        if self.faults is not None and self._clock is not None:
            self.faults.begin(self._clock)
        return self.faults

    def _replay(self, idx: np.ndarray, dt: np.ndarray, t: np.ndarray) -> None:
        st = self.state
        for tid in np.unique(st.trace_id[idx]):
            sel = st.trace_id[idx] == tid
            dev, d = idx[sel], dt[sel]
            trace = self.traces[int(tid)]
            tau = (t[sel] - st.trace_t0[dev]) * st.trace_scale[dev]
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

    def _batch(
        self, idx: np.ndarray, stamps: np.ndarray, acc: np.ndarray, gyro: np.ndarray, rssi: np.ndarray,
        draws: Draws, ticks: np.ndarray,
    ) -> EventBatch:  # fmt: skip
        st = self.state
        ts = np.round(stamps * 1_000_000).astype(np.int64)
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
        ids = new_event_ids(ts, draws.bytes(Site.EVENT_ID, 10))
        return EventBatch(idx, ids, columns, self.identities, self.topic, ticks)

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


def _first_slots(now: float, interval_s: np.ndarray | float, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first slot at or after `now` of each device, and its time."""
    iv = np.broadcast_to(np.asarray(interval_s, dtype=np.float64), np.shape(phase))
    slot = np.ceil(now / iv - phase).astype(np.int64)
    return slot, (slot + phase) * iv


def _check_interval(interval_ms: int) -> float:
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float) or not math.isfinite(interval_ms):
        raise ValueError(f"interval must be a number of milliseconds, got {interval_ms!r}")
    if not 10 <= interval_ms <= 3_600_000:
        raise ValueError(f"interval must be between 10 ms and 1 hour, got {interval_ms} ms")
    return float(interval_ms) / 1000.0
