"""One generated dataset for every analytics backend, and what the answers must be (a plain-Python oracle).

Twelve devices streaming every 5 s for ten minutes, some stopped early (idle, offline), resends
(the same event landing again seconds or minutes later), a device that lost its GPS fix and
battery reading on its latest event, one with a long track, and one whose id is SQL. Rows carry what
ZeroStream's sender writes: `ingested_at` (its send time), no `zerobus_offset` (the service fills no
column). Another producer's rows carry no `ingested_at` at all: a device of its own, and a copy of
one of our events.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import numpy as np
import pyarrow as pa

from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.model import (
    Client,
    Kpis,
    SeriesPoint,
    Track,
    TrackPoint,
    Window,
    client_status,
    keep_indices,
)

T0 = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(seconds=600)
EVIL = "'; DROP TABLE sensor_stream; --"
LONG = "dev-long"
OTHER = "ext-01"  # another producer's device: its rows have no send time
PROBE = "zerostream-probe-0123"
WINDOW = Window(NOW, active_window_s=15, offline_after_s=300)


def rows() -> list[dict]:
    rng = random.Random(7)
    out: list[dict] = []

    def land(event: dict, at: dt.datetime | None) -> None:
        out.append({**event, "ingested_at": at, "zerobus_offset": None})

    stops = {"dev-03": 100, "dev-04": 400}  # offline, idle at NOW
    devices = [f"dev-{i:02d}" for i in range(12)] + [EVIL]
    for d, device in enumerate(devices):
        lat, lon = 48.85 + d * 0.01, 2.35 + d * 0.01
        end = stops.get(device, 595)
        for k, t in enumerate(range(0, end, 5)):
            ts = T0 + dt.timedelta(seconds=t, milliseconds=rng.randrange(0, 900))
            lat += rng.uniform(-1e-4, 1e-4)
            lon += rng.uniform(-1e-4, 1e-4)
            event = {
                "event_id": f"{device}-{k:05d}", "connection_id": device, "device_name": f"Device {device}",
                "event_timestamp": ts, "event_date": ts.date(), "latitude": lat, "longitude": lon,
                "heading_deg": rng.uniform(0, 360), "speed_kmh": rng.uniform(0, 90), "battery_pct": 100 - k // 10,
                "signal_strength": -rng.randrange(60, 110), "payload_bytes": rng.randrange(180, 260),
            }  # fmt: skip
            if device == "dev-05" and t + 5 >= end:  # lost fix and battery reading on its latest event
                event.update(latitude=None, longitude=None, battery_pct=None)
            land(event, ts + dt.timedelta(milliseconds=rng.randrange(100, 2500)))
            if k % 37 == 5:  # a resend a few seconds later
                land(event, out[-1]["ingested_at"] + dt.timedelta(seconds=3))
            if device == "dev-01" and k < 3:  # spooled early, resent in the last minute
                land(event, T0 + dt.timedelta(seconds=580 + k))
            if device == "dev-02" and k in (4, 110):  # copied by another producer, without a send time
                land(event, None)
    for k in range(1500):  # a long track: one point every 0.4 s
        ts = T0 + dt.timedelta(milliseconds=400 * k)
        event = {
            "event_id": f"long-{k:05d}", "connection_id": LONG, "device_name": "Long track",
            "event_timestamp": ts, "event_date": ts.date(), "latitude": 40.0 + k * 1e-5, "longitude": -3.7 - k * 1e-5,
            "heading_deg": 315.0, "speed_kmh": 30.0, "battery_pct": 90, "signal_strength": -80, "payload_bytes": 200,
        }  # fmt: skip
        land(event, ts + dt.timedelta(milliseconds=300))
    for k in range(6):  # another producer's device
        ts = T0 + dt.timedelta(seconds=590 + k)
        event = {
            "event_id": f"ext-{k:05d}", "connection_id": OTHER, "device_name": None, "event_timestamp": ts,
            "event_date": ts.date(), "latitude": 51.5, "longitude": -0.1 + k * 1e-4, "payload_bytes": 90,
            "heading_deg": None, "speed_kmh": None, "battery_pct": None, "signal_strength": None,
        }  # fmt: skip
        land(event, None)
    for k in range(5):  # `zerostream verify`'s probe: in the table, in no answer
        ts = T0 + dt.timedelta(seconds=598, milliseconds=k)
        event = {
            "event_id": f"probe-{k:05d}", "connection_id": PROBE, "device_name": "ZeroStream verify probe",
            "event_timestamp": ts, "event_date": ts.date(), "latitude": 0.0, "longitude": 0.0, "payload_bytes": 80,
            "heading_deg": None, "speed_kmh": None, "battery_pct": None, "signal_strength": None,
        }  # fmt: skip
        land(event, ts + dt.timedelta(milliseconds=200))
    out.sort(key=_arrival)
    return out


def _arrival(r: dict) -> tuple[dt.datetime, str]:
    """The order rows reach the table in the tests (a row with no send time: at its event time)."""
    return (r["ingested_at"] or r["event_timestamp"], r["event_id"])


def _sent(r: dict) -> dt.datetime:
    """NULLS LAST: a row with no send time loses to any row that has one."""
    return r["ingested_at"] or dt.datetime.min.replace(tzinfo=dt.UTC)


def arrow(rows_: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows_, schema=schema.arrow_schema())


def latest_landings(rows_: list[dict], probes: bool = False) -> list[dict]:
    """One row per event: its latest landing (what a Lakebase synced table keeps), probes left out unless asked."""
    best: dict[str, dict] = {}
    for r in rows_:
        if r["connection_id"].startswith("zerostream-probe-") and not probes:
            continue
        b = best.get(r["event_id"])
        if b is None or _sent(r) > _sent(b):
            best[r["event_id"]] = r
    return sorted(best.values(), key=_arrival)


# --- the oracle: model's definitions, in plain Python --------------------------------------


def _us(d: dt.timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def expected_kpis(rows_: list[dict], w: Window) -> Kpis:
    ev = latest_landings(rows_)
    sent = [r for r in ev if r["ingested_at"] is not None]
    minute = [r for r in sent if r["ingested_at"] >= w.minute_since]
    lags = [_us(r["ingested_at"] - r["event_timestamp"]) for r in minute]
    return Kpis(
        total_events=len(ev),
        unique_clients=len({r["connection_id"] for r in ev}),
        bytes_ingested=sum(r["payload_bytes"] for r in ev),
        active_clients=len({r["connection_id"] for r in sent if r["ingested_at"] >= w.active_since}),
        events_per_s=len(minute) / w.minute_s,
        bytes_per_s=sum(r["payload_bytes"] for r in minute) / w.minute_s,
        send_delay_p50_s=round(float(np.percentile(lags, 50)) / 1e6, 6) if lags else None,
        send_delay_p95_s=round(float(np.percentile(lags, 95)) / 1e6, 6) if lags else None,
        last_data=max(r["ingested_at"] for r in sent),
    )


def expected_clients(rows_: list[dict], w: Window) -> list[Client]:
    by: dict[str, list[dict]] = defaultdict(list)
    for r in latest_landings(rows_):
        by[r["connection_id"]].append(r)
    out = []
    for cid in sorted(by):
        rs = by[cid]
        latest = max(rs, key=lambda r: (r["event_timestamp"], r["event_id"]))
        last_seen = max((r["ingested_at"] for r in rs if r["ingested_at"] is not None), default=None)
        out.append(
            Client(
                cid, latest["device_name"], len(rs), sum(r["payload_bytes"] for r in rs),
                min(r["event_timestamp"] for r in rs), last_seen, latest["latitude"], latest["longitude"],
                latest["battery_pct"], latest["signal_strength"], latest["speed_kmh"],
                client_status(last_seen, w.now, w.active_window_s, w.offline_after_s),
            )
        )  # fmt: skip
    return out


def expected_track(rows_: list[dict], cid: str, limit: int, max_points: int) -> Track:
    pts = [
        r
        for r in latest_landings(rows_)
        if r["connection_id"] == cid and r["latitude"] is not None and r["longitude"] is not None
    ]
    pts.sort(key=lambda r: (r["event_timestamp"], r["event_id"]))
    pts = pts[-limit:]
    kept = [pts[i] for i in keep_indices(len(pts), max_points)]
    return Track(
        cid,
        tuple(
            TrackPoint(
                r["event_timestamp"], r["latitude"], r["longitude"], r["speed_kmh"], r["heading_deg"], r["battery_pct"]
            )
            for r in kept
        ),
        len(pts),
    )


def expected_series(rows_: list[dict], w: Window, seconds: int) -> list[SeriesPoint]:
    end = w.now.replace(microsecond=0)
    since = end - dt.timedelta(seconds=seconds - 1)
    counts: dict[dt.datetime, list[int]] = defaultdict(lambda: [0, 0])
    for r in latest_landings(rows_):
        if r["ingested_at"] is not None and r["ingested_at"] >= since:
            c = counts[r["ingested_at"].replace(microsecond=0)]
            c[0] += 1
            c[1] += r["payload_bytes"]
    return [
        SeriesPoint(end - dt.timedelta(seconds=i), *counts.get(end - dt.timedelta(seconds=i), [0, 0]))
        for i in range(seconds - 1, -1, -1)
    ]


def expected_events(rows_: list[dict], client: str | None, limit: int, offset: int, one_per_event: bool) -> list[dict]:
    """The raw stream's page: rows as landed (one per event where the store keeps one), newest event first."""
    pool = latest_landings(rows_) if one_per_event else [r for r in rows_ if r["connection_id"] != PROBE]
    pool = [r for r in pool if client is None or r["connection_id"] == client]
    pool.sort(key=lambda r: (r["event_timestamp"], r["event_id"], _sent(r)), reverse=True)
    keys = ("event_id", "connection_id", "device_name", "latitude", "longitude", "speed_kmh", "heading_deg",
            "battery_pct", "signal_strength", "payload_bytes", "zerobus_offset")  # fmt: skip
    return [
        {**{k: r.get(k) for k in keys}, "event_timestamp": round(r["event_timestamp"].timestamp() * 1000, 3),
         "ingested_at": None if r["ingested_at"] is None else round(r["ingested_at"].timestamp() * 1000, 3)}
        for r in pool[offset : offset + limit]
    ]  # fmt: skip
