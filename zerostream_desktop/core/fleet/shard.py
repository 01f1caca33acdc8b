"""A slice of one fleet for one process: `--shard i/N` runs devices [lo, hi) of the whole fleet.

The devices' ids, readings and schedule depend only on (seed, device, slot), so N processes on N
machines, each with its shard and the same seed, stream exactly the fleet one process would (with
no two making the same device).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FLEET_DEVICES = 1_000_000  # a sharded fleet; one process runs at most fleet.MAX_DEVICES of it


class ShardError(ValueError):
    """A shard that cannot be read or does not fit; the message says what is expected."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def devices(self, total: int) -> range:
        """The whole fleet's devices this shard runs (contiguous; shards differ by at most one device)."""
        return range((self.index - 1) * total // self.count, self.index * total // self.count)


def parse_shard(text: str) -> Shard:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise ShardError(f"cannot read shard {text!r}: write i/N, e.g. 2/4 for the second of four")
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= count <= 1_000:
        raise ShardError(f"shard {text!r}: N must be between 1 and 1,000")
    if not 1 <= index <= count:
        raise ShardError(f"shard {text!r}: i must be between 1 and N ({count})")
    return Shard(index, count)
