"""What waits in the spools of a data folder, and the dead letters: listed, exported, retried, discarded.

Shared by `zerostream spool` and Tools > Spool in the app. A spool a running producer holds is only
read, never changed; a damaged spool moved aside is listed so it is not forgotten.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from zerostream_desktop.core.ingest.spool import Spool, held


@dataclass(frozen=True)
class SpoolInfo:
    path: Path
    target: str  # the destination part of the file name
    waiting: int
    size_bytes: int
    oldest_us: int | None
    dead_letters: int
    reasons: dict[str, int] = field(default_factory=dict)  # dead letters per reason, most first
    in_use: bool = False  # held by a running producer
    configured: bool = True  # for the target configured now


def spool_files(data_dir: Path) -> list[Path]:
    folder = Path(data_dir) / "spool"
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


def damaged_spools(data_dir: Path) -> list[Path]:
    folder = Path(data_dir) / "spool"
    found = sorted(folder.glob("*.sqlite.corrupt-*")) if folder.is_dir() else []
    return [p for p in found if not p.name.endswith(("-wal", "-shm"))]


def spool_infos(data_dir: Path, configured_target: str = "") -> list[SpoolInfo]:
    out = []
    for path in spool_files(data_dir):
        busy = held(path)
        spool = Spool(path)
        try:
            letters = spool.dead_letters(limit=100_000)
            reasons = Counter(d.reason for d in letters)
            out.append(SpoolInfo(
                path, path.name.removesuffix(".sqlite").split("@")[0], spool.depth, spool.size_bytes,
                spool.oldest_us(), spool.dead_letter_count(), dict(reasons.most_common()), busy,
                not configured_target or path.name.startswith(f"{configured_target}@"),
            ))  # fmt: skip
        finally:
            spool.close()
    return out


def _record(payload: bytes) -> dict[str, Any] | None:
    """A spooled payload as the sensor event it is, when it is one (proto or JSON)."""
    from google.protobuf.json_format import MessageToDict

    from zerostream_desktop.core import schema

    try:
        return dict(json.loads(payload))
    except (ValueError, TypeError, UnicodeDecodeError):
        pass
    try:
        decoded: dict[str, Any] = MessageToDict(
            schema.message_class().FromString(payload), preserving_proto_field_name=True
        )
        return decoded
    except Exception:  # not a sensor event (another table's records): the raw bytes are exported
        return None


def export(data_dir: Path, out: TextIO, dead_letters: bool) -> int:
    """Write the waiting records (or the dead letters) of every spool as JSON lines; returns how many."""
    n = 0
    for path in spool_files(data_dir):
        spool = Spool(path)
        try:
            if dead_letters:
                items = [{"event_id": d.event_id, "reason": d.reason, "failed_at_us": d.failed_at_us,
                          "payload": d.payload} for d in spool.dead_letters(limit=10_000_000)]  # fmt: skip
            else:
                items = [{"event_id": r.event_id, "device": r.device, "spooled_at_us": r.created_us,
                          "payload": r.payload} for r in spool.waiting()]  # fmt: skip
        finally:
            spool.close()
        for item in items:
            payload = item.pop("payload")
            assert isinstance(payload, bytes)
            item["spool"] = path.name
            item["record"] = _record(payload)
            if item["record"] is None:
                item["payload_base64"] = base64.b64encode(payload).decode()
            out.write(json.dumps(item) + "\n")
            n += 1
    return n


def _free(data_dir: Path) -> tuple[list[Path], list[Path]]:
    files = spool_files(data_dir)
    busy = [p for p in files if held(p)]
    return [p for p in files if p not in busy], busy


def retry_dead_letters(data_dir: Path) -> tuple[int, list[Path]]:
    """Put every dead letter back to be sent; (how many, spools left alone because a producer holds them)."""
    free, busy = _free(data_dir)
    total = 0
    for path in free:
        spool = Spool(path)
        try:
            total += spool.retry_dead_letters()
        finally:
            spool.close()
    return total, busy


def count(data_dir: Path, dead_letters: bool) -> int:
    """What `discard` would delete (spools a producer holds left out)."""
    free, _ = _free(data_dir)
    total = 0
    for path in free:
        spool = Spool(path)
        try:
            total += spool.dead_letter_count() if dead_letters else spool.depth
        finally:
            spool.close()
    return total


def discard(data_dir: Path, dead_letters: bool) -> tuple[int, list[Path]]:
    """Delete the dead letters (or the waiting records): the caller asked the user first."""
    free, busy = _free(data_dir)
    gone = 0
    for path in free:
        spool = Spool(path)
        try:
            gone += spool.discard(dead_letters=dead_letters)
        finally:
            spool.close()
    return gone, busy
