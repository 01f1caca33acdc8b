"""Recorded tracks load from GPX, GeoJSON and CSV; bad files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerostream_desktop.core.fleet import TraceError, load_trace

DATA = Path(__file__).parent.parent / "data"


def test_gpx_track_with_times_and_elevation():
    t = load_trace(DATA / "amsterdam_walk.gpx")
    assert t.lat.size == 4 and t.duration_s == 180.0
    assert t.alt.tolist() == [1.0, 1.5, 2.0, 1.0]
    assert 200 < t.length_m < 320
    assert t.length_m / t.duration_s < 2.5  # a walk


def test_geojson_with_coord_times():
    t = load_trace(DATA / "ride.geojson")
    assert t.lat[0] == pytest.approx(47.3769) and t.lon[0] == pytest.approx(8.5417)  # lon/lat order handled
    assert t.duration_s == 60.0 and t.alt[-1] == 412


def test_csv_with_epoch_times():
    t = load_trace(DATA / "drive.csv")
    assert t.duration_s == 20.0 and t.lon[-1] == pytest.approx(-122.4165)


def test_track_without_times_gets_a_plausible_pace(tmp_path: Path):
    f = tmp_path / "plain.csv"
    f.write_text("lat,lon\n52.0,4.0\n52.0,4.01\n")
    t = load_trace(f)
    assert t.duration_s == pytest.approx(t.length_m / 8.0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("one.csv", "lat,lon\n52,4\n", "at least two points"),
        ("swapped.csv", "lat,lon\n152,4\n52,4\n", "outside latitude"),
        ("words.csv", "lat,lon\n52,4\nabc,4\n", "line 3"),
        ("nohead.csv", "x,y\n1,2\n", "latitude and longitude columns"),
        ("back.csv", "time,lat,lon\n10,52,4\n5,52.1,4\n", "backwards"),
        ("bad.gpx", "<gpx><trk>", "not a valid GPX"),
        ("bad.geojson", "{nope", "not valid JSON"),
        ("point.geojson", '{"type": "Point", "coordinates": [1, 2]}', "no LineString"),
        ("track.kml", "<kml/>", "unknown track format"),
    ],
)
def test_bad_tracks_are_clear_errors(tmp_path: Path, name: str, content: str, message: str):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(TraceError, match=message) as info:
        load_trace(f)
    assert name in str(info.value)


def test_missing_file():
    with pytest.raises(TraceError, match="no such file"):
        load_trace("/nonexistent/track.gpx")
