"""Simulator throughput: events generated and encoded per second, one core.

For 10, 1,000 and 10,000 devices (1 s interval, 100 ms ticks of a simulated clock) it measures
generation alone, generation + proto encoding (our numpy encoder), generation + JSON encoding,
and, as a baseline in the same run, generation + proto encoding through the protobuf runtime
(one message object per event). Prints the median of several runs and the ratio to the baseline.

    .venv/bin/python bench/bench_fleet.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from results import Results

from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.fleet import EventBatch, Fleet

T0 = 1_800_000_000.0
TICK_S = 0.1


def runtime_proto(batch: EventBatch) -> list[bytes]:
    message = schema.message_class()
    out = []
    for row in batch.to_rows():
        m = message(**row)
        m.payload_bytes = 0
        out.append(m.SerializeToString())
    return out


def measure(devices: int, encode: Callable[[EventBatch], object] | None, min_events: int) -> float:
    fleet = Fleet(1234, devices, interval_ms=1000)
    fleet.start(T0)
    ticks = min(5_000, max(100, int(min_events / devices / TICK_S)))
    fleet.advance(T0 + TICK_S)  # warm caches (identity strings) outside the timing
    events = 0
    start = time.perf_counter()
    for k in range(2, ticks + 2):
        batch = fleet.advance(T0 + k * TICK_S)
        events += len(batch)
        if encode is not None:
            encode(batch)
    return events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    variants: dict[str, Callable[[EventBatch], object] | None] = {
        "generate only": None,
        "generate + proto (numpy)": encoding.encode_proto,
        "generate + JSON": encoding.encode_json,
        "generate + proto (runtime, baseline)": runtime_proto,
    }
    results = Results("fleet")
    print(f"fleet benchmark: median of {args.runs} runs, one core, events/s")
    print(f"{'devices':>8}  {'variant':<38} {'events/s':>12} {'vs baseline':>12}")
    for devices in (10, 1_000, 10_000):
        medians = {}
        for name, fn in variants.items():
            min_events = 20_000 if fn is runtime_proto else 100_000
            medians[name] = statistics.median(measure(devices, fn, min_events) for _ in range(args.runs))
        base = medians["generate + proto (runtime, baseline)"]
        for name, rate in medians.items():
            print(f"{devices:>8}  {name:<38} {rate:>12,.0f} {rate / base:>11.2f}x")
            results.add(f"fleet {devices:,} devices: {name}", rate, "events/s", ("protobuf runtime encoding", base))
    results.save()


if __name__ == "__main__":
    main()
