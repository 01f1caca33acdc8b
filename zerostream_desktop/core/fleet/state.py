"""Per-device state held as parallel numpy arrays (one element per device)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLOAT_FIELDS = [
    "home_lat",
    "home_lon",
    "base_alt",
    "lat",
    "lon",
    "alt",
    "speed",
    "heading",
    "yaw_rate",
    "cruise",
    "wp_lat",
    "wp_lon",
    "stop_left",
    "long_accel",
    "odometer",
    "pitch",
    "roll",
    "event_pitch",
    "event_roll",
    "event_t",
    "battery",
    "shadow_db",
    "interval_s",
    "next_due",
    "sched_phase",  # where in its interval the device's slots fall: slot k is at (k + sched_phase) * interval_s
    "last_t",
    "phase",
    "trace_t0",
    "trace_scale",
    "trace_pos",
    "acc_x",  # the sensor readings of each device's latest event, for live views
    "acc_y",
    "acc_z",
    "gyr_x",
    "gyr_y",
    "gyr_z",
    "rssi",
]
INT_FIELDS = ("mode", "anchor", "trace_id", "slot")  # slot: of the device's latest event
BOOL_FIELDS = ("charging", "has_charger", "paused")


@dataclass
class DeviceState:
    """Column store of the fleet; `take`/`resize` keep every array the same length."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in FLOAT_FIELDS:
            self.arrays.setdefault(name, np.zeros(0, dtype=np.float64))
        for name in INT_FIELDS:
            self.arrays.setdefault(name, np.zeros(0, dtype=np.int64))
        for name in BOOL_FIELDS:
            self.arrays.setdefault(name, np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.arrays["lat"])

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            arr: np.ndarray = self.__dict__["arrays"][name]
            return arr
        except KeyError:
            raise AttributeError(name) from None

    def truncate(self, n: int) -> None:
        for name, arr in self.arrays.items():
            self.arrays[name] = arr[:n].copy()

    def append(self, rows: dict[str, np.ndarray]) -> None:
        """Append new devices; `rows` must give every field, all of one length."""
        missing = set(self.arrays) - set(rows)
        if missing:
            raise ValueError(f"new device rows lack fields: {sorted(missing)}")
        for name, arr in self.arrays.items():
            self.arrays[name] = np.concatenate([arr, np.asarray(rows[name], dtype=arr.dtype)])
