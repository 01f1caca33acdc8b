"""Movement modes and their physical limits."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

import numpy as np


class Mode(enum.IntEnum):
    WALKING = 0
    CYCLING = 1
    DRIVING = 2


@dataclass(frozen=True)
class ModeLimits:
    max_speed: float  # m/s
    cruise: tuple[float, float]  # m/s range a device picks its cruising speed from
    accel: float  # m/s^2
    decel: float  # m/s^2
    max_yaw_rate: float  # deg/s
    yaw_accel: float  # deg/s^2
    max_lateral_accel: float  # m/s^2, caps turning at speed
    waypoint_range: tuple[float, float]  # metres to the next waypoint
    roam_radius: float  # metres from home before heading back
    stop_rate: float  # stops per second of travel (lights, crossings)
    stop_duration: tuple[float, float]  # seconds
    battery_drain: float  # % per hour, tracking with GPS on
    shake: float  # m/s^2 vibration while moving


LIMITS: dict[Mode, ModeLimits] = {
    Mode.WALKING: ModeLimits(2.2, (1.1, 1.6), 0.8, 1.5, 90.0, 180.0, 2.0, (80, 600), 3_000, 1 / 120, (5, 30), 5.0, 2.5),
    Mode.CYCLING: ModeLimits(
        11.0, (4.0, 7.0), 1.2, 2.5, 45.0, 90.0, 3.0, (200, 2_000), 8_000, 1 / 180, (5, 20), 6.0, 0.6
    ),
    Mode.DRIVING: ModeLimits(
        36.0, (9.0, 22.0), 2.8, 4.5, 30.0, 40.0, 4.0, (500, 5_000), 25_000, 1 / 75, (10, 45), 4.0, 0.2
    ),
}


@cache
def _limit_table(attr: str) -> np.ndarray:
    return np.array([getattr(LIMITS[m], attr) for m in Mode], dtype=np.float64)


def limits_array(attr: str, modes: np.ndarray) -> np.ndarray:
    """A per-device array of one limit, looked up by each device's mode (called on every step)."""
    out: np.ndarray = _limit_table(attr)[modes]
    return out


@dataclass(frozen=True)
class ModeMix:
    """Share of new devices in each mode."""

    walking: float = 0.4
    cycling: float = 0.2
    driving: float = 0.4

    def __post_init__(self) -> None:
        shares = (self.walking, self.cycling, self.driving)
        if min(shares) < 0 or sum(shares) <= 0:
            raise ValueError(f"mode mix shares must be >= 0 and not all zero, got {shares}")

    @property
    def probabilities(self) -> np.ndarray:
        p = np.array([self.walking, self.cycling, self.driving], dtype=np.float64)
        return np.asarray(p / p.sum(), dtype=np.float64)

    @classmethod
    def parse(cls, text: str) -> ModeMix:
        """`walking=4,cycling=2,driving=4` (any scale; missing modes are 0)."""
        shares = {"walking": 0.0, "cycling": 0.0, "driving": 0.0}
        for item in text.split(","):
            key, _, value = item.partition("=")
            key = key.strip().lower()
            if key not in shares:
                raise ValueError(f"unknown mode {key!r} in mode mix {text!r}; use walking, cycling, driving")
            try:
                shares[key] = float(value)
            except ValueError:
                raise ValueError(f"mode mix share for {key} must be a number, got {value!r}") from None
        return cls(**shares)
