"""What every analytics backend answers, and the one definition of each figure.

Delivery is at-least-once, so an event can land more than once. Every figure counts each event
once, at its latest landing (the row a Lakebase synced table keeps with `ingested_at` as its
timeseries key): counts, bytes, rates and send delay are over those rows. Windows ("the last
minute", "active") are by `ingested_at`, which the ingest client stamps each time it sends a record
(the ZeroBus service fills no column). A row another producer wrote without it counts in the totals
and in no window; a device whose rows all lack it has no `last_seen` and shows as offline.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from zerostream_desktop.core.errors import first_line

if TYPE_CHECKING:
    from zerostream_desktop.core.analytics.map_payload import DevicesJson

MINUTE_S = 60
DEFAULT_OFFLINE_AFTER_S = 300
DEFAULT_TRACK_LIMIT = 100_000
DEFAULT_TRACK_POINTS = 5_000


class AnalyticsError(RuntimeError):
    """A read that failed in a way the user can act on; the message says what to do."""


class NotReadyError(AnalyticsError):
    """The store exists but cannot answer yet (a SQL warehouse starting); try again later."""


@dataclass(frozen=True)
class Window:
    """The moment a dashboard refresh describes and the windows it uses."""

    now: dt.datetime
    active_window_s: int = 15
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S
    minute_s: int = MINUTE_S

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("Window.now must be timezone-aware")
        if not 0 < self.active_window_s <= self.offline_after_s:
            raise ValueError("need 0 < active_window_s <= offline_after_s")

    @property
    def active_since(self) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.active_window_s)

    @property
    def minute_since(self) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.minute_s)


@dataclass(frozen=True)
class Kpis:
    total_events: int = 0
    unique_clients: int = 0
    bytes_ingested: int = 0
    active_clients: int = 0
    events_per_s: float = 0.0
    bytes_per_s: float = 0.0
    send_delay_p50_s: float | None = None
    send_delay_p95_s: float | None = None
    last_data: dt.datetime | None = None


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    OFFLINE = "offline"


def client_status(
    last_seen: dt.datetime | None, now: dt.datetime, active_window_s: int, offline_after_s: int
) -> ClientStatus:
    """Active within ACTIVE_WINDOW_SECONDS of now, offline after `offline_after_s`, idle in between."""
    if last_seen is None:
        return ClientStatus.OFFLINE
    age = (now - last_seen).total_seconds()
    if age <= active_window_s:
        return ClientStatus.ACTIVE
    return ClientStatus.IDLE if age <= offline_after_s else ClientStatus.OFFLINE


@dataclass(slots=True)
class Client:
    """One device: totals, when it was first and last seen, and the values of its latest event.

    `first_seen` is its earliest event's device time, `last_seen` its latest send time (None when no row
    of it carries one). Treat it as
    a value (not frozen only because a frozen data class is 4x slower to build, and a refresh builds
    one per device).
    """

    connection_id: str
    device_name: str | None
    events: int
    bytes: int
    first_seen: dt.datetime
    last_seen: dt.datetime | None
    latitude: float | None
    longitude: float | None
    battery_pct: int | None
    signal_strength: int | None
    speed_kmh: float | None
    status: ClientStatus


CLIENT_FIELDS = tuple(f.name for f in fields(Client))


class ClientColumns(Sequence[Client]):
    """Clients as one list per field (`CLIENT_FIELDS`), as they cross from another process.

    A `Client` is made only for the rows asked for: a table shows a few dozen of 10,000, and making
    all of them was 15 ms of Python a second on the app's worker thread, which the UI thread waited for.
    """

    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns

    @classmethod
    def of(cls, clients: Sequence[Client]) -> ClientColumns:
        return cls({name: [getattr(c, name) for c in clients] for name in CLIENT_FIELDS})

    def take(self, rows: Sequence[int]) -> ClientColumns:
        return ClientColumns({name: [col[i] for i in rows] for name, col in self.columns.items()})

    def __len__(self) -> int:
        return len(self.columns["connection_id"])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return ClientColumns({name: col[i] for name, col in self.columns.items()})
        return Client(*(self.columns[name][i] for name in CLIENT_FIELDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ClientColumns({len(self)} clients)"


@dataclass(frozen=True)
class TrackPoint:
    event_timestamp: dt.datetime
    latitude: float
    longitude: float
    speed_kmh: float | None
    heading_deg: float | None
    battery_pct: int | None


@dataclass(frozen=True)
class Track:
    """A device's latest points in time order (the last one is where it is now), downsampled.

    `total_points` is how many points the latest-`limit` window held before downsampling.
    """

    connection_id: str
    points: tuple[TrackPoint, ...] = ()
    total_points: int = 0

    @property
    def downsampled(self) -> bool:
        return len(self.points) < self.total_points


@dataclass(frozen=True)
class SeriesPoint:
    second: dt.datetime
    events: int
    bytes: int


@dataclass(frozen=True)
class Refresh:
    """One dashboard refresh: what the tiles, the table and (if asked) the map show."""

    window: Window
    kpis: Kpis
    clients: Sequence[Client] = field(default_factory=list)  # a list, or ClientColumns from another process
    track: Track | None = None
    series: list[SeriesPoint] = field(default_factory=list)
    devices: DevicesJson | None = None  # the map's device JSON, when made where the refresh was (another process)


class Analytics(Protocol):
    """One interface over the local Delta table, a Databricks SQL warehouse and Lakebase.

    Calls block: run them off the UI thread. Errors are `AnalyticsError` with a message a user can
    act on (`NotReadyError` when the store needs a moment).
    """

    description: str

    def kpis(self, window: Window) -> Kpis: ...

    def clients(self, window: Window) -> list[Client]: ...

    def track(
        self, connection_id: str, limit: int = DEFAULT_TRACK_LIMIT, max_points: int = DEFAULT_TRACK_POINTS
    ) -> Track: ...

    def series(self, window: Window, seconds: int = MINUTE_S) -> list[SeriesPoint]: ...

    def refresh(self, window: Window, track_of: str | None = None, series_s: int = MINUTE_S) -> Refresh:
        """Everything one dashboard beat needs, in one go where the backend can (one table sync)."""
        ...

    def events(self, connection_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """The raw stream: one page of rows as they landed (resends included), newest event first."""
        ...

    def data_version(self) -> int | None:
        """A number that changes when the store has new data, cheap to ask; None when the store cannot tell."""
        ...

    def quality(self, thresholds: QualityThresholds | None = None) -> Quality:
        """What a messy fleet sent: late, out of order, jumps, stale fixes, skewed clocks, duplicates."""
        ...

    def quality_devices(self, thresholds: QualityThresholds | None = None) -> list[DeviceQuality]:
        """The devices with any of those, the worst first."""
        ...

    def quality_points(self, connection_id: str, thresholds: QualityThresholds | None = None) -> list[QualityPoint]:
        """One device's events that look wrong (its track's marks), oldest first."""
        ...

    def close(self) -> None: ...


def refresh(backend: Analytics, window: Window, track_of: str | None = None, series_s: int = MINUTE_S) -> Refresh:
    """Everything one dashboard beat needs, from one backend."""
    return backend.refresh(window, track_of, series_s)


class SqlBackend:
    """The Analytics interface for backends that run the query suite remotely (warehouse, Lakebase).

    Subclasses implement `_query(name, params) -> rows`, where name is one of `sql.QUERIES`.
    """

    def _query(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def kpis(self, window: Window) -> Kpis:
        rows = self._query("kpis", {"active_since": window.active_since, "minute_since": window.minute_since})
        return kpis_from_row(rows[0], window.minute_s)

    def clients(self, window: Window) -> list[Client]:
        return clients_from_rows(self._query("clients", {}), window)

    def track(
        self, connection_id: str, limit: int = DEFAULT_TRACK_LIMIT, max_points: int = DEFAULT_TRACK_POINTS
    ) -> Track:
        check_track_args(limit, max_points)
        params = {"connection_id": connection_id, "track_limit": limit, "max_points": max_points}
        return track_from_rows(connection_id, self._query("track", params))

    def series(self, window: Window, seconds: int = MINUTE_S) -> list[SeriesPoint]:
        rows = self._query("series", {"since": series_since(window, seconds)})
        return series_from_rows(rows, window, seconds)

    def events(self, connection_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        check_page(limit, offset)
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if connection_id is None:
            return events_from_rows(self._query("events", params))
        return events_from_rows(self._query("client_events", {**params, "connection_id": connection_id}))

    def data_version(self) -> int | None:
        return None  # a warehouse or Lakebase cannot say cheaply; the dashboard refreshes on its cadence

    def quality(self, thresholds: QualityThresholds | None = None) -> Quality:
        return quality_from_row(self._query("quality", (thresholds or QualityThresholds()).params())[0])

    def quality_devices(self, thresholds: QualityThresholds | None = None) -> list[DeviceQuality]:
        rows = self._query("quality_devices", (thresholds or QualityThresholds()).params())
        return device_quality_from_rows(rows)

    def quality_points(self, connection_id: str, thresholds: QualityThresholds | None = None) -> list[QualityPoint]:
        params = {**(thresholds or QualityThresholds()).params(skew=False), "connection_id": connection_id}
        return quality_points_from_rows(self._query("quality_points", params))

    def refresh(self, window: Window, track_of: str | None = None, series_s: int = MINUTE_S) -> Refresh:
        return Refresh(
            window=window,
            kpis=self.kpis(window),
            clients=self.clients(window),
            track=self.track(track_of) if track_of else None,
            series=self.series(window, series_s) if series_s else [],
        )


MAX_EVENTS_PAGE = 1000


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_EVENTS_PAGE or offset < 0:
        raise ValueError(f"a page of events needs 1 <= limit <= {MAX_EVENTS_PAGE} and offset >= 0")


def events_from_rows(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of `sql.EVENT_COLUMNS` as JSON-ready dicts (timestamps as epoch milliseconds)."""
    from zerostream_desktop.core.analytics.sql import EVENT_COLUMNS

    out = []
    for row in rows:
        event = dict(zip(EVENT_COLUMNS, row, strict=True))
        for key in ("event_timestamp", "ingested_at"):
            t = utc(event[key])
            event[key] = None if t is None else round(t.timestamp() * 1000, 3)
        for key in ("latitude", "longitude", "speed_kmh", "heading_deg"):
            v = event[key]
            event[key] = None if v is None or not np.isfinite(v) else float(v)
        for key in ("battery_pct", "signal_strength", "payload_bytes", "zerobus_offset"):
            event[key] = _opt_int(event[key])
        out.append(event)
    return out


def check_track_args(limit: int, max_points: int) -> None:
    if max_points < 2 or limit < 1:
        raise ValueError("a track needs limit >= 1 and max_points >= 2")


@contextmanager
def workspace_errors(description: str, not_found: str) -> Iterator[None]:
    """Workspace API failures as AnalyticsError: credentials, a missing resource (`not_found`), unreachable."""
    from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated
    from databricks.sdk.errors.base import DatabricksError

    try:
        yield
    except (Unauthenticated, PermissionDenied) as exc:
        raise AnalyticsError(f"not allowed to use {description}: {exc}. Check the credentials in Settings.") from exc
    except NotFound as exc:
        raise AnalyticsError(not_found) from exc
    except (DatabricksError, OSError, ValueError) as exc:
        raise AnalyticsError(f"cannot reach the workspace for {description}: {first_line(exc)}") from exc


# --- shared by every backend: turning rows into results ------------------------------------


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Engines return naive UTC or aware timestamps; callers always get aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def kpis_from_row(row: Sequence[Any], minute_s: int) -> Kpis:
    """Row order: events, clients, bytes, active, minute events, minute bytes, p50 us, p95 us, last data."""
    p50, p95 = row[6], row[7]
    return Kpis(
        total_events=int(row[0] or 0),
        unique_clients=int(row[1] or 0),
        bytes_ingested=int(row[2] or 0),
        active_clients=int(row[3] or 0),
        events_per_s=float(row[4] or 0) / minute_s,
        bytes_per_s=float(row[5] or 0) / minute_s,
        send_delay_p50_s=None if p50 is None else round(float(p50) / 1e6, 6),
        send_delay_p95_s=None if p95 is None else round(float(p95) / 1e6, 6),
        last_data=utc(row[8]),
    )


def clients_from_rows(rows: Sequence[Sequence[Any]], window: Window) -> list[Client]:
    """Row order: id, name, events, bytes, first seen, last seen, lat, lon, battery, signal, speed."""
    out = []
    for r in rows:
        first, last = utc(r[4]), utc(r[5])
        assert first is not None
        out.append(
            Client(
                connection_id=r[0], device_name=r[1], events=int(r[2]), bytes=int(r[3] or 0),
                first_seen=first, last_seen=last,
                latitude=_opt_float(r[6]), longitude=_opt_float(r[7]),
                battery_pct=_opt_int(r[8]), signal_strength=_opt_int(r[9]), speed_kmh=_opt_float(r[10]),
                status=client_status(last, window.now, window.active_window_s, window.offline_after_s),
            )
        )  # fmt: skip
    out.sort(key=lambda c: c.connection_id)
    return out


def track_from_rows(connection_id: str, rows: Sequence[Sequence[Any]]) -> Track:
    """Row order: time, lat, lon, speed, heading, battery, total points (already downsampled, any order)."""
    points = sorted(
        (
            TrackPoint(utc(r[0]), float(r[1]), float(r[2]), _opt_float(r[3]), _opt_float(r[4]), _opt_int(r[5]))  # type: ignore[arg-type]
            for r in rows
        ),
        key=lambda p: p.event_timestamp,
    )
    return Track(connection_id, tuple(points), int(rows[0][6]) if rows else 0)


def series_from_rows(rows: Sequence[Sequence[Any]], window: Window, seconds: int) -> list[SeriesPoint]:
    """Per-second rows (second, events, bytes) -> a dense series ending at `window.now`'s second."""
    by_second = {utc(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}
    end = window.now.replace(microsecond=0)
    out = []
    for i in range(seconds - 1, -1, -1):
        s = end - dt.timedelta(seconds=i)
        events, size = by_second.get(s, (0, 0))
        out.append(SeriesPoint(s, events, size))
    return out


def keep_indices(n: int, max_points: int) -> np.ndarray:
    """Which of `n` time-ordered points a downsampled track keeps: first, last, evenly between.

    The same rule the SQL backends apply: point i is kept where floor(i * (m - 1) / (n - 1)) steps up.
    """
    if max_points < 2:
        raise ValueError("a downsampled track keeps at least its first and last points (max_points >= 2)")
    i = np.arange(n, dtype=np.int64)
    if n <= max_points:
        return i
    bucket = np.floor(i.astype(np.float64) * (max_points - 1) / (n - 1))
    prev = np.floor((i - 1).astype(np.float64) * (max_points - 1) / (n - 1))
    return i[bucket > prev]


def series_since(window: Window, seconds: int) -> dt.datetime:
    """The first second of a `seconds`-long per-second series ending at the window's second."""
    return window.now.replace(microsecond=0) - dt.timedelta(seconds=seconds - 1)


def _opt_float(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


def _opt_int(v: object) -> int | None:
    return None if v is None else int(v)  # type: ignore[call-overload]


# --- data quality --------------------------------------------------------------------------------

DELAY_BUCKETS_S = (1, 5, 30, 120, 600)  # the edges: under 1 s, 1-5 s, ..., 10 min and more


@dataclass(frozen=True)
class QualityThresholds:
    late_s: float = 10.0  # later than the device's usual delay by this much: late
    jump_kmh: float = 400.0  # implied speed into and out of a fix above this: a position jump
    stale_kmh: float = 3.0  # the same position again while the device reports this speed or more: stale
    skew_s: float = 15.0  # a device whose usual delay differs from the fleet's by this much: a skewed clock

    def params(self, skew: bool = True) -> dict[str, float]:
        """As query parameters (the per-event queries do not take the skew's)."""
        out = {"late_s": self.late_s, "jump_kmh": self.jump_kmh, "stale_kmh": self.stale_kmh, "skew_s": self.skew_s}
        if not skew:
            del out["skew_s"]
        return out


@dataclass(frozen=True)
class Quality:
    events: int = 0
    late: int = 0
    out_of_order: int = 0
    jumps: int = 0
    jump_devices: int = 0
    stale: int = 0
    skewed_devices: int = 0
    delay_buckets: tuple[int, ...] = (0, 0, 0, 0, 0, 0)  # beyond each device's usual delay, DELAY_BUCKETS_S
    duplicates: int | None = 0  # None: not measurable (a Lakebase synced table keeps one row per event)


@dataclass(frozen=True)
class DeviceQuality:
    connection_id: str
    events: int
    late: int
    out_of_order: int
    jumps: int
    stale: int
    skew_s: float | None  # its usual delay minus the fleet's: a clock that is off


@dataclass(frozen=True)
class QualityPoint:
    """One event of a device that looks wrong, and why (any of the flags)."""

    event_id: str
    event_timestamp: dt.datetime
    latitude: float | None
    longitude: float | None
    late: bool
    out_of_order: bool
    jump: bool
    stale: bool
    copies: int | None  # rows the table holds of it; None: not measurable (Lakebase)


def quality_points_from_rows(rows: Sequence[Sequence[Any]]) -> list[QualityPoint]:
    return [
        QualityPoint(
            str(r[0]),
            r[1],
            r[2],
            r[3],
            bool(r[4]),
            bool(r[5]),
            bool(r[6]),
            bool(r[7]),
            None if r[8] is None else int(r[8]),
        )  # fmt: skip
        for r in rows
    ]


def quality_from_row(row: Sequence[Any]) -> Quality:
    n = [int(v or 0) for v in row[:13]]
    return Quality(n[0], n[1], n[2], n[3], n[4], n[5], n[6], tuple(n[7:13]), None if row[13] is None else int(row[13]))


def device_quality_from_rows(rows: Sequence[Sequence[Any]]) -> list[DeviceQuality]:
    return [
        DeviceQuality(
            str(r[0]),
            int(r[1]),
            int(r[2] or 0),
            int(r[3] or 0),
            int(r[4] or 0),
            int(r[5] or 0),
            None if r[6] is None else round(float(r[6]), 6),
        )  # fmt: skip
        for r in rows
    ]
