"""Random draws that depend only on (seed, device, tick, what they are for): never on the other devices.

The fleet used to share one generator among the devices due at each step, so a device's readings
depended on which others were due with it, and on the process that ran it. With draws keyed by the
device's global index and the tick (its slot on the schedule), a slice of the fleet run in another
process (`zerostream stream --shard i/N`) makes exactly the events the whole fleet would make for
those devices, and the same seed gives the same events whatever else runs.

Each call site names what its draws are for (a `Site`), so a draw made for some devices and not for
others (a new stop, a waypoint) never shifts anyone else's.
"""

from __future__ import annotations

import enum

import numpy as np

from zerostream_desktop.core.fleet.identity import splitmix64

_DEVICE = np.uint64(0xD1B54A32D192ED03)
_TICK = np.uint64(0x8CB92BA72F3D8DD7)
_SITE = np.uint64(0x9E3779B97F4A7C15)
_TWO_PI = 2.0 * np.pi


class Site(enum.IntEnum):
    """What a draw is for; a site takes up to 64 columns (sub-steps times axes: wider ones overlap the next
    site's, which only correlates draws of one device, never of two)."""

    SCHEDULE = 1
    WAYPOINT_DISTANCE = 2
    WAYPOINT_BEARING = 3
    HOME_BEARING = 4
    HOME_DISTANCE = 5
    STOP = 6  # + substep
    STOP_LENGTH = 7  # + substep
    PITCH = 8
    BOUNCE = 9
    ACCEL_NOISE = 10
    GYRO_NOISE = 11
    PLUG_IN = 12
    SHADOWING = 13
    FADING = 14
    EVENT_ID = 15
    FAULTS = 16


class Draws:
    """Draws for rows of devices, each row one (device, tick)."""

    def __init__(self, seed: int, devices: np.ndarray, ticks: np.ndarray | int) -> None:
        dev = np.asarray(devices, dtype=np.int64).astype(np.uint64)
        tick = np.broadcast_to(np.asarray(ticks, dtype=np.int64), dev.shape).astype(np.uint64)
        with np.errstate(over="ignore"):
            base = splitmix64(np.full(dev.shape, np.uint64(seed & 0xFFFFFFFFFFFFFFFF)))
            self._key = splitmix64(splitmix64(base ^ (dev * _DEVICE)) ^ (tick * _TICK))
        self._offset = 0

    @classmethod
    def _of(cls, key: np.ndarray, offset: int) -> Draws:
        out = cls.__new__(cls)
        out._key, out._offset = key, offset
        return out

    def step(self, j: int) -> Draws:
        """Fresh draws for sub-step `j` of a tick (sites then take their columns from j on)."""
        return Draws._of(self._key, j)

    def __len__(self) -> int:
        return int(self._key.size)

    def rows(self, which: np.ndarray) -> Draws:
        """The draws of some rows (a mask or indices), unchanged: a device's draws are its own."""
        return Draws._of(self._key[which], self._offset)

    def _bits(self, site: int, cols: int) -> np.ndarray:
        col = (np.uint64(site) * np.uint64(64) + np.arange(self._offset, self._offset + cols, dtype=np.uint64))[None, :]
        with np.errstate(over="ignore"):
            return splitmix64(self._key[:, None] ^ (col * _SITE))

    def random(self, site: int, cols: int | None = None) -> np.ndarray:
        """Uniforms in [0, 1): (n,) or (n, cols)."""
        u = (self._bits(site, cols or 1) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        return u if cols is not None else u[:, 0]

    def uniform(self, site: int, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
        return np.asarray(low + (np.asarray(high) - low) * self.random(site), dtype=np.float64)

    def normal(self, site: int, loc: float = 0.0, scale: float = 1.0, cols: int | None = None) -> np.ndarray:
        """Normal draws (Box-Muller over two uniforms per value): (n,) or (n, cols)."""
        u = self.random(site, 2 * (cols or 1))
        k = cols or 1
        r = np.sqrt(-2.0 * np.log1p(-u[:, :k]))  # 1 - u is in (0, 1]: never log(0)
        z = r * np.cos(_TWO_PI * u[:, k:])
        z = loc + scale * z
        return z if cols is not None else z[:, 0]

    def bytes(self, site: int, count: int) -> np.ndarray:
        """(n, count) random bytes."""
        words = np.ascontiguousarray(self._bits(site, (count + 7) // 8))
        return words.view(np.uint8).reshape(len(self), words.shape[1] * 8)[:, :count]
