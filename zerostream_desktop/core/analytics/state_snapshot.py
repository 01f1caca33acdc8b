"""The local backend's incremental state saved next to the table version it reflects.

Building the state reads every row of the table (about 10 s at 10M rows); a restart instead loads
the last snapshot and reads only the versions committed since, through the change data feed. A
snapshot is used only for the table it was made from (the Delta table's id) and only if it is not
ahead of the table; anything else, or a snapshot that cannot be read, means a rebuild, as before.

A snapshot is a folder beside the table's own (`.<table>.dashboard-state`, which Delta and the
table listing ignore): `meta.json` (format, table id, version, landing-time bounds), `seen.npz`
(the sorted hash runs), `clients.parquet` (one row per client, as the rebuild's SQL makes them) and
`recent.npz` (the last minutes of landings). It is written to a new folder and moved into place,
so a reader never sees half of one; two processes writing at once leave one whole snapshot.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

FORMAT = 1
_RECENT_KEYS = ("hash", "ing", "lag", "size")


@dataclass
class Snapshot:
    table_id: str
    version: int
    seen_runs: list[np.ndarray]
    clients: pa.Table
    recent: dict[str, np.ndarray]  # one chunk, in send-time order
    latest_us: int
    horizon_us: int | None
    older_rows: bool


def snapshot_dir(table_path: Path) -> Path:
    return table_path.parent / f".{table_path.name}.dashboard-state"


def save(table_path: Path, snap: Snapshot) -> Path:
    """Write `snap` for the table at `table_path`, replacing the previous one whole."""
    final = snapshot_dir(table_path)
    tmp = final.with_name(f"{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        np.savez(tmp / "seen.npz", *snap.seen_runs)
        pq.write_table(snap.clients, tmp / "clients.parquet", compression="lz4")
        r = snap.recent
        np.savez(tmp / "recent.npz", hash=r["hash"], ing=r["ing"], lag=r["lag"], size=r["size"])
        meta = {
            "format": FORMAT, "table_id": snap.table_id, "version": snap.version, "latest_us": snap.latest_us,
            "horizon_us": snap.horizon_us, "older_rows": snap.older_rows, "runs": len(snap.seen_runs),
        }  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta))  # last: a folder without it is not a snapshot
        old = final.with_name(f"{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.old")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load(table_path: Path) -> Snapshot | None:
    """The saved snapshot of this table, or None (none yet, another format, or unreadable: logged)."""
    folder = snapshot_dir(table_path)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("the dashboard's saved state in %s is unreadable (%s); rebuilding it", folder, exc)
        return None
    if meta.get("format") != FORMAT:
        return None
    try:
        with np.load(folder / "seen.npz") as seen:
            runs = [np.asarray(seen[f"arr_{k}"], dtype=np.uint64) for k in range(int(meta["runs"]))]
        with np.load(folder / "recent.npz") as recent:
            chunk = {k: np.asarray(recent[k]) for k in _RECENT_KEYS}
        clients = pq.read_table(folder / "clients.parquet")
        return Snapshot(
            table_id=str(meta["table_id"]), version=int(meta["version"]), seen_runs=runs, clients=clients,
            recent=chunk, latest_us=int(meta["latest_us"]),
            horizon_us=None if meta["horizon_us"] is None else int(meta["horizon_us"]),
            older_rows=bool(meta["older_rows"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        log.warning("the dashboard's saved state in %s is unreadable (%s); rebuilding it", folder, exc)
        return None
