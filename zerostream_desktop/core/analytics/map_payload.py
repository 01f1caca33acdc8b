"""What the map page draws, as JSON-ready dicts: the same for the desktop bridge and the web dashboard.

Devices go as columns (one list a field, not one object a device: 4x faster to build and parse at
10,000 devices), their positions in millionths of a degree (`scale`); a track as rows of
[time ms, lat, lon, speed, heading, battery].
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zerostream_desktop.core.analytics.model import Client, QualityPoint, Track

MAX_MARKS = 1000
COORD_SCALE = 1_000_000  # device positions as integer millionths of a degree (11 cm): JSON of 20,000 floats took
# 17 ms on the UI thread at 10,000 devices, every refresh; of integers, 3
MARK_KINDS = ("jump", "stale", "late", "out_of_order", "duplicate")


def devices_payload(clients: Sequence[Client]) -> dict[str, list[Any]]:
    located = [c for c in clients if c.latitude is not None and c.longitude is not None]
    lat = np.rint(np.array([c.latitude for c in located], dtype=np.float64) * COORD_SCALE).astype(np.int64)
    lon = np.rint(np.array([c.longitude for c in located], dtype=np.float64) * COORD_SCALE).astype(np.int64)
    return {
        "id": [c.connection_id for c in located],
        "lat": lat.tolist(),
        "lon": lon.tolist(),
        "status": [c.status.value for c in located],
        "scale": COORD_SCALE,
    }


@dataclass(frozen=True)
class DevicesJson:
    """`devices_payload` as JSON in two parts, so a page that holds the ids already is sent only the rest."""

    ids: str  # the JSON array of ids
    rest: str  # the JSON object of the other fields

    def whole(self) -> str:
        return '{"id":' + self.ids + "," + self.rest[1:]


def devices_json(clients: Sequence[Client]) -> DevicesJson:
    payload = devices_payload(clients)
    ids = payload.pop("id")
    return DevicesJson(json.dumps(ids, separators=(",", ":")), json.dumps(payload, separators=(",", ":")))


def track_payload(track: Track, name: str | None = None, fit: bool = False, follow: bool = False) -> dict[str, Any]:
    points = [
        [
            round(p.event_timestamp.timestamp() * 1000), p.latitude, p.longitude,
            finite(p.speed_kmh), finite(p.heading_deg), p.battery_pct,
        ]
        for p in track.points
    ]  # fmt: skip
    return {"id": track.connection_id, "name": name, "points": points, "total": track.total_points,
            "fit": fit, "follow": follow}  # fmt: skip


def marks_payload(connection_id: str, points: list[QualityPoint]) -> dict[str, Any]:
    """A device's suspicious points for its track: rows of [time ms, lat, lon, "jump,late,..."], newest kept."""
    rows = []
    for p in points:
        if p.latitude is None or p.longitude is None:
            continue
        kinds = [k for k, on in zip(MARK_KINDS, (p.jump, p.stale, p.late, p.out_of_order,
                                                 bool(p.copies and p.copies > 1)), strict=True) if on]  # fmt: skip
        if kinds:
            rows.append([round(p.event_timestamp.timestamp() * 1000), p.latitude, p.longitude, ",".join(kinds)])
    return {"id": connection_id, "marks": rows[-MAX_MARKS:]}


def finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def rounded(v: float | None, digits: int) -> float | None:
    """A finite value to `digits` decimals, else None (positions to 6 decimals are 11 cm: a third off the JSON)."""
    v = finite(v)
    return None if v is None else round(float(v), digits)
