"""A batch of sensor events in column form, as the simulator produces them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from zerostream_desktop.core import schema
from zerostream_desktop.core.fleet.identity import Identities

US_PER_DAY = 86_400_000_000
NUMERIC_COLUMNS = tuple(
    c.name for c in schema.DEVICE_COLUMNS if c.type is not schema.ColumnType.STRING and c.name != "payload_bytes"
)


def new_event_ids(timestamps_us: np.ndarray, random_bytes: np.ndarray) -> np.ndarray:
    """Time-ordered UUIDv7 ids as an (n, 36) array of ASCII bytes; `random_bytes` is (n, 10)."""
    n = timestamps_us.size
    raw = np.empty((n, 16), dtype=np.uint8)
    ms = (timestamps_us // 1000).astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, :6] = ms[:, 2:]
    raw[:, 6:] = random_bytes
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = hex_digits[raw >> 4]
    nibbles[:, 1::2] = hex_digits[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src, width in ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12)):
        out[:, dst : dst + width] = nibbles[:, src : src + width]
    return out


@dataclass
class EventBatch:
    """Events for `device_index` devices; strings come from the fleet's identities."""

    device_index: np.ndarray
    event_id: np.ndarray  # (n, 36) uint8
    columns: dict[str, np.ndarray]  # every numeric device column, schema names
    identities: Identities
    topic: str
    ticks: np.ndarray | None = None  # each event's slot time on the device's schedule, ms (the key of its draws)

    def __len__(self) -> int:
        return int(self.device_index.size)

    def take(self, rows: np.ndarray) -> EventBatch:
        """The events at `rows` (indices into this batch; repeats allowed), in that order."""
        return EventBatch(
            self.device_index[rows], self.event_id[rows], {k: v[rows] for k, v in self.columns.items()},
            self.identities, self.topic, None if self.ticks is None else self.ticks[rows],
        )  # fmt: skip

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        """One batch of several from the same fleet, in order."""
        if len(batches) == 1:
            return batches[0]
        first = batches[0]
        ticks = [b.ticks for b in batches]
        return EventBatch(
            np.concatenate([b.device_index for b in batches]),
            np.concatenate([b.event_id for b in batches]),
            {k: np.concatenate([b.columns[k] for b in batches]) for k in first.columns},
            first.identities, first.topic,
            None if any(t is None for t in ticks) else np.concatenate(ticks),  # type: ignore[arg-type]
        )  # fmt: skip

    def event_ids(self) -> list[str]:
        text = np.ascontiguousarray(self.event_id).tobytes().decode("ascii")
        return [text[i : i + 36] for i in range(0, len(text), 36)]

    def connection_ids(self) -> list[str]:
        ids = self.identities.connection_ids
        return [ids[i] for i in self.device_index.tolist()]

    def device_names(self) -> list[str]:
        names = self.identities.names
        return [names[i] for i in self.device_index.tolist()]

    def to_rows(self) -> list[dict[str, Any]]:
        """Plain dicts in schema order, with wire values (timestamps in epoch microseconds)."""
        cols: dict[str, list[Any]] = {
            "event_id": self.event_ids(),
            "connection_id": self.connection_ids(),
            "device_name": self.device_names(),
            "zerobus_topic": [self.topic] * len(self),
        }
        for name in NUMERIC_COLUMNS:
            cols[name] = self.columns[name].tolist()
        names = [c.name for c in schema.DEVICE_COLUMNS if c.name in cols]
        return [dict(zip(names, values, strict=True)) for values in zip(*(cols[n] for n in names), strict=True)]

    def to_arrow(self, payload_bytes: np.ndarray | None = None) -> pa.Table:
        """The batch as a table of the Delta schema (endpoint columns null)."""
        n = len(self)
        arrays: dict[str, Any] = {
            "event_id": self.event_ids(),
            "connection_id": self.connection_ids(),
            "device_name": self.device_names(),
            "zerobus_topic": [self.topic] * n,
            "payload_bytes": payload_bytes,
        }
        for name in NUMERIC_COLUMNS:
            arrays[name] = self.columns[name]
        arrays["event_date"] = self.columns["event_date"].astype("datetime64[D]")
        arrays["event_timestamp"] = self.columns["event_timestamp"].astype("datetime64[us]")
        target = schema.arrow_schema()
        return pa.table(
            [
                pa.array(arrays.get(f.name), type=f.type) if arrays.get(f.name) is not None else pa.nulls(n, f.type)
                for f in target
            ],
            schema=target,
        )
