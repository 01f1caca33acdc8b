"""Recorded tracks (GPX, GeoJSON, CSV) that devices can replay at a time scale."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from zerostream_desktop.core.fleet.geo import haversine_m

DEFAULT_SPEED_MS = 8.0  # assumed when a track has no times


class TraceError(ValueError):
    """A track file that cannot be replayed; the message names the file and the problem."""


@dataclass(frozen=True)
class Trace:
    name: str
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    t: np.ndarray  # seconds from the first point, non-decreasing

    @property
    def duration_s(self) -> float:
        return float(self.t[-1])

    @property
    def length_m(self) -> float:
        return float(haversine_m(self.lat[:-1], self.lon[:-1], self.lat[1:], self.lon[1:]).sum())

    def position(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interpolated position at trace times `tau` (clamped to the track)."""
        return np.interp(tau, self.t, self.lat), np.interp(tau, self.t, self.lon), np.interp(tau, self.t, self.alt)


def _parse_time(value: Any, where: str) -> float:
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v  # epoch milliseconds or seconds
    text = str(value).strip()
    try:
        v = float(text)
        return v / 1000.0 if v > 1e11 else v
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise TraceError(f"{where}: time {text!r} is neither ISO 8601 nor epoch seconds") from None


def build_trace(
    name: str, lat: list[float], lon: list[float], alt: list[float] | None, times: list[float] | None
) -> Trace:
    la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if la.size < 2:
        raise TraceError(f"{name}: a track needs at least two points, found {la.size}")
    if not (np.isfinite(la).all() and np.isfinite(lo).all()):
        raise TraceError(f"{name}: coordinates must be numbers")
    bad = np.flatnonzero((np.abs(la) > 90) | (np.abs(lo) > 180))
    if bad.size:
        raise TraceError(f"{name}: point {bad[0] + 1} is outside latitude +-90 / longitude +-180 (lat/lon swapped?)")
    al = np.asarray(alt if alt else np.zeros(la.size), dtype=np.float64)
    al = np.where(np.isfinite(al), al, 0.0)
    if times:
        t = np.asarray(times, dtype=np.float64)
        if (np.diff(t) < 0).any():
            i = int(np.flatnonzero(np.diff(t) < 0)[0]) + 2
            raise TraceError(f"{name}: times go backwards at point {i}")
        t = t - t[0]
    else:
        seg = haversine_m(la[:-1], lo[:-1], la[1:], lo[1:])
        t = np.concatenate([[0.0], np.cumsum(seg) / DEFAULT_SPEED_MS])
    if t[-1] <= 0:
        raise TraceError(f"{name}: the track has no duration (all points at one time or place)")
    return Trace(name, la, lo, al, t)


def load_trace(path: str | Path) -> Trace:
    p = Path(path)
    if not p.is_file():
        raise TraceError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".gpx":
        return _load_gpx(p)
    if suffix in (".geojson", ".json"):
        return _load_geojson(p)
    if suffix in (".csv", ".txt"):
        return _load_csv(p)
    raise TraceError(f"{p}: unknown track format {suffix!r}; use .gpx, .geojson or .csv")


def _load_gpx(p: Path) -> Trace:
    import gpxpy
    import gpxpy.gpx

    try:
        gpx = gpxpy.parse(p.read_text(encoding="utf-8"))
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        raise TraceError(f"{p}: not a valid GPX file ({exc})") from None
    points: list[Any] = [pt for trk in gpx.tracks for seg in trk.segments for pt in seg.points]
    points = points or [pt for rte in gpx.routes for pt in rte.points]
    times = [pt.time.timestamp() for pt in points if pt.time]
    return build_trace(
        p.name,
        [pt.latitude for pt in points],
        [pt.longitude for pt in points],
        [pt.elevation if pt.elevation is not None else 0.0 for pt in points],
        times if len(times) == len(points) else None,
    )


def _geojson_lines(obj: dict[str, Any]) -> tuple[list[list[float]], dict[str, Any]]:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for feature in obj.get("features", []):
            coords, props = _geojson_lines(feature)
            if coords:
                return coords, props
        return [], {}
    if kind == "Feature":
        coords, _ = _geojson_lines(obj.get("geometry") or {})
        return coords, obj.get("properties") or {}
    if kind == "LineString":
        return obj.get("coordinates", []), {}
    if kind == "MultiLineString":
        return [c for line in obj.get("coordinates", []) for c in line], {}
    return [], {}


def _load_geojson(p: Path) -> Trace:
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: not valid JSON ({exc})") from None
    coords, props = _geojson_lines(obj if isinstance(obj, dict) else {})
    if not coords:
        raise TraceError(f"{p}: no LineString or MultiLineString found")
    raw_times = props.get("coordTimes") or props.get("times")
    if raw_times is None and all(len(c) >= 4 for c in coords):
        raw_times = [c[3] for c in coords]
    times = [_parse_time(v, f"{p} point {i + 1}") for i, v in enumerate(raw_times)] if raw_times else None
    if times and len(times) != len(coords):
        raise TraceError(f"{p}: {len(times)} times for {len(coords)} points")
    try:
        lon = [float(c[0]) for c in coords]
        lat = [float(c[1]) for c in coords]
        alt = [float(c[2]) if len(c) > 2 and c[2] is not None else 0.0 for c in coords]
    except (TypeError, ValueError, IndexError):
        raise TraceError(f"{p}: coordinates must be [lon, lat(, alt)] numbers") from None
    return build_trace(p.name, lat, lon, alt, times)


_CSV_COLUMNS = {
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "alt": ("alt", "ele", "elevation", "altitude", "altitude_m"),
    "time": ("time", "timestamp", "datetime", "event_timestamp", "t"),
}


def _load_csv(p: Path) -> Trace:
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = {h.strip().lower(): h for h in (reader.fieldnames or [])}
        cols = {k: next((header[n] for n in names if n in header), None) for k, names in _CSV_COLUMNS.items()}
        if not cols["lat"] or not cols["lon"]:
            raise TraceError(f"{p}: the header needs latitude and longitude columns (lat, lon)")
        lat, lon, alt, times = [], [], [], []
        for line_no, row in enumerate(reader, start=2):
            try:
                lat.append(float(row[cols["lat"]]))
                lon.append(float(row[cols["lon"]]))
                alt.append(float(row[cols["alt"]]) if cols["alt"] and row[cols["alt"]] else 0.0)
            except (TypeError, ValueError):
                raise TraceError(f"{p} line {line_no}: latitude/longitude/altitude must be numbers") from None
            if cols["time"]:
                times.append(_parse_time(row[cols["time"]], f"{p} line {line_no}"))
    return build_trace(p.name, lat, lon, alt, times or None)
