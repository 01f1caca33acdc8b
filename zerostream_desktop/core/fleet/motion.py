"""Kinematics of free-roaming devices: waypoints, speed and heading with inertia, terrain.

Each call advances a subset of devices by their own real elapsed time, split into sub-steps of at
most `MAX_SUBSTEP_S`, so a 5 s interval moves a car as far as fifty 100 ms intervals would.
"""

from __future__ import annotations

import numpy as np

from zerostream_desktop.core.fleet.draws import Draws, Site
from zerostream_desktop.core.fleet.geo import EARTH_RADIUS_M, bearing_deg, destination, haversine_m, wrap_180
from zerostream_desktop.core.fleet.modes import LIMITS, Mode, limits_array
from zerostream_desktop.core.fleet.regions import Region
from zerostream_desktop.core.fleet.state import DeviceState

MAX_SUBSTEP_S = 1.0
HEADING_GAIN = 1.5  # deg/s of yaw rate asked per degree of heading error
G = 9.80665

# Terrain: a few smooth undulations, wavelengths of a few kilometres, fixed for every seed.
_TERRAIN = np.array(
    [  # amplitude m, cycles per degree lat, cycles per degree lon, phase
        [22.0, 9.0, 13.0, 0.3],
        [11.0, 23.0, 17.0, 1.9],
        [4.0, 41.0, 37.0, 4.1],
    ]
)


def terrain_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    a, fl, fo, ph = _TERRAIN.T
    arg = 2 * np.pi * (np.multiply.outer(lat, fl) + np.multiply.outer(lon, fo)) + ph
    return np.asarray((a * np.sin(arg)).sum(axis=-1), dtype=np.float64)


def pick_waypoints(st: DeviceState, idx: np.ndarray, draws: Draws, region: Region) -> None:
    """Choose the next destination; devices far from home (or out of the box) head back."""
    if idx.size == 0:
        return
    modes = st.mode[idx]
    ranges = np.array([LIMITS[Mode(m)].waypoint_range for m in Mode])[modes]
    dist = draws.uniform(Site.WAYPOINT_DISTANCE, ranges[:, 0], ranges[:, 1])
    lat, lon = destination(st.lat[idx], st.lon[idx], draws.uniform(Site.WAYPOINT_BEARING, 0.0, 360.0), dist)
    roam = limits_array("roam_radius", modes)
    away = haversine_m(st.home_lat[idx], st.home_lon[idx], lat, lon) > roam
    if away.any():
        back, going = idx[away], draws.rows(away)
        hl, ho = destination(
            st.home_lat[back],
            st.home_lon[back],
            going.uniform(Site.HOME_BEARING, 0.0, 360.0),
            roam[away] * 0.3 * going.random(Site.HOME_DISTANCE),
        )
        lat[away], lon[away] = hl, ho
    st.wp_lat[idx], st.wp_lon[idx] = region.clamp(lat, lon)


def _target_speed(
    st: DeviceState, idx: np.ndarray, heading_error: np.ndarray, h: np.ndarray, draws: Draws
) -> np.ndarray:
    modes = st.mode[idx]
    stop_left = np.maximum(st.stop_left[idx] - h, 0.0)
    moving = stop_left <= 0
    new_stop = moving & (st.speed[idx] > 0.5) & (draws.random(Site.STOP) < limits_array("stop_rate", modes) * h)
    if new_stop.any():
        durations = np.array([LIMITS[Mode(m)].stop_duration for m in Mode])[modes[new_stop]]
        stop_left[new_stop] = draws.rows(new_stop).uniform(Site.STOP_LENGTH, durations[:, 0], durations[:, 1])
    st.stop_left[idx] = stop_left
    turn_factor = 1.0 - 0.7 * np.minimum(np.abs(heading_error), 90.0) / 90.0
    target = st.cruise[idx] * turn_factor
    return np.where(stop_left > 0, 0.0, target)


def integrate(st: DeviceState, idx: np.ndarray, dt: np.ndarray, draws: Draws, region: Region) -> None:
    """Advance devices `idx` by `dt` seconds each (dt >= 0), `draws` one row per device.

    Each device takes its own number of sub-steps, so how it moves never depends on which other
    devices are advanced with it."""
    if idx.size == 0:
        return
    n_sub = np.maximum(1, np.ceil(dt / MAX_SUBSTEP_S)).astype(np.int64)
    h_all = dt / n_sub
    for j in range(int(np.max(n_sub))):
        if j == 0 or bool((n_sub > j).all()):
            _substep(st, idx, h_all, draws.step(j), region)
        else:
            act = n_sub > j
            _substep(st, idx[act], h_all[act], draws.rows(act).step(j), region)
    st.alt[idx] = st.base_alt[idx] + terrain_m(st.lat[idx], st.lon[idx])


def _substep(st: DeviceState, idx: np.ndarray, h: np.ndarray, draws: Draws, region: Region) -> None:
    modes = st.mode[idx]
    accel, decel = limits_array("accel", modes), limits_array("decel", modes)
    vmax = limits_array("max_speed", modes)
    yaw_max, yaw_acc = limits_array("max_yaw_rate", modes), limits_array("yaw_accel", modes)
    lat_acc = limits_array("max_lateral_accel", modes)
    vehicle = modes != Mode.WALKING
    arrived = haversine_m(st.lat[idx], st.lon[idx], st.wp_lat[idx], st.wp_lon[idx]) < np.maximum(
        15.0, st.speed[idx] * 3.0
    )
    if arrived.any():
        pick_waypoints(st, idx[arrived], draws.rows(arrived), region)
    want = bearing_deg(st.lat[idx], st.lon[idx], st.wp_lat[idx], st.wp_lon[idx])
    err = wrap_180(want - st.heading[idx])
    v0 = st.speed[idx]
    # Turning: rate limited by mode, by lateral grip at speed, and by yaw inertia.
    grip = np.degrees(lat_acc / np.maximum(v0, 0.1))
    cap = np.minimum(yaw_max, grip)
    cap = np.where(vehicle, cap * np.clip(v0 / 1.5, 0.0, 1.0), cap)
    yaw_target = np.clip(HEADING_GAIN * err, -cap, cap)
    yaw = st.yaw_rate[idx]
    yaw = yaw + np.clip(yaw_target - yaw, -yaw_acc * h, yaw_acc * h)
    # Speed: towards the target, within acceleration and braking limits.
    target = _target_speed(st, idx, err, h, draws)
    v1 = np.clip(v0 + np.clip(target - v0, -decel * h, accel * h), 0.0, vmax)
    mid_heading = st.heading[idx] + 0.5 * yaw * h
    step = 0.5 * (v0 + v1) * h
    lat, lon = _advance(st.lat[idx], st.lon[idx], mid_heading, step)
    st.heading[idx] = (st.heading[idx] + yaw * h) % 360.0
    st.yaw_rate[idx] = yaw
    st.long_accel[idx] = np.where(h > 0, (v1 - v0) / np.where(h > 0, h, 1.0), 0.0)
    st.speed[idx] = v1
    st.odometer[idx] += step
    st.lat[idx], st.lon[idx] = lat, lon


def _advance(lat: np.ndarray, lon: np.ndarray, heading: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local flat-earth step; exact enough for sub-steps of at most a few tens of metres."""
    rad = np.radians(heading)
    dlat = np.degrees(dist * np.cos(rad) / EARTH_RADIUS_M)
    coslat = np.maximum(np.cos(np.radians(lat)), 1e-6)
    dlon = np.degrees(dist * np.sin(rad) / (EARTH_RADIUS_M * coslat))
    new_lat = np.clip(lat + dlat, -89.9, 89.9)
    new_lon = (lon + dlon + 180.0) % 360.0 - 180.0
    return new_lat, new_lon
