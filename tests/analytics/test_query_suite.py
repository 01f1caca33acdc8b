"""One query suite, every backend, the same generated data: the answers equal the oracle's and each other's."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.analytics import dataset
from zerostream_desktop.core.analytics.model import DEFAULT_TRACK_LIMIT, DEFAULT_TRACK_POINTS, MINUTE_S, Window, refresh

pytestmark = pytest.mark.integration


def approx_kpis(k):
    d = dataclasses.asdict(k)
    for name in ("events_per_s", "bytes_per_s", "send_delay_p50_s", "send_delay_p95_s"):
        if d[name] is not None:
            d[name] = pytest.approx(d[name], abs=2e-6)
    return d


def approx_clients(cs):
    def near(v):
        return v if v is None else pytest.approx(v, abs=1e-12)

    return [{**dataclasses.asdict(c), "latitude": near(c.latitude), "longitude": near(c.longitude)} for c in cs]


def test_kpis(backend, rows):
    for w in (
        dataset.WINDOW,
        Window(dataset.T0 + dt.timedelta(seconds=200), 30, 120),
        Window(dataset.NOW + dt.timedelta(hours=1)),
    ):
        assert dataclasses.asdict(backend.kpis(w)) == approx_kpis(dataset.expected_kpis(rows, w)), w


def test_clients(backend, rows):
    clients = backend.clients(dataset.WINDOW)
    assert [dataclasses.asdict(c) for c in clients] == approx_clients(dataset.expected_clients(rows, dataset.WINDOW))
    status = {c.connection_id: c.status.value for c in clients}
    assert (status["dev-00"], status["dev-03"], status["dev-04"]) == ("active", "offline", "idle")
    assert status[dataset.EVIL] == "active"  # an id made of SQL is just an id
    lost = next(c for c in clients if c.connection_id == "dev-05")
    assert (lost.latitude, lost.battery_pct) == (None, None)  # its latest event's values, gaps included


TRACKS = [
    (dataset.LONG, 100_000, 200),
    (dataset.LONG, 1000, 50),
    ("dev-02", 100_000, 5_000),
    (dataset.EVIL, 10, 2),
    ("nobody", 10, 5),
]


@pytest.mark.parametrize(("cid", "limit", "max_points"), TRACKS)
def test_track(backend, rows, cid, limit, max_points):
    got = backend.track(cid, limit=limit, max_points=max_points)
    want = dataset.expected_track(rows, cid, limit, max_points)
    assert got == want
    if cid == dataset.LONG:
        assert len(got.points) == max_points and got.total_points == min(limit, 1500)
        assert got.points[-1].event_timestamp == max(r["event_timestamp"] for r in rows if r["connection_id"] == cid)


def test_series(backend, rows):
    for seconds in (60, 300):
        got = backend.series(dataset.WINDOW, seconds)
        assert got == dataset.expected_series(rows, dataset.WINDOW, seconds)
        assert len(got) == seconds and sum(p.events for p in got) > 0


@pytest.mark.parametrize(("client", "limit", "offset"), [(None, 50, 0), (None, 7, 1000), ("dev-01", 20, 105),
                                                        (dataset.EVIL, 5, 0), ("nobody", 5, 0)])  # fmt: skip
def test_raw_events_page(request, backend, rows, client, limit, offset):
    lakebase = "lakebase" in request.node.callspec.id  # a synced table keeps one row per event
    got = backend.events(client, limit, offset)
    want = dataset.expected_events(rows, client, limit, offset, one_per_event=lakebase)
    assert [{**e, "event_timestamp": pytest.approx(e["event_timestamp"])} for e in got] == want
    if client == "dev-01":  # its oldest events were resent: rows of their own, except in a synced table
        assert (len({e["event_id"] for e in got}) < len(got)) is not lakebase


def test_one_dashboard_refresh_answers_everything_at_once(backend, rows):
    r = refresh(backend, dataset.WINDOW, track_of=dataset.LONG)
    assert dataclasses.asdict(r.kpis) == approx_kpis(dataset.expected_kpis(rows, dataset.WINDOW))
    assert [dataclasses.asdict(c) for c in r.clients] == approx_clients(dataset.expected_clients(rows, dataset.WINDOW))
    assert r.track == dataset.expected_track(rows, dataset.LONG, DEFAULT_TRACK_LIMIT, DEFAULT_TRACK_POINTS)
    assert r.series == dataset.expected_series(rows, dataset.WINDOW, MINUTE_S)
