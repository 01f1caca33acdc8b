"""The map page through its bridge: device dots, a track with S and E, popups, escaping, the offline basemap."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest

from zerostream_desktop.core.analytics.model import Client, ClientStatus, Track, TrackPoint
from zerostream_desktop.ui.map_view import MAP_GPU_ENV, MapView, map_uses_gpu

pytestmark = pytest.mark.ui
T0 = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture
def view(qtbot):
    v = MapView()
    qtbot.addWidget(v)
    v.resize(800, 500)
    v.show()
    qtbot.waitUntil(lambda: v.is_ready, timeout=20_000)
    return v


def js(qtbot, view, code: str):
    out = []
    view.page().runJavaScript(code, 0, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=10_000)
    return out[0]


def track(n: int, cid: str = "dev-1") -> Track:
    pts = tuple(
        TrackPoint(T0 + dt.timedelta(seconds=k), 48.85 + k * 1e-5, 2.35 + (k % 300) * 1e-5, 36.5, 90.0, 80)
        for k in range(n)
    )
    return Track(cid, pts, n)


def test_no_tiles_here_means_the_offline_basemap_with_attribution(view, qtbot):
    qtbot.waitUntil(lambda: view.basemap == "offline", timeout=15_000)
    assert "Natural Earth" in js(qtbot, view, "document.querySelector('.leaflet-control-attribution').textContent")


def test_offline_at_city_zoom_the_towns_around_are_named(view, qtbot):
    """Where a city fleet drives, the offline basemap names the places around it (GeoNames, 5,000+ people)."""
    qtbot.waitUntil(lambda: view.basemap == "offline", timeout=15_000)
    js(qtbot, view, "map.setView([48.85, 2.35], 11); 1")
    shown = named(qtbot, view, lambda names: "Paris" in names)
    assert "Boulogne-Billancourt" in shown and len(shown) <= 60  # towns around it too, never a clutter
    labels = json.loads(
        js(qtbot, view, "JSON.stringify(Array.from(document.querySelectorAll('.place-label'), e => e.textContent))")
    )
    assert sorted(labels) == sorted(shown)
    assert "GeoNames" in js(qtbot, view, "document.querySelector('.leaflet-control-attribution').textContent")
    js(qtbot, view, "map.setView([30, 0], 2); 1")  # the world: countries and the grid, no names
    assert named(qtbot, view, lambda names: not names) == []


def named(qtbot, view, until, timeout_s: float = 10.0) -> list[str]:
    """The places the offline map names, once `until(names)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        names = json.loads(js(qtbot, view, "JSON.stringify(zerostreamPlaces())"))
        if until(names) or time.monotonic() > deadline:
            assert until(names), names
            return names
        qtbot.wait(200)


def test_a_track_is_drawn_with_start_and_end_and_a_popup_per_point(view, qtbot):
    name = "<img src=x onerror=alert(1)> van"
    view.show_devices([Client("dev-1", name, 1, 1, T0, T0, 48.85, 2.35, 50, -80, 10.0, ClientStatus.ACTIVE)])
    with qtbot.waitSignal(view.track_drawn, timeout=10_000) as drawn:
        view.show_track(track(1000), name=name, fit=True)
    info = drawn.args[0]
    assert (info["id"], info["points"], info["total"]) == ("dev-1", 1000, 1000)
    assert info["start"] == [48.85, 2.35] and info["end"] == pytest.approx([48.85 + 999e-5, 2.35 + 99e-5])
    assert js(qtbot, view, "document.querySelectorAll('.endpoint.start').length") == 1
    assert js(qtbot, view, "document.querySelector('.endpoint.end').textContent") == "E"
    js(qtbot, view, "zerostream.openPopup(999); 1")
    text = js(qtbot, view, "document.querySelector('.leaflet-popup-content').innerText")
    assert "2026-11-27 12:16:39 UTC" in text and "36.5 km/h" in text and "90°" in text and "80 %" in text
    assert "<img src=x" in text  # shown as text, not run as HTML
    assert js(qtbot, view, "document.querySelectorAll('.leaflet-popup-content img').length") == 0


def test_suspicious_points_get_rings_on_their_own_track_only(view, qtbot):
    from zerostream_desktop.core.analytics.model import QualityPoint

    def point(i: int, **flags: bool) -> QualityPoint:
        p = track(1000).points[i]
        base = dict(late=False, out_of_order=False, jump=False, stale=False)
        return QualityPoint(f"e{i}", p.event_timestamp, p.latitude, p.longitude, **{**base, **flags}, copies=1)

    marks = [point(10, jump=True), point(20, stale=True, late=True), point(30, out_of_order=True)]
    view.show_marks("dev-1", marks)  # before its track: kept, drawn once the track is there
    with qtbot.waitSignal(view.track_drawn, timeout=10_000):
        view.show_track(track(1000), fit=True)
    qtbot.waitUntil(lambda: js(qtbot, view, "zerostream.state().marks") == 3, timeout=10_000)
    assert view.last_marks == {"id": "dev-1", "marks": 3}
    rings = js(qtbot, view, "document.querySelectorAll('path.leaflet-interactive').length")
    assert int(rings) >= 3
    view.show_marks("dev-2", marks)  # another device's: nothing on this track
    qtbot.waitUntil(lambda: js(qtbot, view, "zerostream.state().marks") == 0, timeout=10_000)


def test_a_100k_point_track_draws(view, qtbot):
    with qtbot.waitSignal(view.track_drawn, timeout=30_000) as drawn:
        view.show_track(track(100_000), fit=True)
    assert drawn.args[0]["points"] == 100_000


def test_clicking_a_device_dot_reports_it(view, qtbot):
    dots = [Client(f"dev-{i}", None, 1, 1, T0, T0, 48.85 + i * 0.01, 2.35, 50, -80, 10.0, ClientStatus.IDLE)
            for i in range(10)]  # fmt: skip
    view.show_devices(dots)
    qtbot.waitUntil(lambda: js(qtbot, view, "zerostream.state().devices") == 10, timeout=5_000)
    click = "const p = map.latLngToContainerPoint([48.92, 2.35]); map.fire('click', {containerPoint: p}); 1"
    with qtbot.waitSignal(view.device_clicked, timeout=5_000) as clicked:
        js(qtbot, view, click)
    assert clicked.args == ["dev-7"]


def test_devices_that_move_keep_their_ids_and_a_new_set_replaces_them(view, qtbot):
    """Positions go as millionths of a degree, and the ids only when they change: the dots still move to
    the right places, each clickable as itself."""

    def dots(first: int, lat0: float) -> list[Client]:
        return [Client(f"dev-{i}", None, 1, 1, T0, T0, lat0 + (i - first) * 0.01, 2.35, 50, -80, 10.0,
                       ClientStatus.IDLE) for i in range(first, first + 10)]  # fmt: skip

    view.show_devices(dots(0, 48.85))
    qtbot.waitUntil(lambda: js(qtbot, view, "zerostream.state().devices") == 10, timeout=5_000)
    view.show_devices(dots(0, 48.95))  # the same devices, moved north
    qtbot.waitUntil(lambda: abs(js(qtbot, view, "devices.lat[7]") - 49.02) < 1e-6, timeout=5_000)
    assert js(qtbot, view, "devices.id.join(',')") == ",".join(f"dev-{i}" for i in range(10))
    click = "const p = map.latLngToContainerPoint([49.02, 2.35]); map.fire('click', {containerPoint: p}); 1"
    with qtbot.waitSignal(view.device_clicked, timeout=5_000) as clicked:
        js(qtbot, view, click)
    assert clicked.args == ["dev-7"]
    view.show_devices(dots(10, 48.95))  # other devices
    qtbot.waitUntil(lambda: js(qtbot, view, "devices.id[0]") == "dev-10", timeout=5_000)
    assert js(qtbot, view, "devices.id.length") == 10 and abs(js(qtbot, view, "devices.lon[3]") - 2.35) < 1e-9


def test_offscreen_the_map_runs_without_the_gpu_unless_asked(view, qtbot):
    """Offscreen there is no GPU: Chromium draws the map with its own software compositor (this suite runs
    so, and the tests above see it drawn); ZEROSTREAM_MAP_GPU decides either way."""
    assert "--disable-gpu" in os.environ["QTWEBENGINE_CHROMIUM_FLAGS"].split()
    assert not map_uses_gpu({"QT_QPA_PLATFORM": "offscreen"})
    assert map_uses_gpu({"QT_QPA_PLATFORM": "offscreen", MAP_GPU_ENV: "1"})
    assert map_uses_gpu({"QT_QPA_PLATFORM": "xcb"}) and map_uses_gpu({})
    assert not map_uses_gpu({"QT_QPA_PLATFORM": "wayland", MAP_GPU_ENV: "off"})


def test_the_page_collects_the_garbage_device_updates_leave(view, qtbot):
    """Each update of 10,000 devices leaves arrays behind; the page collects them itself, at most every 10 s
    (without it, the web engine held ~170 MiB more at 10,000 devices, as bench_ui measures)."""
    assert js(qtbot, view, "typeof window.gc") == "function"  # the desktop starts Chromium with --expose-gc
    before = js(qtbot, view, "collectedAt")
    view.show_devices([Client("dev-1", None, 1, 1, T0, T0, 48.85, 2.35, 50, -80, 10.0, ClientStatus.ACTIVE)])
    qtbot.waitUntil(lambda: js(qtbot, view, "collectedAt") > before, timeout=5_000)
    collected = js(qtbot, view, "collectedAt")
    view.show_devices([Client("dev-1", None, 1, 1, T0, T0, 48.86, 2.35, 50, -80, 10.0, ClientStatus.ACTIVE)])
    qtbot.waitUntil(lambda: abs(js(qtbot, view, "devices.lat[0]") - 48.86) < 1e-6, timeout=5_000)
    assert js(qtbot, view, "collectedAt") == collected  # not again within 10 s
