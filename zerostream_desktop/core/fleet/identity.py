"""Stable device identities and per-device draws that depend only on (seed, device index).

A device keeps its id, name and starting attributes whatever else the fleet did before: across
restarts with the same seed, and when "apply" grows or shrinks the fleet.
"""

from __future__ import annotations

import itertools
import uuid

import numpy as np

_NAMESPACE = uuid.UUID("6f1c2d2e-8a4b-5d7e-9f10-2a3b4c5d6e7f")
_MODELS = (
    "Pixel 8",
    "Galaxy S24",
    "iPhone 15",
    "Moto G84",
    "Xperia 10",
    "OnePlus 12",
    "Fairphone 5",
    "Nokia X30",
)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GENERATIONS = itertools.count(1)  # unique across all instances, so caches never confuse two fleets


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def device_uniforms(seed: int, indices: np.ndarray, count: int) -> np.ndarray:
    """(len(indices), count) uniforms in [0, 1), a pure function of (seed, index, column)."""
    idx = indices.astype(np.uint64)[:, None]
    col = np.arange(count, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        key = splitmix64(np.full_like(idx, np.uint64(seed & 0xFFFFFFFFFFFFFFFF)))
        x = splitmix64(key ^ (idx * np.uint64(0xD1B54A32D192ED03)) ^ (col * np.uint64(0x8CB92BA72F3D8DD7)))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def connection_id(seed: int, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"zerostream-device:{seed}:{index}"))


def device_names(seed: int, indices: np.ndarray) -> list[str]:
    u = device_uniforms(seed, indices, 1)[:, 0]
    return [f"{_MODELS[int(x * len(_MODELS))]} #{i + 1:05d}" for x, i in zip(u, indices.tolist(), strict=True)]


class Identities:
    """Connection ids and names of devices first..first+n-1, grown and shrunk with the fleet."""

    def __init__(self, seed: int, first: int = 0) -> None:
        self.seed = seed
        self.first = first  # a shard's devices start here in the whole fleet
        self.connection_ids: list[str] = []
        self.names: list[str] = []
        self.generation = next(_GENERATIONS)  # renewed on every change; encoders cache per-device bytes by it

    def resize(self, n: int) -> None:
        if n < len(self.connection_ids):
            del self.connection_ids[n:]
            del self.names[n:]
        else:
            new = np.arange(len(self.connection_ids), n) + self.first
            self.connection_ids.extend(connection_id(self.seed, int(i)) for i in new)
            self.names.extend(device_names(self.seed, new))
        self.touch()

    def touch(self) -> None:
        """Say that ids or names changed (cached encodings are stale)."""
        self.generation = next(_GENERATIONS)

    def __len__(self) -> int:
        return len(self.connection_ids)
