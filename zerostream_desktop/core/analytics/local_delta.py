"""The local backend: the Delta table localbus writes, read with deltalake and DuckDB.

Two ways to answer, with the same results (a test compares them on every refresh):

- **full**: run the query suite (`sql.duckdb`) over the table's live files, as listed by the Delta
  log (never by a directory listing, so compaction never double-counts). Cost grows with the table.
- **incremental** (the default): build state once, then on each call read only the rows that the
  versions committed since the last call added (the change data feed, which localbus tables have on;
  compaction adds no rows to it). The state is: the events seen (sorted runs of 64-bit hashes of
  event_id, 8 bytes an event), one row per client (totals and latest values), the last few minutes of
  landings (for rates, time to table and the per-second series) and the tracks asked for lately. If
  the feed cannot be read (the reader fell behind log retention, a vacuumed file), the state is
  rebuilt from the table.

Exactness: events are told apart by a 64-bit hash of event_id, so two distinct events in one table
could in principle count as one; for 10M events the chance that any pair collides is about 3 in a
million. Everything else is exact.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics import sql
from zerostream_desktop.core.analytics.model import (
    DEFAULT_TRACK_LIMIT,
    DEFAULT_TRACK_POINTS,
    MINUTE_S,
    AnalyticsError,
    Client,
    Kpis,
    SeriesPoint,
    Track,
    TrackPoint,
    Window,
    clients_from_rows,
    keep_indices,
    kpis_from_row,
    series_from_rows,
    series_since,
    track_from_rows,
    utc,
)

log = logging.getLogger(__name__)

RECENT_S = 300  # landings kept in memory: the minute windows and series up to 5 minutes
TRACK_CACHE = 8  # devices whose recent points are kept and extended as rows arrive

_FEED_COLUMNS = [
    "event_id", "connection_id", "device_name", "event_timestamp", "ingested_at", "zerobus_offset",
    "payload_bytes", "latitude", "longitude", "heading_deg", "battery_pct", "signal_strength", "speed_kmh",
]  # fmt: skip
_SOURCE = "events_source"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Client state: the suite's client row plus `latest`, the (event_timestamp, event_id) of the latest
# event. The same aggregate folds a batch into the state (the union of both, grouped again).
_CLIENT_STATE_SQL = """
SELECT connection_id,
       {events} AS events,
       {bytes} AS bytes,
       min({first}) AS first_seen,
       max({last}) AS last_seen,
       arg_max_null(device_name, {key}) AS device_name,
       arg_max_null(latitude, {key}) AS latitude,
       arg_max_null(longitude, {key}) AS longitude,
       arg_max_null(battery_pct, {key}) AS battery_pct,
       arg_max_null(signal_strength, {key}) AS signal_strength,
       arg_max_null(speed_kmh, {key}) AS speed_kmh,
       max({key}) AS latest
FROM {source}
GROUP BY connection_id
"""
_FROM_ROWS = {
    "events": "count(*) FILTER (WHERE is_new)",
    "bytes": "coalesce(sum(payload_bytes) FILTER (WHERE is_new), 0)",
    "first": "event_timestamp",
    "last": "ingested_at",
    "key": "{'ts': event_timestamp, 'id': event_id}",
}
_FROM_STATES = {
    "events": "sum(events)",
    "bytes": "sum(bytes)",
    "first": "first_seen",
    "last": "last_seen",
    "key": "latest",
}
_KPI_TOTALS_SQL = """
SELECT coalesce(sum(events), 0), count(*), coalesce(sum(bytes), 0),
       count(*) FILTER (WHERE last_seen >= $active_since), max(last_seen)
FROM clients
"""
_KPI_MINUTE_SQL = """
SELECT count(*), coalesce(sum(payload_bytes), 0),
       quantile_cont(epoch_us(ingested_at) - epoch_us(event_timestamp), 0.5),
       quantile_cont(epoch_us(ingested_at) - epoch_us(event_timestamp), 0.95)
FROM recent WHERE ingested_at >= $since
"""
_SERIES_SQL = """
SELECT date_trunc('second', ingested_at), count(*), coalesce(sum(payload_bytes), 0)
FROM recent WHERE ingested_at >= $since GROUP BY 1 ORDER BY 1
"""
_RECENT_COLUMNS = "event_id, connection_id, event_timestamp, ingested_at, zerobus_offset, payload_bytes"
_LATEST_LANDING = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at DESC, zerobus_offset DESC) = 1"
_TRACK_POINTS_SQL = f"""
SELECT event_id, event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct
FROM {_SOURCE}
WHERE connection_id = $connection_id AND latitude IS NOT NULL AND longitude IS NOT NULL
{_LATEST_LANDING}
ORDER BY event_timestamp DESC, event_id DESC
LIMIT $track_limit
"""


class _SeenEvents:
    """The set of events seen so far, as sorted runs of 64-bit hashes merged like a binary counter."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.runs)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for run in self.runs:
            i = np.searchsorted(run, hashes)
            i[i == len(run)] = 0
            found |= run[i] == hashes
        return found

    def add_sorted_unique(self, hashes: np.ndarray) -> None:
        self.runs.append(hashes)
        while len(self.runs) > 1 and len(self.runs[-1]) * 2 >= len(self.runs[-2]):
            last = self.runs.pop()
            self.runs[-1] = np.union1d(self.runs[-1], last)

    def first_landings(self, hashes: np.ndarray) -> np.ndarray:
        """Mark each hash that is new (not seen before, first in this batch) and remember them."""
        unique, first = np.unique(hashes, return_index=True)
        unseen = ~self.contains(unique)
        mask = np.zeros(len(hashes), dtype=bool)
        mask[first[unseen]] = True
        if unseen.any():
            self.add_sorted_unique(unique[unseen])
        return mask


@dataclass
class _TrackCache:
    limit: int
    ids: np.ndarray
    ts: np.ndarray  # int64 epoch microseconds
    cols: dict[str, np.ndarray]

    def extend(self, new: pa.Table) -> None:
        if new.num_rows == 0:
            return
        self.ids = np.concatenate([self.ids, new["event_id"].to_numpy(zero_copy_only=False).astype(object)])
        self.ts = np.concatenate([self.ts, _micros(new["event_timestamp"])])
        for name in self.cols:
            self.cols[name] = np.concatenate([self.cols[name], _floats(new[name])])
        order = np.lexsort((self.ids, self.ts))[-self.limit :]
        self.ids, self.ts = self.ids[order], self.ts[order]
        self.cols = {k: v[order] for k, v in self.cols.items()}


class LocalDeltaAnalytics:
    """Thread-safe (one DuckDB connection behind a lock); call from a worker, not the UI thread."""

    def __init__(self, table_path: Path, incremental: bool = True) -> None:
        self.table_path = Path(table_path)
        self.incremental = incremental
        self.description = f"the local table at {self.table_path}"
        self._table: DeltaTable | None = None
        self._db = duckdb.connect()
        self._db.execute("SET TimeZone = 'UTC'")
        self._lock = threading.Lock()
        self._version = -1  # the version the state reflects; -1: no state
        self._seen = _SeenEvents()
        self._latest = _EPOCH  # the latest landing seen
        self._horizon: dt.datetime | None = None  # `recent` is complete from here on
        self._older_rows = False  # whether landings before the horizon exist
        self._tracks: OrderedDict[str, _TrackCache] = OrderedDict()
        self.stats = {"rebuilds": 0, "feed_rows": 0}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- the Analytics interface ------------------------------------------------------------

    def kpis(self, window: Window) -> Kpis:
        with self._lock:
            if not self._sync():
                return Kpis()
            if not self.incremental or not self._recent_covers(window.minute_since):
                return self._full_kpis(window)
            totals = self._db.execute(_KPI_TOTALS_SQL, {"active_since": window.active_since}).fetchall()[0]
            minute = self._db.execute(_KPI_MINUTE_SQL, {"since": window.minute_since}).fetchall()[0]
        assert totals is not None and minute is not None
        row = (totals[0], totals[1], totals[2], totals[3], minute[0], minute[1], minute[2], minute[3], totals[4])
        return kpis_from_row(row, window.minute_s)

    def clients(self, window: Window) -> list[Client]:
        with self._lock:
            if not self._sync():
                return []
            if not self.incremental:
                rows = self._full("clients", {})
            else:
                rows = self._db.execute(
                    "SELECT connection_id, device_name, events, bytes, first_seen, last_seen, latitude, longitude,"
                    " battery_pct, signal_strength, speed_kmh FROM clients"
                ).fetchall()
        return clients_from_rows(rows, window)

    def track(
        self, connection_id: str, limit: int = DEFAULT_TRACK_LIMIT, max_points: int = DEFAULT_TRACK_POINTS
    ) -> Track:
        if max_points < 2 or limit < 1:
            raise ValueError("a track needs limit >= 1 and max_points >= 2")
        with self._lock:
            if not self._sync():
                return Track(connection_id)
            if not self.incremental:
                params = {"connection_id": connection_id, "track_limit": limit, "max_points": max_points}
                return track_from_rows(connection_id, self._full("track", params))
            cache = self._tracks.get(connection_id)
            if cache is None or cache.limit != limit:
                cache = self._load_track(connection_id, limit)
            self._tracks[connection_id] = cache
            self._tracks.move_to_end(connection_id)
            while len(self._tracks) > TRACK_CACHE:
                self._tracks.popitem(last=False)
            n = len(cache.ts)
            keep = keep_indices(n, max_points)
            ts, cols = cache.ts[keep], {k: v[keep] for k, v in cache.cols.items()}
        points = tuple(
            TrackPoint(
                _from_micros(int(ts[j])), float(cols["latitude"][j]), float(cols["longitude"][j]),
                _nan_none(cols["speed_kmh"][j]), _nan_none(cols["heading_deg"][j]), _nan_int(cols["battery_pct"][j]),
            )
            for j in range(len(keep))
        )  # fmt: skip
        return Track(connection_id, points, n)

    def series(self, window: Window, seconds: int = MINUTE_S) -> list[SeriesPoint]:
        since = series_since(window, seconds)
        with self._lock:
            if not self._sync():
                return series_from_rows([], window, seconds)
            if not self.incremental or not self._recent_covers(since):
                rows = self._full("series", {"since": since})
            else:
                rows = self._db.execute(_SERIES_SQL, {"since": since}).fetchall()
        return series_from_rows(rows, window, seconds)

    # --- keeping the state current ----------------------------------------------------------

    def _open(self) -> DeltaTable | None:
        if self._table is None:
            try:
                self._table = DeltaTable(str(self.table_path))
            except TableNotFoundError:
                return None
        else:
            self._table.update_incremental()
        return self._table

    def _sync(self) -> bool:
        """Bring the state up to the table's latest version; False when there is no table yet."""
        try:
            table = self._open()
        except (DeltaError, OSError) as exc:
            raise AnalyticsError(f"cannot read {self.description}: {exc}") from exc
        if table is None:
            return False
        version = table.version()
        if not self.incremental:
            self._version = version
            return True
        if self._version < 0:
            self._rebuild(table)
        elif version > self._version:
            try:
                feed = table.load_cdf(
                    starting_version=self._version + 1, ending_version=version, columns=[*_FEED_COLUMNS, "_change_type"]
                )
                batch = pa.table(feed.read_all())
            except (DeltaError, OSError, pa.ArrowException) as exc:
                log.warning(
                    "cannot read versions %d..%d of the change feed (%s); rebuilding", self._version + 1, version, exc
                )
                self._rebuild(table)
            else:
                self._apply(batch)
                self._version = version
        self._prune()
        return True

    def _rebuild(self, table: DeltaTable) -> None:
        started = time.perf_counter()
        self.stats["rebuilds"] += 1
        self._version = table.version()
        self._point_source(list(table.file_uris()))
        hashes = self._db.execute(f"SELECT DISTINCT hash(event_id) AS h FROM {_SOURCE} ORDER BY h").fetchnumpy()["h"]
        self._seen = _SeenEvents()
        if len(hashes):
            self._seen.add_sorted_unique(np.asarray(hashes, dtype=np.uint64))
        deduped = f"(SELECT *, true AS is_new FROM {_SOURCE} {_LATEST_LANDING})"
        self._db.execute(
            f"CREATE OR REPLACE TEMP TABLE clients AS {_CLIENT_STATE_SQL.format(source=deduped, **_FROM_ROWS)}"
        ).fetchall()
        latest = self._db.execute(f"SELECT max(ingested_at) FROM {_SOURCE}").fetchall()[0][0]
        self._latest = utc(latest) or _EPOCH
        self._horizon = self._latest - dt.timedelta(seconds=RECENT_S)
        self._db.execute(
            f"CREATE OR REPLACE TEMP TABLE recent AS SELECT {_RECENT_COLUMNS} FROM {_SOURCE}"
            f" WHERE ingested_at >= $since {_LATEST_LANDING}",
            {"since": self._horizon},
        ).fetchall()
        older = self._db.execute(
            f"SELECT count(*) FROM {_SOURCE} WHERE ingested_at < $since", {"since": self._horizon}
        ).fetchall()[0]
        self._older_rows = bool(older and older[0])
        self._tracks.clear()
        log.info(
            "analytics state for %s built at version %d in %.0f ms: %d events",
            self.table_path, self._version, (time.perf_counter() - started) * 1000, len(self._seen),
        )  # fmt: skip

    def _apply(self, feed: pa.Table) -> None:
        """Fold the rows added since the last version into the state."""
        kinds = set(pc.unique(feed["_change_type"]).to_pylist()) if feed.num_rows else set()
        if kinds - {"insert"}:
            raise AnalyticsError(
                f"{self.description} had rows updated or deleted ({sorted(kinds)}); reopen the dashboard"
            )
        if feed.num_rows == 0:
            return
        self.stats["feed_rows"] += feed.num_rows
        self._db.register("feed", feed)
        try:
            latest = utc(pc.max(feed["ingested_at"]).as_py())
            if latest is not None and latest > self._latest:
                self._latest = latest
            hashes = self._db.execute("SELECT hash(event_id) AS h FROM feed").fetchnumpy()["h"]
            is_new = self._seen.first_landings(np.asarray(hashes, dtype=np.uint64))
            batch = feed.append_column("is_new", pa.array(is_new))
            self._db.register("batch", batch)
            folded = f"(SELECT * FROM clients UNION ALL ({_CLIENT_STATE_SQL.format(source='batch', **_FROM_ROWS)}))"
            self._db.execute(
                f"CREATE OR REPLACE TEMP TABLE clients AS {_CLIENT_STATE_SQL.format(source=folded, **_FROM_STATES)}"
            ).fetchall()
            self._db.execute(
                f"INSERT INTO recent SELECT {_RECENT_COLUMNS} FROM batch WHERE ingested_at >= $since",
                {"since": self._horizon},
            ).fetchall()
            if not is_new.all():  # a resend: keep only each event's latest landing
                self._db.execute(
                    f"CREATE OR REPLACE TEMP TABLE recent AS SELECT * FROM recent {_LATEST_LANDING}"
                ).fetchall()
            if self._tracks:
                mine = self._db.sql(
                    "SELECT connection_id, event_id, event_timestamp, latitude, longitude, speed_kmh, heading_deg,"
                    " battery_pct FROM batch WHERE is_new AND list_contains($ids, connection_id)"
                    " AND latitude IS NOT NULL AND longitude IS NOT NULL",
                    params={"ids": list(self._tracks)},
                ).to_arrow_table()
                for cid, cache in self._tracks.items():
                    cache.extend(mine.filter(pc.equal(mine["connection_id"], cid)))
        finally:
            self._db.unregister("feed")
            self._db.unregister("batch")

    def _prune(self) -> None:
        """Drop landings older than RECENT_S before the latest one (data time, not the wall clock)."""
        horizon = self._latest - dt.timedelta(seconds=RECENT_S)
        if self._horizon is not None and horizon > self._horizon + dt.timedelta(seconds=10):
            deleted = self._db.execute("DELETE FROM recent WHERE ingested_at < $h", {"h": horizon}).fetchall()[0]
            self._older_rows = self._older_rows or bool(deleted and deleted[0])
            self._horizon = horizon

    def _recent_covers(self, since: dt.datetime) -> bool:
        return self._horizon is not None and (since >= self._horizon or not self._older_rows)

    def _load_track(self, connection_id: str, limit: int) -> _TrackCache:
        assert self._table is not None
        self._point_source(list(self._table.file_uris()))
        rows = self._db.sql(
            _TRACK_POINTS_SQL, params={"connection_id": connection_id, "track_limit": limit}
        ).to_arrow_table()
        order = np.lexsort((rows["event_id"].to_numpy(zero_copy_only=False), _micros(rows["event_timestamp"])))
        rows = rows.take(pa.array(order))
        cols = {
            name: _floats(rows[name]) for name in ("latitude", "longitude", "speed_kmh", "heading_deg", "battery_pct")
        }
        return _TrackCache(
            limit,
            rows["event_id"].to_numpy(zero_copy_only=False).astype(object),
            _micros(rows["event_timestamp"]),
            cols,
        )

    # --- full recompute ---------------------------------------------------------------------

    def _point_source(self, files: list[str]) -> None:
        if files:
            rel = self._db.read_parquet(files, hive_partitioning=True)
        else:
            rel = self._db.from_arrow(schema.arrow_schema().empty_table())
        rel.create_view(_SOURCE, replace=True)

    def _full(self, name: str, params: dict[str, Any]) -> list[Any]:
        assert self._table is not None
        self._point_source(list(self._table.file_uris()))
        return self._db.execute(sql.duckdb(name, _SOURCE), params).fetchall()

    def _full_kpis(self, window: Window) -> Kpis:
        row = self._full("kpis", {"active_since": window.active_since, "minute_since": window.minute_since})[0]
        return kpis_from_row(row, window.minute_s)

    def memory_bytes(self) -> int:
        """What the incremental state holds (hash runs, the client and recent tables, track caches)."""
        with self._lock:
            tracks = sum(c.ts.nbytes * 7 for c in self._tracks.values())
            db = self._db.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchall()[0]
        return self._seen.nbytes + tracks + int(db[0] if db else 0)


def _micros(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(
        pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def _floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _from_micros(us: int) -> dt.datetime:
    value = utc(dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us))
    assert value is not None
    return value


def _nan_none(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def _nan_int(v: float) -> int | None:
    return None if np.isnan(v) else int(v)
