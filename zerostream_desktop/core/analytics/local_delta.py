"""The local backend: the Delta table localbus writes, read with deltalake and DuckDB.

Two ways to answer, with the same results (a test compares them on every refresh):

- **full**: run the query suite (`sql.duckdb`) over the table's live files, as listed by the Delta
  log (never by a directory listing, so compaction never double-counts). Cost grows with the table.
- **incremental** (the default): build state once, then on each call read only the rows that the
  versions committed since the last call added (the change data feed, which localbus tables have on;
  compaction adds no rows to it). The state is: the events seen (sorted runs of 64-bit hashes of
  event_id, 8 bytes an event), one row per client (totals and latest values), the last few minutes of
  landings (for rates, send delay and the per-second series) and the tracks asked for lately. If
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
from zerostream_desktop.core.analytics import local_state, sql, state_snapshot
from zerostream_desktop.core.analytics.local_state import (
    LATEST_FIELDS,
    ClientTable,
    RecentLandings,
    SeenEvents,
    micros,
    micros_of,
)
from zerostream_desktop.core.analytics.model import (
    DEFAULT_TRACK_LIMIT,
    DEFAULT_TRACK_POINTS,
    MINUTE_S,
    AnalyticsError,
    Client,
    DeviceQuality,
    Kpis,
    Quality,
    QualityPoint,
    QualityThresholds,
    Refresh,
    SeriesPoint,
    Track,
    TrackPoint,
    Window,
    check_page,
    check_track_args,
    clients_from_rows,
    device_quality_from_rows,
    events_from_rows,
    keep_indices,
    kpis_from_row,
    quality_from_row,
    quality_points_from_rows,
    series_from_rows,
    series_since,
    track_from_rows,
)

log = logging.getLogger(__name__)

RECENT_S = 120  # landings kept in memory: the minute figures and series up to 2 minutes
SNAPSHOT_EVERY_S = 300.0  # the state is saved this often while new versions come in (and at close)
TRACK_CACHE = 8  # devices whose recent points are kept and extended as rows arrive

_FEED_COLUMNS = [
    "event_id", "connection_id", "device_name", "event_timestamp", "ingested_at",
    "payload_bytes", "latitude", "longitude", "heading_deg", "battery_pct", "signal_strength", "speed_kmh",
]  # fmt: skip
_SOURCE = "events_source"
_LATEST_LANDING = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at DESC NULLS LAST) = 1"
# Each client's totals and latest event, as ClientTable keeps them, from the deduplicated rows.
_CLIENT_STATE_SQL = f"""
SELECT connection_id,
       count(*) AS events,
       coalesce(sum(payload_bytes), 0) AS bytes,
       epoch_us(min(event_timestamp)) AS first_us,
       epoch_us(max(ingested_at)) AS last_us,
       epoch_us(max(event_timestamp)) AS latest_ts,
       arg_max(event_id, (event_timestamp, event_id)) AS latest_id,
       {", ".join(f"arg_max_null({f}, (event_timestamp, event_id)) AS {f}" for f in LATEST_FIELDS)}
FROM (SELECT * FROM {_SOURCE} {_LATEST_LANDING})
GROUP BY connection_id
"""
_RECENT_SQL = f"""
SELECT hash(event_id) AS hash, epoch_us(ingested_at) AS ing,
       epoch_us(ingested_at) - epoch_us(event_timestamp) AS lag,
       coalesce(payload_bytes, 0)::BIGINT AS size
FROM {_SOURCE}
WHERE ingested_at >= $since
{_LATEST_LANDING}
"""
_TRACK_POINTS_SQL = f"""
SELECT event_id, event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct
FROM {_SOURCE}
WHERE connection_id = $connection_id AND latitude IS NOT NULL AND longitude IS NOT NULL
{_LATEST_LANDING}
ORDER BY event_timestamp DESC, event_id DESC
LIMIT $track_limit
"""


_EVENTS_SQL = f"""
SELECT {", ".join(sql.EVENT_COLUMNS)}
FROM {_SOURCE}
WHERE $connection_id IS NULL OR connection_id = $connection_id
ORDER BY event_timestamp DESC, event_id DESC, ingested_at DESC NULLS LAST
LIMIT $limit OFFSET $offset
"""


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
        self.ts = np.concatenate([self.ts, micros(new["event_timestamp"])])
        for name in self.cols:
            self.cols[name] = np.concatenate([self.cols[name], _floats(new[name])])
        order = np.lexsort((self.ids, self.ts))[-self.limit :]
        self.ids, self.ts = self.ids[order], self.ts[order]
        self.cols = {k: v[order] for k, v in self.cols.items()}


class LocalDeltaAnalytics:
    """Thread-safe (one DuckDB connection behind a lock); call from a worker, not the UI thread."""

    def __init__(self, table_path: Path, incremental: bool = True, snapshots: bool = True) -> None:
        self.table_path = Path(table_path)
        self.incremental = incremental
        self.snapshots = snapshots and incremental  # start from the saved state; save it now and then
        self._saved = (-1, time.monotonic())  # the version last saved, and when
        self.description = f"the local table at {self.table_path}"
        self._table: DeltaTable | None = None
        self._db = _connect()
        self._lock = threading.RLock()
        self._pinned: bool | None = None
        self._version = -1  # the version the state reflects; -1: no state
        self._seen = SeenEvents()
        self._clients = ClientTable()
        self._recent = RecentLandings()
        self._latest_us = 0  # the latest landing seen
        self._horizon_us: int | None = None  # `_recent` is complete from here on
        self._older_rows = False  # whether landings before the horizon exist
        self._tracks: OrderedDict[str, _TrackCache] = OrderedDict()
        self.stats = {"rebuilds": 0, "feed_rows": 0, "snapshot_loads": 0}

    def close(self) -> None:
        with self._lock:
            if self._version != self._saved[0]:
                self._save_snapshot()
            self._db.close()

    def data_version(self) -> int | None:
        """The table's latest version (a look at the Delta log, a few ms); None before the table exists."""
        with self._lock:
            try:
                table = self._open()
            except (DeltaError, OSError):
                return None
            return None if table is None else table.version()

    # --- the Analytics interface ------------------------------------------------------------

    def kpis(self, window: Window) -> Kpis:
        with self._lock:
            if not self._sync():
                return Kpis()
            if not self.incremental or not self._recent_covers(window.minute_since):
                return self._full_kpis(window)
            return local_state.kpis(self._clients, self._recent, window)

    def clients(self, window: Window) -> list[Client]:
        with self._lock:
            if not self._sync():
                return []
            if self.incremental:
                return self._clients.clients(window)
            rows = self._full("clients", {})
        return clients_from_rows(rows, window)

    def track(
        self, connection_id: str, limit: int = DEFAULT_TRACK_LIMIT, max_points: int = DEFAULT_TRACK_POINTS
    ) -> Track:
        check_track_args(limit, max_points)
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
                _datetime(int(ts[j])), float(cols["latitude"][j]), float(cols["longitude"][j]),
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
            if self.incremental and self._recent_covers(since):
                return self._recent.series(since, seconds)
            rows = self._full("series", {"since": since})
        return series_from_rows(rows, window, seconds)

    def events(self, connection_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """One page of the raw stream, read from the table's live files (top-N: no full sort)."""
        check_page(limit, offset)
        with self._lock:
            if not self._sync():
                return []
            assert self._table is not None
            self._point_source(list(self._table.file_uris()))
            params = {"connection_id": connection_id, "limit": limit, "offset": offset}
            rows = self._db.execute(_EVENTS_SQL, params).fetchall()
        return events_from_rows(rows)

    def quality(self, thresholds: QualityThresholds | None = None) -> Quality:
        with self._lock:
            if not self._sync():
                return Quality()
            return quality_from_row(self._full("quality", (thresholds or QualityThresholds()).params())[0])

    def quality_devices(self, thresholds: QualityThresholds | None = None) -> list[DeviceQuality]:
        with self._lock:
            if not self._sync():
                return []
            return device_quality_from_rows(self._full("quality_devices", (thresholds or QualityThresholds()).params()))

    def quality_points(self, connection_id: str, thresholds: QualityThresholds | None = None) -> list[QualityPoint]:
        params = {**(thresholds or QualityThresholds()).params(skew=False), "connection_id": connection_id}
        with self._lock:
            if not self._sync():
                return []
            return quality_points_from_rows(self._full("quality_points", params))

    def refresh(self, window: Window, track_of: str | None = None, series_s: int = MINUTE_S) -> Refresh:
        """One dashboard beat: the table is asked for new versions once, not once per figure."""
        with self._lock:
            self._pinned = self._sync()
            try:
                return Refresh(
                    window, self.kpis(window), self.clients(window), self.track(track_of) if track_of else None,
                    self.series(window, series_s) if series_s else [],
                )  # fmt: skip
            finally:
                self._pinned = None

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
        if self._pinned is not None:  # inside refresh(): synced at its start
            return self._pinned
        try:
            table = self._open()
        except (DeltaError, OSError) as exc:
            raise AnalyticsError(f"cannot read {self.description}: {_what_is_wrong(self.table_path, exc)}") from exc
        if table is None:
            return False
        version = table.version()
        if not self.incremental:
            self._version = version
            return True
        if self._version < 0 and not self._restore(table):
            self._rebuild(table)
        if version > self._version:
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
                kinds = set(pc.unique(batch["_change_type"]).to_pylist()) if batch.num_rows else set()
                if kinds - {"insert"}:  # rows deleted (the retention limit) or rewritten: count them again
                    log.info("%s: rows %s since version %d; rebuilding", self.table_path, sorted(kinds), self._version)
                    self._rebuild(table)
                else:
                    self._apply(batch)
                    self._version = version
        self._prune()
        if self._version != self._saved[0] and time.monotonic() - self._saved[1] >= SNAPSHOT_EVERY_S:
            self._save_snapshot()
        return True

    def _restore(self, table: DeltaTable) -> bool:
        """Start from the saved snapshot when it is this table's and not ahead of it; the versions
        since are then read from the change feed like any others."""
        if not self.snapshots:
            return False
        started = time.perf_counter()
        snap = state_snapshot.load(self.table_path)
        if snap is None or snap.table_id != str(table.metadata().id) or snap.version > table.version():
            return False
        self._seen = SeenEvents()
        self._seen.runs = snap.seen_runs
        self._clients = ClientTable()
        self._clients.load(snap.clients)
        self._recent = RecentLandings()
        self._recent.add(snap.recent, resent=False)
        self._latest_us, self._horizon_us, self._older_rows = snap.latest_us, snap.horizon_us, snap.older_rows
        self._tracks.clear()
        self._version = snap.version
        self._saved = (snap.version, time.monotonic())
        self.stats["snapshot_loads"] += 1
        log.info(
            "analytics state for %s loaded at version %d in %.0f ms: %d events (table at version %d)",
            self.table_path, snap.version, (time.perf_counter() - started) * 1000, len(self._seen), table.version(),
        )  # fmt: skip
        return True

    def _save_snapshot(self) -> None:
        if not self.snapshots or self._version < 0 or self._table is None:
            return
        started = time.perf_counter()
        snap = state_snapshot.Snapshot(
            table_id=str(self._table.metadata().id), version=self._version, seen_runs=list(self._seen.runs),
            clients=self._clients.state(), recent=self._recent.merged(), latest_us=self._latest_us,
            horizon_us=self._horizon_us, older_rows=self._older_rows,
        )  # fmt: skip
        try:
            state_snapshot.save(self.table_path, snap)
        except OSError as exc:  # a read-only or full disk: the dashboard works on, a restart rebuilds
            log.warning("could not save the dashboard's state next to %s: %s", self.table_path, exc)
        else:
            log.info("analytics state for %s saved at version %d in %.0f ms",
                     self.table_path, self._version, (time.perf_counter() - started) * 1000)  # fmt: skip
        self._saved = (self._version, time.monotonic())

    def _rebuild(self, table: DeltaTable) -> None:
        started = time.perf_counter()
        self.stats["rebuilds"] += 1
        self._version = table.version()
        self._point_source(list(table.file_uris()))
        hashes = self._db.execute(f"SELECT DISTINCT hash(event_id) AS h FROM {_SOURCE} ORDER BY h").fetchnumpy()["h"]
        self._seen = SeenEvents()
        if len(hashes):
            self._seen.add_sorted_unique(np.asarray(hashes, dtype=np.uint64))
        self._clients = ClientTable()
        self._clients.load(self._db.sql(_CLIENT_STATE_SQL).to_arrow_table())
        latest = self._db.execute(f"SELECT epoch_us(max(ingested_at)) FROM {_SOURCE}").fetchall()[0][0]
        self._latest_us = int(latest or 0)
        self._horizon_us = self._latest_us - RECENT_S * 1_000_000
        self._recent = RecentLandings()
        rows = self._db.execute(_RECENT_SQL, {"since": _datetime(self._horizon_us)}).fetchnumpy()
        self._recent.add({k: np.asarray(v) for k, v in rows.items()}, resent=False)
        older = self._db.execute(
            f"SELECT count(*) FROM {_SOURCE} WHERE ingested_at < $since", {"since": _datetime(self._horizon_us)}
        ).fetchall()[0]
        self._older_rows = bool(older[0])
        self._tracks.clear()
        log.info(
            "analytics state for %s built at version %d in %.0f ms: %d events",
            self.table_path, self._version, (time.perf_counter() - started) * 1000, len(self._seen),
        )  # fmt: skip
        self._save_snapshot()  # the next start loads this instead of reading every row again
        # A fresh connection: the old one kept what reading every row took (~50 MiB at 10,000 devices).
        self._db.close()
        self._db = _connect()

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
        feed = feed.drop_columns(["_change_type"]).cast(_feed_schema())
        feed = feed.filter(pc.invert(pc.starts_with(feed["connection_id"], sql.PROBE_PREFIX)))
        if feed.num_rows == 0:
            return
        self._db.register("feed", feed)
        try:
            hashes = np.asarray(self._db.execute("SELECT hash(event_id) AS h FROM feed").fetchnumpy()["h"], np.uint64)
        finally:
            self._db.unregister("feed")
        is_new = self._seen.first_landings(hashes)
        self._clients.fold(feed, is_new)
        ing = local_state.sent_micros(feed["ingested_at"])
        self._latest_us = max(self._latest_us, int(ing.max()))
        keep = ing >= (self._horizon_us or 0)
        chunk = {
            "hash": hashes[keep], "ing": ing[keep], "lag": ing[keep] - micros(feed["event_timestamp"])[keep],
            "size": _ints(feed["payload_bytes"])[keep],
        }  # fmt: skip
        self._recent.add(chunk, resent=not is_new.all())
        if self._tracks:
            wanted = pc.is_in(feed["connection_id"], value_set=pa.array(list(self._tracks), pa.string()))
            located = pc.and_(pc.is_valid(feed["latitude"]), pc.is_valid(feed["longitude"]))
            mine = feed.filter(pc.and_(pc.and_(wanted, located), pa.array(is_new)))
            for cid, cache in self._tracks.items():
                cache.extend(mine.filter(pc.equal(mine["connection_id"], cid)))

    def _prune(self) -> None:
        """Drop landings older than RECENT_S before the latest one (data time, not the wall clock)."""
        horizon = self._latest_us - RECENT_S * 1_000_000
        if self._horizon_us is not None and horizon > self._horizon_us + 10_000_000:
            self._older_rows = self._recent.prune(horizon) or self._older_rows
            self._horizon_us = horizon

    def _recent_covers(self, since: dt.datetime) -> bool:
        return self._horizon_us is not None and (micros_of(since) >= self._horizon_us or not self._older_rows)

    def _load_track(self, connection_id: str, limit: int) -> _TrackCache:
        assert self._table is not None
        self._point_source(list(self._table.file_uris()))
        rows = self._db.sql(
            _TRACK_POINTS_SQL, params={"connection_id": connection_id, "track_limit": limit}
        ).to_arrow_table()
        order = np.lexsort((rows["event_id"].to_numpy(zero_copy_only=False), micros(rows["event_timestamp"])))
        rows = rows.take(pa.array(order))
        cols = {
            name: _floats(rows[name]) for name in ("latitude", "longitude", "speed_kmh", "heading_deg", "battery_pct")
        }
        return _TrackCache(
            limit,
            rows["event_id"].to_numpy(zero_copy_only=False).astype(object),
            micros(rows["event_timestamp"]),
            cols,
        )

    # --- full recompute ---------------------------------------------------------------------

    def _point_source(self, files: list[str]) -> None:
        if files:
            rel = self._db.read_parquet(files, hive_partitioning=True)
        else:
            rel = self._db.from_arrow(schema.arrow_schema().empty_table())
        rel.filter(sql.NOT_PROBE).create_view(_SOURCE, replace=True)

    def _full(self, name: str, params: dict[str, Any]) -> list[Any]:
        assert self._table is not None
        self._point_source(list(self._table.file_uris()))
        return self._db.execute(sql.duckdb(name, _SOURCE), params).fetchall()

    def _full_kpis(self, window: Window) -> Kpis:
        row = self._full("kpis", {"active_since": window.active_since, "minute_since": window.minute_since})[0]
        return kpis_from_row(row, window.minute_s)

    def memory_bytes(self) -> int:
        """What the incremental state holds (event hashes, clients, recent landings, track caches)."""
        with self._lock:
            tracks = sum(c.ts.nbytes * 7 for c in self._tracks.values())
            return self._seen.nbytes + self._clients.nbytes + self._recent.nbytes + tracks


def _connect() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    return db


def _what_is_wrong(path: Path, exc: BaseException) -> str:
    """The damaged file and the fix when the table's log or data is damaged, else delta-rs's first line."""
    from zerostream_desktop.core.delta_health import diagnose

    return diagnose(path) or str(exc).splitlines()[0]


def _feed_schema() -> pa.Schema:
    arrow = schema.arrow_schema()
    return pa.schema([arrow.field(name) for name in _FEED_COLUMNS])


def _datetime(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


def _ints(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(col, 0).to_numpy(zero_copy_only=False), np.int64)


def _floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _nan_none(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def _nan_int(v: float) -> int | None:
    return None if np.isnan(v) else int(v)
