"""Sensor readings derived from the motion, as a phone in a pocket, on handlebars or in a car mount
would report them.

Device frame: x to the right, y forward (direction of travel), z up out of the screen. The
accelerometer reports specific force (what it feels: +g on z when lying flat at rest); the
gyroscope reports angular rates in deg/s about the same axes (right-handed, so a right turn,
with the compass heading increasing, is a negative z rate).
"""

from __future__ import annotations

import numpy as np

from zerostream_desktop.core.fleet.draws import Draws, Site
from zerostream_desktop.core.fleet.geo import EARTH_RADIUS_M
from zerostream_desktop.core.fleet.modes import Mode, limits_array
from zerostream_desktop.core.fleet.motion import G
from zerostream_desktop.core.fleet.state import DeviceState

SENSOR_NOISE = 0.02  # m/s^2, accelerometer noise floor
GYRO_NOISE = 0.05  # deg/s
STEP_HZ = 1.8  # walking cadence, steps per second
TX_POWER_DBM = 46.0
SHADOW_SIGMA_DB = 6.0
SHADOW_TAU_S = 30.0


def orientation(st: DeviceState, idx: np.ndarray, grade_deg: np.ndarray, now: np.ndarray, draws: Draws) -> None:
    """Pitch from the road grade and gait, roll from leaning into turns."""
    modes = st.mode[idx]
    v = st.speed[idx]
    omega = np.radians(st.yaw_rate[idx])
    lateral = v * omega  # centripetal acceleration, + to the right
    moving = np.clip(v / 1.0, 0.0, 1.0)
    sway = np.sin(2 * np.pi * STEP_HZ * 0.5 * now + st.phase[idx])
    pitch = grade_deg + np.where(
        modes == Mode.WALKING, 3.0 * sway * moving, draws.normal(Site.PITCH, 0.0, 0.3) * moving
    )
    lean = np.degrees(np.arctan2(lateral, G))  # a bicycle leans fully into the turn
    roll = np.select(
        [modes == Mode.CYCLING, modes == Mode.DRIVING],
        [lean, -0.6 * lateral],  # a car body rolls out of the turn a little
        default=2.0 * sway * moving,
    )
    st.pitch[idx] = np.clip(pitch, -90.0, 90.0)
    st.roll[idx] = np.clip(roll, -180.0, 180.0)


def accelerometer(st: DeviceState, idx: np.ndarray, now: np.ndarray, draws: Draws) -> np.ndarray:
    """(n, 3) specific force in the device frame: linear acceleration plus gravity through pitch and roll."""
    modes = st.mode[idx]
    v = st.speed[idx]
    moving = np.clip(v / 1.0, 0.0, 1.0)
    fx = v * np.radians(st.yaw_rate[idx])
    fy = st.long_accel[idx].copy()
    bounce = np.where(
        modes == Mode.WALKING,
        np.sin(2 * np.pi * STEP_HZ * now + st.phase[idx]),
        draws.normal(Site.BOUNCE),
    )
    fz = G + limits_array("shake", modes) * moving * bounce
    theta, phi = np.radians(st.pitch[idx]), np.radians(st.roll[idx])
    # level frame -> pitched about x -> rolled about the pitched y axis
    y1 = fy * np.cos(theta) + fz * np.sin(theta)
    z1 = -fy * np.sin(theta) + fz * np.cos(theta)
    x2 = fx * np.cos(phi) - z1 * np.sin(phi)
    z2 = fx * np.sin(phi) + z1 * np.cos(phi)
    out = np.stack([x2, y1, z2], axis=1)
    return np.asarray(out + draws.normal(Site.ACCEL_NOISE, 0.0, SENSOR_NOISE, cols=3), dtype=np.float64)


def gyroscope(st: DeviceState, idx: np.ndarray, dt: np.ndarray, draws: Draws) -> np.ndarray:
    """(n, 3) angular rates in deg/s: pitch and roll rates since the last event, and the yaw rate."""
    safe = np.where(dt > 0, dt, 1.0)
    gx = np.where(dt > 0, (st.pitch[idx] - st.event_pitch[idx]) / safe, 0.0)
    gy = np.where(dt > 0, (st.roll[idx] - st.event_roll[idx]) / safe, 0.0)
    gz = -st.yaw_rate[idx]
    out = np.stack([gx, gy, gz], axis=1)
    return np.asarray(out + draws.normal(Site.GYRO_NOISE, 0.0, GYRO_NOISE, cols=3), dtype=np.float64)


def battery(st: DeviceState, idx: np.ndarray, dt: np.ndarray, rssi: np.ndarray, draws: Draws) -> None:
    """Drain by use (GPS, radio, weak signal costs more), charge when plugged in."""
    modes = st.mode[idx]
    hours = dt / 3600.0
    events_per_hour = 3600.0 / np.maximum(st.interval_s[idx], 0.05)
    drain = limits_array("battery_drain", modes) + 0.0004 * events_per_hour + np.where(rssi < -105, 3.0, 0.0)
    charging = st.charging[idx]
    level = st.battery[idx]
    rate = np.where(charging, np.where(modes == Mode.DRIVING, 40.0, 25.0), -drain)
    level = np.clip(level + rate * hours, 0.0, 100.0)
    # People plug in when low, always when nearly empty; unplug when full unless the car charges.
    plug = ~charging & ((level < 3.0) | ((level < 15.0) & (draws.random(Site.PLUG_IN) < dt / 120.0)))
    unplug = charging & (level >= 99.5) & ~(st.has_charger[idx] & (modes == Mode.DRIVING))
    st.charging[idx] = (charging | plug) & ~unplug
    st.battery[idx] = level


def signal_strength(st: DeviceState, idx: np.ndarray, dt: np.ndarray, towers: np.ndarray, draws: Draws) -> np.ndarray:
    """RSSI in dBm from the best tower: urban path loss, slow shadowing and fast fading."""
    d_km = nearest_tower_km(st.lat[idx], st.lon[idx], towers)
    path_loss = 128.1 + 37.6 * np.log10(np.maximum(d_km, 0.02))
    decay = np.exp(-dt / SHADOW_TAU_S)
    shadow = st.shadow_db[idx] * decay + draws.normal(Site.SHADOWING, 0.0, SHADOW_SIGMA_DB) * np.sqrt(1 - decay**2)
    st.shadow_db[idx] = shadow
    in_car = np.where(st.mode[idx] == Mode.DRIVING, 5.0, 0.0)
    rssi = TX_POWER_DBM - path_loss + shadow - in_car + draws.normal(Site.FADING, 0.0, 2.0)
    return np.asarray(np.clip(np.round(rssi), -125, -45), dtype=np.float64)


def tower_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Tower positions as unit vectors (3, n), so the nearest tower is one matrix product away."""
    return unit_vectors(lat, lon).T.copy()


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def nearest_tower_km(lat: np.ndarray, lon: np.ndarray, towers: np.ndarray) -> np.ndarray:
    # einsum, not `@`: a matrix product goes to OpenBLAS, whose threads (one per core) then spin for a while
    # after each call; ticking ten times a second, they took most of a 2-core machine (measured: 3.6 s of CPU
    # in 3.8 s for 10,000 devices, against 1.2 s this way, as fast)
    cos_angle = np.einsum("ij,jk->ik", unit_vectors(lat, lon), towers).max(axis=1)
    return np.asarray(np.arccos(np.clip(cos_angle, -1.0, 1.0)) * EARTH_RADIUS_M / 1000.0, dtype=np.float64)
