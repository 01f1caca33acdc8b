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
from functools import cache

import numpy as np
import pyarrow as pa

from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.model import (
    DELAY_BUCKETS_S,
    Client,
    DeviceQuality,
    Kpis,
    Quality,
    QualityThresholds,
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
    for row in faulty_fleet()[0]:
        land({k: v for k, v in row.items() if k != "ingested_at"}, row["ingested_at"])
    out.sort(key=_arrival)
    return out


FAULTS = "chaos"  # every kind of device fault, at the preset's rates
FAULTY_DEVICES = 16


@cache
def faulty_fleet() -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """A fleet with every kind of device fault for the ten minutes, as its rows land (sent when the fleet
    emits them, 50 to 800 ms on the way), and the fault log: what the data-quality queries must find."""
    from zerostream_desktop.core.fleet import Fleet

    rng = random.Random(17)
    fleet = Fleet(2026, FAULTY_DEVICES, interval_ms=2000)
    fleet.set_faults(FAULTS)
    start = T0.timestamp()
    fleet.start(start)
    landed: list[dict] = []
    steps = int(595 / 0.5)
    for k in range(1, steps + 2):
        now = start + k * 0.5
        batch = fleet.advance(now) if k <= steps else fleet.faults.flush()  # the end: offline devices upload
        if batch is None:
            continue
        for row in batch.to_rows():
            ts = dt.datetime.fromtimestamp(row["event_timestamp"] / 1e6, tz=dt.UTC)
            sent = dt.datetime.fromtimestamp(now, tz=dt.UTC) + dt.timedelta(milliseconds=rng.randrange(50, 800))
            landed.append({**row, "event_timestamp": ts, "event_date": ts.date(), "payload_bytes": 200,
                           "ingested_at": sent})  # fmt: skip
    return tuple(landed), tuple(fleet.faults.log.entries)


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


def _haversine_m(lat1, lon1, lat2, lon2) -> float | None:
    import math

    if None in (lat1, lon1, lat2, lon2):
        return None
    r = math.radians
    a = math.sin(r(lat2 - lat1) / 2) ** 2 + math.cos(r(lat1)) * math.cos(r(lat2)) * math.sin(r(lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def quality_flags(rows_: list[dict], t: QualityThresholds) -> tuple[list[dict], dict[str, float], float | None]:
    """Each event once (its latest landing) with its flags, each device's usual delay and the fleet's."""
    by: dict[str, list[dict]] = defaultdict(list)
    for r in latest_landings(rows_):
        by[r["connection_id"]].append(r)
    flagged: list[dict] = []
    usual: dict[str, float] = {}
    for cid, rs in by.items():
        lates = [_us(r["ingested_at"] - r["event_timestamp"]) / 1e6 for r in rs if r["ingested_at"] is not None]
        if lates:
            usual[cid] = float(np.percentile(lates, 50))
    fleet_med = float(np.percentile(list(usual.values()), 50)) if usual else None
    for cid, rs in by.items():
        by_time = sorted(rs, key=lambda r: (r["event_timestamp"], r["event_id"]))
        by_sent = sorted(rs, key=lambda r: (r["ingested_at"] is None, r["ingested_at"] or T0, r["event_timestamp"],
                                            r["event_id"]))  # fmt: skip
        sent_before: dict[str, dt.datetime | None] = {}
        top = None
        for r in by_sent:
            sent_before[r["event_id"]] = top
            top = r["event_timestamp"] if top is None else max(top, r["event_timestamp"])
        for i, r in enumerate(by_time):
            prev = by_time[i - 1] if i else None
            nxt = by_time[i + 1] if i + 1 < len(by_time) else None
            p_m = _haversine_m(prev["latitude"], prev["longitude"], r["latitude"], r["longitude"]) if prev else None
            n_m = _haversine_m(r["latitude"], r["longitude"], nxt["latitude"], nxt["longitude"]) if nxt else None
            p_dt = _us(r["event_timestamp"] - prev["event_timestamp"]) / 1e6 if prev else None
            n_dt = _us(nxt["event_timestamp"] - r["event_timestamp"]) / 1e6 if nxt else None
            lateness = _us(r["ingested_at"] - r["event_timestamp"]) / 1e6 if r["ingested_at"] is not None else None
            med = usual.get(cid)
            beyond = lateness - med if lateness is not None and med is not None else None
            cap = t.jump_kmh / 3.6
            into = p_m is not None and p_dt is not None and p_m > cap * p_dt
            out_of = nxt is None or nxt["latitude"] is None or (n_m is not None and n_m > cap * n_dt)
            before = sent_before[r["event_id"]]
            flagged.append({
                "event_id": r["event_id"], "connection_id": cid, "beyond_s": beyond,
                "skew_s": None if med is None or fleet_med is None else med - fleet_med,
                "late": int(beyond is not None and beyond > t.late_s),
                "ooo": int(r["ingested_at"] is not None and before is not None and r["event_timestamp"] < before),
                "jump": int(into and out_of),
                "stale": int(p_m is not None and p_m < 0.01 and (r["speed_kmh"] or 0) >= t.stale_kmh
                             and r["speed_kmh"] is not None),
            })  # fmt: skip
    return flagged, usual, fleet_med


def expected_quality(rows_: list[dict], t: QualityThresholds, lakebase: bool = False) -> Quality:
    flagged, usual, fleet_med = quality_flags(rows_, t)
    edges = (float("-inf"), *DELAY_BUCKETS_S, float("inf"))
    beyond = [f["beyond_s"] for f in flagged if f["beyond_s"] is not None]
    buckets = tuple(sum(1 for b in beyond if lo <= b < hi) for lo, hi in zip(edges, edges[1:], strict=False))
    raw = [r for r in rows_ if not r["connection_id"].startswith("zerostream-probe-")]
    return Quality(
        events=len(flagged), late=sum(f["late"] for f in flagged), out_of_order=sum(f["ooo"] for f in flagged),
        jumps=sum(f["jump"] for f in flagged), jump_devices=len({f["connection_id"] for f in flagged if f["jump"]}),
        stale=sum(f["stale"] for f in flagged),
        skewed_devices=sum(1 for m in usual.values() if fleet_med is not None and abs(m - fleet_med) > t.skew_s),
        delay_buckets=buckets, duplicates=None if lakebase else len(raw) - len({r["event_id"] for r in raw}),
    )  # fmt: skip


def expected_quality_devices(rows_: list[dict], t: QualityThresholds) -> list[DeviceQuality]:
    flagged, _, _ = quality_flags(rows_, t)
    by: dict[str, list[dict]] = defaultdict(list)
    for f in flagged:
        by[f["connection_id"]].append(f)
    out = []
    for cid, fs in by.items():
        sums = {k: sum(f[k] for f in fs) for k in ("late", "ooo", "jump", "stale")}
        skew = fs[0]["skew_s"]
        if sum(sums.values()) > 0 or (skew is not None and abs(skew) > t.skew_s):
            out.append(DeviceQuality(cid, len(fs), sums["late"], sums["ooo"], sums["jump"], sums["stale"],
                                     None if skew is None else round(skew, 6)))  # fmt: skip
    out.sort(key=lambda d: (-(d.late + d.out_of_order + d.jumps + d.stale), d.connection_id.encode()))
    return out


def expected_quality_points(rows_: list[dict], cid: str, t: QualityThresholds, lakebase: bool = False) -> list:
    from zerostream_desktop.core.analytics.model import QualityPoint

    flagged, _, _ = quality_flags(rows_, t)
    copies: dict[str, int] = defaultdict(int)
    for r in rows_:
        if r["connection_id"] == cid:
            copies[r["event_id"]] += 1
    events = {r["event_id"]: r for r in latest_landings(rows_) if r["connection_id"] == cid}
    out = []
    for f in flagged:
        if f["connection_id"] != cid:
            continue
        n = None if lakebase else copies[f["event_id"]]
        if f["late"] + f["ooo"] + f["jump"] + f["stale"] > 0 or (n is not None and n > 1):
            r = events[f["event_id"]]
            out.append(QualityPoint(f["event_id"], r["event_timestamp"], r["latitude"], r["longitude"],
                                    bool(f["late"]), bool(f["ooo"]), bool(f["jump"]), bool(f["stale"]), n))  # fmt: skip
    return sorted(out, key=lambda p: (p.event_timestamp, p.event_id))
