"""Spherical-earth helpers, vectorised over numpy arrays (degrees in, metres out)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_008.8
F64 = NDArray[np.float64]


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> F64:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> F64:
    """Initial compass bearing from point 1 to point 2, in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.asarray(np.degrees(np.arctan2(y, x)) % 360.0, dtype=np.float64)


def destination(lat: ArrayLike, lon: ArrayLike, bearing: ArrayLike, distance_m: ArrayLike) -> tuple[F64, F64]:
    """The point `distance_m` away along the great circle leaving at `bearing` degrees."""
    p1, l1 = np.radians(lat), np.radians(lon)
    b = np.radians(bearing)
    d = np.asarray(distance_m, dtype=np.float64) / EARTH_RADIUS_M
    p2 = np.arcsin(np.clip(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b), -1.0, 1.0))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    lon2 = (np.degrees(l2) + 180.0) % 360.0 - 180.0
    return np.asarray(np.degrees(p2), dtype=np.float64), np.asarray(lon2, dtype=np.float64)


def wrap_180(deg: ArrayLike) -> F64:
    """An angle difference folded into [-180, 180)."""
    return np.asarray((np.asarray(deg, dtype=np.float64) + 180.0) % 360.0 - 180.0, dtype=np.float64)
