"""Load shapes: what rate each form asks for over time, and how a bad one is refused."""

from __future__ import annotations

import pytest

from zerostream_desktop.core.fleet import LoadShapeError, parse_load_shape
from zerostream_desktop.core.fleet.load_shape import interval_ms_for


def test_constant_is_one_stage_of_one_rate():
    shape = parse_load_shape("constant:50k/2m")
    assert shape.length_s == 120 and len(shape.stages) == 1
    assert shape.rate_at(0) == shape.rate_at(119) == 50_000


def test_a_ramp_climbs_in_a_straight_line_reported_in_slices():
    shape = parse_load_shape("ramp:1k-11k/50s")
    assert shape.length_s == 50 and len(shape.stages) == 10
    assert shape.rate_at(0) == 1_000 and shape.rate_at(25) == pytest.approx(6_000) and shape.rate_at(50) == 11_000
    assert shape.stages[0].mean_rate == pytest.approx(1_500) and shape.stages[-1].mean_rate == pytest.approx(10_500)


def test_steps_hold_each_rate_for_the_step():
    shape = parse_load_shape("steps:100,1000,5k/30s")
    assert [s.name for s in shape.stages] == ["step 1 (100/s)", "step 2 (1,000/s)", "step 3 (5,000/s)"]
    assert (shape.rate_at(29.9), shape.rate_at(30), shape.rate_at(89)) == (100, 1_000, 5_000)
    assert shape.stage_at(1_000) == 2  # after the end: the last stage goes on


def test_a_spike_rises_for_its_length_then_falls_back():
    shape = parse_load_shape("spike:5k,50k@30s+10s")
    assert [s.name for s in shape.stages] == ["before the spike", "spike", "after the spike"]
    assert shape.length_s == 70 and (shape.rate_at(29), shape.rate_at(35), shape.rate_at(45)) == (5e3, 5e4, 5e3)


@pytest.mark.parametrize(("text", "says"), [
    ("bogus", "constant:RATE"), ("wave:1k/10s", "unknown load shape 'wave'"), ("ramp:1k/60s", "ramp:FROM-TO/LENGTH"),
    ("steps:1k,2k", "steps:R1,R2"), ("constant:fast", "'fast' is not a rate"), ("constant:0", "above 0"),
    ("constant:1k/soon", "'soon' is not a length"), ("spike:1k,5k@60s+10s/30s", "ends before the spike"),
])  # fmt: skip
def test_a_shape_that_cannot_be_read_says_what_was_expected(text, says):
    with pytest.raises(LoadShapeError, match=says):
        parse_load_shape(text)


def test_the_interval_offers_the_rate_and_says_when_the_fleet_cannot():
    assert interval_ms_for(2_000, 1_000) == (500, False)
    assert interval_ms_for(50_000, 1_000, min_interval_ms=100) == (100, True)  # 10 events/s a device at most
    assert interval_ms_for(0.0001, 10) == (3_600_000, True)
