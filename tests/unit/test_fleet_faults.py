"""Device faults: none means the fleet's own events, and every injected fault is in the log and shows in
the events exactly as logged."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerostream_desktop.core.fleet import FaultSpec, FaultSpecError, Fleet
from zerostream_desktop.core.fleet.faults import MIN_JUMP_M
from zerostream_desktop.core.fleet.geo import haversine_m

T0 = 1_800_000_000.0
STEP = 0.5


def run(seed: int, faults: str | None, devices: int = 60, steps: int = 400, interval_ms: int = 1000):
    fleet = Fleet(seed, devices, interval_ms=interval_ms)
    if faults is not None:
        fleet.set_faults(faults)
    fleet.start(T0)
    out = [(T0 + k * STEP, fleet.advance(T0 + k * STEP)) for k in range(1, steps + 1)]
    if fleet.faults is not None:
        rest = fleet.faults.flush()
        if rest is not None:
            out.append((T0 + (steps + 1) * STEP, rest))
    return fleet, out


def rows(out):
    """(emitted at, event id, device, column values) for every event sent, in order."""
    for at, batch in out:
        ids = batch.event_ids()
        for i in range(len(batch)):
            yield at, ids[i], int(batch.device_index[i]), {k: v[i] for k, v in batch.columns.items()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**63 - 1), spec=st.sampled_from(["clean", "", "dup=0,jump=0", "spike=1e-12"]))
def test_without_faults_the_events_are_the_fleets_own(seed, spec):
    _, plain = run(seed, None, devices=20, steps=60)
    _, faulty = run(seed, spec, devices=20, steps=60)
    assert len(plain) == len(faulty)
    for (_, a), (_, b) in zip(plain, faulty, strict=True):
        assert a.event_ids() == b.event_ids()
        for name in a.columns:
            assert np.array_equal(a.columns[name], b.columns[name], equal_nan=True), name


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_every_logged_fault_shows_in_the_events(seed):
    fleet, out = run(seed, "chaos")
    log = fleet.faults.log.entries
    kinds = Counter(e["kind"] for e in log)
    assert all(kinds[k] for k in ("dropout", "stale", "jump", "offline", "late", "dup", "spike")), kinds
    sent = list(rows(out))
    copies = Counter(event for _, event, _, _ in sent)
    by_id = {event: (at, device, values) for at, event, device, values in sent}
    # duplicates: exactly the ids logged as such are sent twice, and nothing else is
    dups = {e["event_id"] for e in log if e["kind"] == "dup"}
    assert {e for e, n in copies.items() if n > 1} == dups and all(copies[e] == 2 for e in dups)
    # late events: sent after the device's offline period, never during it
    offline = defaultdict(list)
    for e in log:
        if e["kind"] == "offline":
            offline[e["device"]].append((e["at"], e["until"]))
    names = fleet.identities.connection_ids
    end = out[-1][0]  # the run's end: devices still offline upload what they kept
    for e in (e for e in log if e["kind"] == "late"):
        at, device, _ = by_id[e["event_id"]]
        periods = offline[names[device]]
        assert at > e["at"] and any(start <= e["at"] and (at >= until or at == end) for start, until in periods)
    # jumps: the fix is at least MIN_JUMP_M from where the device really was (the same fleet without faults:
    # faults change what is sent, never the devices, so its event with the same id is where the device was)
    _, plain = run(seed, None)
    truth = {event: (values["latitude"], values["longitude"]) for _, event, _, values in rows(plain)}
    jumped = {e["event_id"] for e in log if e["kind"] == "jump"}
    checked = 0
    for _, event, _, values in sent:
        if event in jumped:
            real = truth[event]
            dist = haversine_m(np.array([real[0]]), np.array([real[1]]),
                               np.array([values["latitude"]]), np.array([values["longitude"]]))[0]  # fmt: skip
            assert dist > 0.999 * MIN_JUMP_M
            checked += 1
    assert checked >= len(jumped)  # every jump was sent (once, or twice when also sent twice)
    ordered = sorted(sent, key=lambda r: (r[2], r[3]["event_timestamp"]))
    # stale fixes repeat the device's previous fix exactly, as it reported it
    stale = {e["event_id"] for e in log if e["kind"] == "stale"}
    previous: dict[int, tuple[float, float]] = {}
    for _, event, device, values in ordered:
        here = (values["latitude"], values["longitude"])
        if event in stale:
            assert here == previous[device]
        previous[device] = here
    # dead devices send nothing after their last (0 %) event
    for e in (e for e in log if e["kind"] == "dead"):
        at, device, values = by_id[e["event_id"]]
        assert values["battery_pct"] == 0
        assert not [r for r in sent if r[2] == device and r[0] > at]
    # spikes: far above anything the device otherwise reads
    spiked = [by_id[e["event_id"]][2]["accel_magnitude"] for e in log if e["kind"] == "spike"]
    touched = {e.get("event_id") for e in log}
    calm = np.median([v["accel_magnitude"] for _, ev, _, v in sent if ev not in touched])
    assert min(spiked) > 4 * calm


def test_skewed_clocks_stay_off_by_what_they_were_given():
    fleet, out = run(11, "skew=0.5", devices=40, steps=200)
    offsets = defaultdict(list)
    for at, _, device, values in rows(out):
        offsets[device].append(values["event_timestamp"] / 1e6 - at)
    skewed = {d: np.median(v) for d, v in offsets.items() if abs(np.median(v)) > 1}
    assert 10 <= len(skewed) <= 30  # about half the devices
    assert all(30 <= abs(s) <= 600.5 for s in skewed.values())
    assert all(np.ptp(offsets[d]) < 0.5 for d in skewed)  # drift: under a second over 100 s


def test_the_same_seed_gives_the_same_faults():
    a, out_a = run(5, "chaos", devices=30, steps=200)
    b, out_b = run(5, "chaos", devices=30, steps=200)
    assert a.faults.log.entries == b.faults.log.entries
    assert [x.event_ids() for _, x in out_a] == [y.event_ids() for _, y in out_b]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dropout", "write kind=rate"),
        ("wobble=0.1", "unknown kind 'wobble'"),
        ("dup=2", "between 0 and 1"),
        ("dup=0.1:30s", "only dropout, offline take a duration"),
        ("offline=0.1:0s", "between 0.1 s and 1 day"),
    ],
)
def test_a_bad_spec_names_the_item_and_what_is_allowed(text, message):
    with pytest.raises(FaultSpecError, match=message):
        FaultSpec.parse(text)


def test_specs_and_presets_read_back():
    spec = FaultSpec.parse("dropout=0.02,jump=0.005,offline=0.01:2min,dup=0.01")
    assert str(spec) == "dropout=0.02:20s,jump=0.005,offline=0.01:120s,dup=0.01"
    assert FaultSpec.parse("chaos").active and not FaultSpec.parse("clean").active
