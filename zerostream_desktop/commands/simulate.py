"""`zerostream simulate`: the fleet's events as JSON lines on stdout, no endpoint needed.

Useful to look at what devices send, or to feed other tools. By default the clock is simulated
(as fast as possible); `--realtime` paces events at wall-clock speed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np

from zerostream_desktop.commands.common import settings_from_args
from zerostream_desktop.core.encoding import encode_json
from zerostream_desktop.core.fleet import Fleet, ModeMix, Region, load_trace

TICK_S = 0.1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="print simulated sensor events as JSON lines")
    p.add_argument("--devices", type=int, help="number of devices (default SIM_DEVICES)")
    p.add_argument("--interval-ms", type=int, help="per-device interval (default STREAM_INTERVAL_MS)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of device time (default 10)")
    p.add_argument("--seed", type=int, help="seed (default SIM_SEED, else random)")
    p.add_argument("--region", help="'world', city names, or south,west,north,east")
    p.add_argument("--mode-mix", help="e.g. walking=4,cycling=2,driving=4")
    p.add_argument("--trace", help="GPX, GeoJSON or CSV track for every device to replay")
    p.add_argument("--time-scale", type=float, default=1.0, help="trace replay speed (default 1x)")
    p.add_argument("--realtime", action="store_true", help="pace events at wall-clock speed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings, _ = settings_from_args(
        args,
        sim_devices=args.devices,
        stream_interval_ms=args.interval_ms,
        sim_seed=args.seed,
        sim_region=args.region,
    )
    seed = settings.sim_seed if settings.sim_seed is not None else random.SystemRandom().randrange(2**32)
    fleet = Fleet(
        seed,
        settings.sim_devices,
        region=Region.parse(settings.sim_region),
        mode_mix=ModeMix.parse(args.mode_mix) if args.mode_mix else None,
        interval_ms=settings.stream_interval_ms,
        topic=settings.zerobus_topic,
    )
    start = time.time()
    if args.trace:
        fleet.assign_trace(load_trace(args.trace), np.arange(len(fleet)), start, args.time_scale)
    fleet.start(start)
    out = sys.stdout
    steps = int(args.duration / TICK_S)
    for k in range(1, steps + 1):
        now = start + k * TICK_S
        if args.realtime:
            time.sleep(max(0.0, now - time.time()))
        batch = fleet.advance(now)
        if len(batch):
            out.write("\n".join(encode_json(batch)) + "\n")
    out.flush()
    return 0
