"""Load shapes: a target event rate over time, for finding where a pipeline bends.

A shape is written as one of

- `constant:RATE[/LENGTH]`         one rate throughout;
- `ramp:FROM-TO/LENGTH`            a straight line from one rate to another, reported in slices;
- `steps:R1,R2,.../STEP`           each rate held for STEP;
- `spike:BASE,PEAK@AT+LEN[/LENGTH]` BASE, then PEAK from AT for LEN, then BASE again.

Rates are events per second (`50k` = 50,000); lengths are seconds, or with `s`, `m` or `h`. The fleet
meets a rate by the interval of its devices (rate = devices / interval). A device sends at most one
event per step of the producer (0.1 s for `zerostream stream`), so the highest rate a fleet can
offer is its devices x 10; a higher one is capped there and said so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

MIN_INTERVAL_MS = 10
MAX_INTERVAL_MS = 3_600_000
RAMP_SLICE_S = 5.0  # a ramp is reported in slices of about this long (at most 10)


class LoadShapeError(ValueError):
    """A shape that cannot be read; the message says what was expected."""


@dataclass(frozen=True)
class Stage:
    name: str
    start_s: float
    end_s: float
    rate_from: float
    rate_to: float

    @property
    def mean_rate(self) -> float:
        return (self.rate_from + self.rate_to) / 2


@dataclass(frozen=True)
class LoadShape:
    text: str
    stages: tuple[Stage, ...]

    @property
    def length_s(self) -> float:
        return self.stages[-1].end_s

    @property
    def peak_rate(self) -> float:
        return max(max(st.rate_from, st.rate_to) for st in self.stages)

    def share(self, fraction: float) -> LoadShape:
        """The same shape at `fraction` of its rates (one shard's part of a whole fleet's shape)."""
        stages = tuple(replace(st, rate_from=st.rate_from * fraction, rate_to=st.rate_to * fraction)
                       for st in self.stages)  # fmt: skip
        return LoadShape(self.text, stages)

    def stage_at(self, t: float) -> int:
        """The index of the stage running at `t` seconds (the last one after the end)."""
        for i, stage in enumerate(self.stages):
            if t < stage.end_s:
                return i
        return len(self.stages) - 1

    def rate_at(self, t: float) -> float:
        stage = self.stages[self.stage_at(t)]
        span = stage.end_s - stage.start_s
        f = min(1.0, max(0.0, (t - stage.start_s) / span)) if span > 0 else 0.0
        return stage.rate_from + (stage.rate_to - stage.rate_from) * f


def interval_ms_for(rate: float, devices: int, min_interval_ms: float = MIN_INTERVAL_MS) -> tuple[int, bool]:
    """The device interval that offers `rate` events/s with `devices` devices, and whether the
    rate had to be capped (too high or too low for the fleet; `min_interval_ms`: the producer's step)."""
    wanted = devices * 1000 / rate if rate > 0 else math.inf
    interval = min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, min_interval_ms, wanted))
    return round(interval), interval != wanted


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def _rate(text: str) -> float:
    m = _RATE.match(text)
    if not m:
        raise LoadShapeError(f"{text.strip()!r} is not a rate: write events per second, e.g. 5000 or 50k")
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if value <= 0:
        raise LoadShapeError(f"a rate must be above 0, got {text.strip()!r}")
    return value


def _length(text: str) -> float:
    m = _LENGTH.match(text)
    if not m:
        raise LoadShapeError(f"{text.strip()!r} is not a length: write seconds, e.g. 30, 30s, 2m or 1h")
    value = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    if value <= 0:
        raise LoadShapeError(f"a length must be above 0, got {text.strip()!r}")
    return value


def parse_load_shape(text: str, default_length_s: float = 60.0) -> LoadShape:
    """Read a shape (see the module); LoadShapeError names what is wrong and how to write it."""
    kind, sep, body = text.strip().partition(":")
    kind = kind.lower()
    forms = "constant:RATE[/LENGTH], ramp:FROM-TO/LENGTH, steps:R1,R2,.../STEP or spike:BASE,PEAK@AT+LEN[/LENGTH]"
    if not sep or not body.strip():
        raise LoadShapeError(f"cannot read load shape {text!r}: write {forms}")
    spec, _, length_text = body.partition("/")
    if kind == "constant":
        rate = _rate(spec)
        length = _length(length_text) if length_text else default_length_s
        return LoadShape(text, (Stage(f"constant {rate:,.0f}/s", 0.0, length, rate, rate),))
    if kind == "ramp":
        low, dash, high = spec.partition("-")
        if not dash or not length_text:
            raise LoadShapeError(f"cannot read {text!r}: a ramp is ramp:FROM-TO/LENGTH, e.g. ramp:1k-50k/60s")
        a, b, length = _rate(low), _rate(high), _length(length_text)
        n = max(1, min(10, round(length / RAMP_SLICE_S)))
        edges = [length * k / n for k in range(n + 1)]
        stages = tuple(
            Stage(f"ramp {k + 1}/{n}", edges[k], edges[k + 1], a + (b - a) * edges[k] / length,
                  a + (b - a) * edges[k + 1] / length)
            for k in range(n)
        )  # fmt: skip
        return LoadShape(text, stages)
    if kind == "steps":
        if not length_text:
            raise LoadShapeError(f"cannot read {text!r}: steps are steps:R1,R2,.../STEP, e.g. steps:1k,10k,50k/30s")
        rates, step = [_rate(r) for r in spec.split(",")], _length(length_text)
        stages = tuple(Stage(f"step {k + 1} ({r:,.0f}/s)", k * step, (k + 1) * step, r, r) for k, r in enumerate(rates))
        return LoadShape(text, stages)
    if kind == "spike":
        m = re.match(r"^([^,]+),([^@]+)@([^+]+)\+(.+)$", spec.strip())
        if not m:
            raise LoadShapeError(f"cannot read {text!r}: a spike is spike:BASE,PEAK@AT+LEN, e.g. spike:5k,50k@30s+10s")
        base, peak, at, span = _rate(m.group(1)), _rate(m.group(2)), _length(m.group(3)), _length(m.group(4))
        length = _length(length_text) if length_text else at + span + at
        if length < at + span:
            raise LoadShapeError(f"cannot read {text!r}: the length {length:g} s ends before the spike does")
        parts = [Stage("before the spike", 0.0, at, base, base), Stage("spike", at, at + span, peak, peak)]
        if length > at + span:
            parts.append(Stage("after the spike", at + span, length, base, base))
        return LoadShape(text, tuple(parts))
    raise LoadShapeError(f"unknown load shape {kind!r}: write {forms}")


@dataclass(frozen=True)
class StageRate:
    """What one stage of a load shape asked for and what was reached in it (events/s)."""

    stage: str
    seconds: float
    target_per_s: float
    generated_per_s: float
    acknowledged_per_s: float


class ShapeFollower:
    """Follows a shape for a producer: the device interval for now, and the counts at each stage's
    start, from which the rate reached in each stage is worked out (`zerostream stream`, the app)."""

    def __init__(self, shape: LoadShape, start_s: float, min_interval_ms: float = MIN_INTERVAL_MS) -> None:
        self.shape = shape
        self.start_s = start_s
        self.min_interval_ms = min_interval_ms
        self.capped = False  # some rate asked for was more (or less) than the fleet can offer
        self.interval_ms = 0
        self._marks: list[tuple[int, float, int, int]] = []  # at each stage's start: (stage, t, generated, acked)

    def step(self, now_s: float, devices: int, generated: int, acknowledged: int) -> int | None:
        """The interval to set now, or None when it stays as it is."""
        t = now_s - self.start_s
        stage = self.shape.stage_at(t)
        if not self._marks or self._marks[-1][0] != stage:
            self._marks.append((stage, t, generated, acknowledged))
        interval, capped = interval_ms_for(self.shape.rate_at(t), devices, self.min_interval_ms)
        self.capped = self.capped or capped
        if interval == self.interval_ms:
            return None
        self.interval_ms = interval
        return interval

    @property
    def stage(self) -> Stage | None:
        return self.shape.stages[self._marks[-1][0]] if self._marks else None

    def report(self, now_s: float, generated: int, acknowledged: int) -> list[StageRate]:
        """Each stage run so far: the rate it asked for and the rates generated and acknowledged in it."""
        if not self._marks:
            return []
        ends = [*self._marks[1:], (-1, now_s - self.start_s, generated, acknowledged)]
        report = []
        for (index, t0, gen0, ack0), (_, t1, gen1, ack1) in zip(self._marks, ends, strict=True):
            seconds = max(t1 - t0, 1e-9)
            stage = self.shape.stages[index]
            report.append(StageRate(stage.name, round(seconds, 1), stage.mean_rate, (gen1 - gen0) / seconds,
                                    (ack1 - ack0) / seconds))  # fmt: skip
        return report
