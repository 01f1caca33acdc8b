"""`zerostream simulate`: the fleet's events as JSON lines on stdout, no endpoint needed.

Each record is stamped as sent at its tick (`ingested_at`). Useful to look at what devices send, or
to feed other tools. By default the clock is simulated (as fast as possible); `--realtime` paces
events at wall-clock speed.
"""

from __future__ import annotations

import argparse
import sys
import time

from zerostream_desktop.commands.common import add_fleet_arguments, build_fleet, fleet_settings
from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.encoding import encode_json, stamp_sent

TICK_S = 0.1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="print simulated sensor events as JSON lines")
    add_fleet_arguments(p)
    p.add_argument(
        "--duration", type=ranged(float, 0.1, 604_800, "s"), default=10.0, help="seconds of device time (default 10)"
    )
    p.add_argument("--realtime", action="store_true", help="pace events at wall-clock speed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    start = time.time()
    fleet = build_fleet(fleet_settings(args), args, start, command="simulate")
    out = sys.stdout
    steps = int(args.duration / TICK_S)
    for k in range(1, steps + 1):
        now = start + k * TICK_S
        if args.realtime:
            time.sleep(max(0.0, now - time.time()))
        batch = fleet.advance(now)
        if len(batch):
            # as a sender would send them at `now` (the send time is a field of the record: ZeroBus fills none)
            out.write("\n".join(stamp_sent(encode_json(batch), int(now * 1_000_000))) + "\n")
    rest = fleet.faults.flush() if fleet.faults is not None else None  # devices still offline upload at the end
    if rest is not None and len(rest):
        out.write("\n".join(stamp_sent(encode_json(rest), int(now * 1_000_000))) + "\n")
    out.flush()
    if fleet.faults is not None:
        fleet.faults.log.close()
    return 0
