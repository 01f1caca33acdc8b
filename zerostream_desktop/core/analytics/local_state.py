"""The local backend's incremental state, in numpy: what one refresh reads instead of the table.

- `SeenEvents`: every event_id seen, as sorted runs of 64-bit hashes (8 bytes an event).
- `ClientTable`: one row per client, its totals and its latest event's values, folded batch by batch.
- `RecentLandings`: the last few minutes of landings (one per event, its latest), for the minute
  figures and the per-second series.

All timestamps are int64 epoch microseconds, as Delta stores them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.model import Client, ClientStatus, Kpis, SeriesPoint, Window

I64_MIN, I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
LATEST_FIELDS = ("device_name", "latitude", "longitude", "battery_pct", "signal_strength", "speed_kmh")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False))


def sent_micros(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`ingested_at` as int64 microseconds, I64_MIN where a row has none (another producer's): it
    then falls in no window and loses every max, as NULL does in SQL."""
    ints = pc.fill_null(pc.cast(pc.cast(col, pa.timestamp("us", tz="UTC")), pa.int64()), I64_MIN)
    return np.asarray(ints.to_numpy(zero_copy_only=False), np.int64)


def micros_of(t: dt.datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def datetimes(us: np.ndarray) -> list[dt.datetime]:
    """Aware UTC datetimes (pyarrow's to_pylist for zoned timestamps is ~4x slower)."""
    return [_EPOCH + dt.timedelta(microseconds=x) for x in us.tolist()]


class _DatetimeCache:
    """Datetime objects for an int64 microsecond column, rebuilt only where values changed."""

    def __init__(self) -> None:
        self.us = np.zeros(0, np.int64)
        self.values: list[dt.datetime] = []

    def get(self, us: np.ndarray) -> list[dt.datetime]:
        if len(us) != len(self.us):
            self.us, self.values = us.copy(), datetimes(us)
            return self.values
        changed = np.flatnonzero(us != self.us)
        for i, v in zip(changed.tolist(), datetimes(us[changed]), strict=True):
            self.values[i] = v
        self.us[changed] = us[changed]
        return self.values


class SeenEvents:
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


class ClientTable:
    """One row per client: event and byte totals, first event time, last landing, latest event's values."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.latest_id: list[str] = []
        self.values: dict[str, list[Any]] = {f: [] for f in LATEST_FIELDS}
        self.events = np.zeros(0, np.int64)
        self.bytes = np.zeros(0, np.int64)
        self.first_us = np.zeros(0, np.int64)
        self.last_us = np.zeros(0, np.int64)
        self.latest_ts = np.zeros(0, np.int64)
        self._order: np.ndarray | None = None
        self._first_dt = _DatetimeCache()
        self._last_dt = _DatetimeCache()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        arrays = (self.events, self.bytes, self.first_us, self.last_us, self.latest_ts)
        return sum(a.nbytes for a in arrays) + len(self.ids) * 8 * (3 + len(LATEST_FIELDS))

    def _indices(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        known = pc.index_in(column, value_set=pa.array(self.ids, pa.string()))
        if known.null_count == 0:
            return np.asarray(known.to_numpy(zero_copy_only=False), np.int64)
        ids = column.to_pylist()
        out = np.empty(len(ids), np.int64)
        index = self.index
        added = 0
        for j, c in enumerate(ids):
            i = index.get(c)
            if i is None:
                i = index[c] = len(self.ids)
                self.ids.append(c)
                self.latest_id.append("")
                for lst in self.values.values():
                    lst.append(None)
                added += 1
            out[j] = i
        if added:
            self._order = None
            self.events = np.concatenate([self.events, np.zeros(added, np.int64)])
            self.bytes = np.concatenate([self.bytes, np.zeros(added, np.int64)])
            self.first_us = np.concatenate([self.first_us, np.full(added, I64_MAX, np.int64)])
            self.last_us = np.concatenate([self.last_us, np.full(added, I64_MIN, np.int64)])
            self.latest_ts = np.concatenate([self.latest_ts, np.full(added, I64_MIN, np.int64)])
        return out

    def fold(self, batch: pa.Table, is_new: np.ndarray) -> None:
        """Add a batch of landings; `is_new` marks each event's first landing (counted once)."""
        idx = self._indices(batch["connection_id"])
        n = len(self.ids)
        ts = micros(batch["event_timestamp"])
        size = np.asarray(pc.fill_null(batch["payload_bytes"], 0).to_numpy(zero_copy_only=False), np.int64)
        self.events += np.bincount(idx[is_new], minlength=n)
        self.bytes += np.bincount(idx[is_new], weights=size[is_new], minlength=n).astype(np.int64)
        np.minimum.at(self.first_us, idx, ts)
        np.maximum.at(self.last_us, idx, sent_micros(batch["ingested_at"]))
        keys = pa.table({"i": idx, "t": ts, "e": batch["event_id"]})
        order = pc.sort_indices(keys, sort_keys=[("i", "ascending"), ("t", "ascending"), ("e", "ascending")])
        order = np.asarray(order.to_numpy(), np.int64)
        si = idx[order]
        last = order[np.r_[si[1:] != si[:-1], True]]  # each client's latest row in the batch
        li, lt = idx[last], ts[last]
        newer = lt > self.latest_ts[li]
        ties = np.flatnonzero(lt == self.latest_ts[li])
        if len(ties):
            eids = batch["event_id"].take(pa.array(last[ties])).to_pylist()
            for k, t in enumerate(ties):
                newer[t] = eids[k] > self.latest_id[li[t]]
        rows, targets = last[newer], li[newer]
        if not len(rows):
            return
        self.latest_ts[targets] = lt[newer]
        taken = batch.select(["event_id", *LATEST_FIELDS]).take(pa.array(rows))
        at = targets.tolist()
        for name in ("event_id", *LATEST_FIELDS):
            lst = self.latest_id if name == "event_id" else self.values[name]
            for i, v in zip(at, taken[name].to_pylist(), strict=True):
                lst[i] = v

    def load(self, state: pa.Table) -> None:
        """Start from a client-state table (columns as `fold` keeps them, timestamps in microseconds)."""
        self.__init__()  # type: ignore[misc]
        self._indices(state["connection_id"])
        for name in ("events", "bytes", "first_us", "last_us", "latest_ts"):
            column = pc.fill_null(state[name], I64_MIN)  # last_us: a client none of whose rows has a send time
            getattr(self, name)[:] = np.asarray(column.to_numpy(zero_copy_only=False), np.int64)
        self.latest_id = state["latest_id"].to_pylist()
        for name in LATEST_FIELDS:
            self.values[name] = state[name].to_pylist()

    def state(self) -> pa.Table:
        """The client-state table `load` starts from (saved with the dashboard's snapshot)."""
        types = schema.arrow_schema()
        columns: dict[str, Any] = {
            "connection_id": pa.array(self.ids, pa.string()), "events": self.events, "bytes": self.bytes,
            "first_us": self.first_us, "last_us": self.last_us, "latest_ts": self.latest_ts,
            "latest_id": pa.array(self.latest_id, pa.string()),
        }  # fmt: skip
        for name in LATEST_FIELDS:
            columns[name] = pa.array(self.values[name], type=types.field(name).type)
        return pa.table(columns)

    def totals(self, window: Window) -> tuple[int, int, int, int, dt.datetime | None]:
        """Events, clients, bytes, active clients, last landing."""
        if not self.ids:
            return 0, 0, 0, 0, None
        active = int(np.count_nonzero(self.last_us >= micros_of(window.active_since)))
        top = int(np.max(self.last_us))
        last = None if top == I64_MIN else datetimes(np.array([top]))[0]
        return int(self.events.sum()), len(self.ids), int(self.bytes.sum()), active, last

    def clients(self, window: Window) -> list[Client]:
        if self._order is None:
            self._order = np.asarray(sorted(range(len(self.ids)), key=self.ids.__getitem__), np.int64)
        o = self._order
        last_us = self.last_us[o]
        unsent = last_us == I64_MIN
        age = micros_of(window.now) - np.where(unsent, 0, last_us)
        status = np.where(
            age <= window.active_window_s * 1_000_000, 0, np.where(age <= window.offline_after_s * 1_000_000, 1, 2)
        )
        status[unsent] = 2
        kinds = (ClientStatus.ACTIVE, ClientStatus.IDLE, ClientStatus.OFFLINE)
        ol = o.tolist()
        cols = [[self.values[f][i] for i in ol] for f in LATEST_FIELDS]
        ids = [self.ids[i] for i in ol]
        first_dt = self._first_dt.get(self.first_us[o])
        last_dt: list[dt.datetime | None] = list(self._last_dt.get(np.where(unsent, 0, last_us)))
        for i in np.flatnonzero(unsent).tolist():
            last_dt[i] = None
        return [
            Client(c, name, e, b, f, last, lat, lon, bat, sig, spd, kinds[s])
            for c, name, e, b, f, last, lat, lon, bat, sig, spd, s in zip(
                ids, cols[0], self.events[o].tolist(), self.bytes[o].tolist(), first_dt,
                last_dt, cols[1], cols[2], cols[3], cols[4], cols[5], status.tolist(), strict=True,
            )
        ]  # fmt: skip


class RecentLandings:
    """The latest landing of each event that landed after the horizon, in chunks ordered by send time (ingested_at)."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, np.ndarray]] = []

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for c in self.chunks for a in c.values())

    def add(self, chunk: dict[str, np.ndarray], resent: bool) -> None:
        """`chunk`: arrays ing, lag, size, hash. `resent`: some events may have landed before."""
        if not len(chunk["ing"]):
            return
        order = np.argsort(chunk["ing"], kind="stable")
        self.chunks.append({k: v[order] for k, v in chunk.items()})
        if resent:
            self._keep_latest_landings()

    def _keep_latest_landings(self) -> None:
        every = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}
        order = np.lexsort((every["ing"], every["hash"]))
        h = every["hash"][order]
        keep = order[np.r_[h[1:] != h[:-1], True]]
        keep = keep[np.argsort(every["ing"][keep], kind="stable")]
        self.chunks = [{k: v[keep] for k, v in every.items()}]

    def merged(self) -> dict[str, np.ndarray]:
        """All chunks as one, in send-time order (what a snapshot keeps)."""
        if not self.chunks:
            return {k: np.zeros(0, np.uint64 if k == "hash" else np.int64) for k in ("hash", "ing", "lag", "size")}
        every = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}
        order = np.argsort(every["ing"], kind="stable")
        return {k: v[order] for k, v in every.items()}

    def prune(self, horizon_us: int) -> bool:
        """Drop landings before the horizon; True when any were dropped."""
        dropped = False
        while self.chunks and self.chunks[0]["ing"][-1] < horizon_us:
            self.chunks.pop(0)
            dropped = True
        if self.chunks and self.chunks[0]["ing"][0] < horizon_us:
            cut = int(np.searchsorted(self.chunks[0]["ing"], horizon_us))
            self.chunks[0] = {k: v[cut:] for k, v in self.chunks[0].items()}
            dropped = True
        return dropped

    def since(self, since_us: int) -> dict[str, np.ndarray]:
        parts = [c for c in self.chunks if c["ing"][-1] >= since_us]
        if not parts:
            return {"ing": np.zeros(0, np.int64), "lag": np.zeros(0, np.int64), "size": np.zeros(0, np.int64)}
        every = {k: np.concatenate([c[k] for c in parts]) for k in ("ing", "lag", "size")}
        mask = every["ing"] >= since_us
        return {k: v[mask] for k, v in every.items()}

    def minute(self, window: Window) -> tuple[int, int, float | None, float | None]:
        """Events, bytes, send delay p50 and p95 (microseconds) over the window's last minute."""
        rows = self.since(micros_of(window.minute_since))
        if not len(rows["ing"]):
            return 0, 0, None, None
        p50, p95 = np.percentile(rows["lag"].astype(np.float64), [50, 95])
        return len(rows["ing"]), int(rows["size"].sum()), float(p50), float(p95)

    def series(self, since: dt.datetime, seconds: int) -> list[SeriesPoint]:
        since_us = micros_of(since)
        rows = self.since(since_us)
        slot = (rows["ing"] - since_us) // 1_000_000
        inside = slot < seconds
        events = np.bincount(slot[inside], minlength=seconds)
        size = np.bincount(slot[inside], weights=rows["size"][inside], minlength=seconds)
        return [SeriesPoint(since + dt.timedelta(seconds=k), int(events[k]), int(size[k])) for k in range(seconds)]


def kpis(clients: ClientTable, recent: RecentLandings, window: Window) -> Kpis:
    events, n, size, active, last = clients.totals(window)
    m_events, m_bytes, p50, p95 = recent.minute(window)
    return Kpis(
        total_events=events, unique_clients=n, bytes_ingested=size, active_clients=active,
        events_per_s=m_events / window.minute_s, bytes_per_s=m_bytes / window.minute_s,
        send_delay_p50_s=None if p50 is None else round(p50 / 1e6, 6),
        send_delay_p95_s=None if p95 is None else round(p95 / 1e6, 6),
        last_data=last,
    )  # fmt: skip
