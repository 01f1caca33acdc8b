"""`zerostream stream`: run the fleet headless and stream it to ZeroBus (load tests from a server)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from zerostream_desktop import stream_target
from zerostream_desktop.commands.common import add_fleet_arguments, build_fleet, fleet_settings
from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.pump import FleetPump
from zerostream_desktop.core.ingest.spool import DEFAULT_MAX_RECORDS
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.stream_target import StreamConnection, StreamTargetError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stream", help="stream the simulated fleet to ZeroBus, headless")
    add_fleet_arguments(p)
    p.add_argument(
        "--duration",
        type=ranged(float, 0.1, 604_800, "s"),
        default=60.0,
        help="seconds to generate events (default 60)",
    )
    p.add_argument("--endpoint", choices=("local", "databricks"), help="default ZEROSTREAM_ENDPOINT (local)")
    p.add_argument("--format", choices=("proto", "json"), default="proto", help="record format (default proto)")
    p.add_argument(
        "--batch-size", type=ranged(int, 1, 100_000), default=1000, help="records per ingest call (default 1000)"
    )
    p.add_argument(
        "--spool-max", type=ranged(int, 1_000, 1_000_000_000), default=DEFAULT_MAX_RECORDS, help="spool bound, records"
    )
    p.add_argument(
        "--stop-timeout", type=ranged(float, 0, 3_600, "s"), default=30.0, help="seconds to drain the spool at the end"
    )
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no live view")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = fleet_settings(args, endpoint=args.endpoint)
    fleet = build_fleet(settings, args, time.time())
    connection = None
    try:
        connection = stream_target.open_stream_target(settings, producer="stream", spool_max=args.spool_max)
        streamer = Streamer(connection.target, connection.spool, json_mode=args.format == "json",
                            batch_size=args.batch_size)  # fmt: skip
        summary = asyncio.run(_stream(args, fleet, streamer, connection))
    except (StreamTargetError, ValueError) as exc:
        print(f"zerostream stream: {exc}", file=sys.stderr)
        return 2
    finally:
        if connection is not None:
            connection.close()
    summary["seed"] = fleet.seed
    if settings.endpoint == "local":
        summary["duplicates"] = count_duplicates(settings, summary["started_at_us"])
    _print_summary(summary, args.json)
    return 0 if summary["state"] != StreamState.PAUSED and summary["spool_depth"] == 0 else 1


async def _stream(
    args: argparse.Namespace, fleet: Fleet, streamer: Streamer, connection: StreamConnection
) -> dict[str, Any]:
    runner = asyncio.create_task(streamer.run())
    watchdog = asyncio.create_task(connection.watchdog.run()) if connection.watchdog is not None else None
    start = time.time()
    pump = FleetPump(fleet, streamer)
    pumping = asyncio.create_task(pump.run(until=lambda: time.time() - start >= args.duration))
    view = _LiveView(streamer, quiet=args.quiet)
    while not pumping.done():
        await asyncio.wait({pumping}, timeout=1.0)
        view.show(time.time() - start)
    throttled = pump.throttled_ticks
    generating_s = time.time() - start
    await streamer.stop(args.stop_timeout)
    await runner
    if watchdog is not None:
        watchdog.cancel()
    view.show(time.time() - start, final=True)
    s = streamer.stats
    return {
        "state": s.state if s.state is StreamState.PAUSED else ("drained" if not streamer.spool.depth else "stopped"),
        "error": s.last_error or None,
        "started_at_us": int(start * 1_000_000),
        "devices": len(fleet),
        "generated": s.generated,
        "sent": s.sent,
        "acknowledged": s.acked,
        "resent": s.resent,
        "rejected": s.rejected,
        "spool_depth": streamer.spool.depth,
        "dead_letters": streamer.spool.dead_letter_count(),
        "throttled_ticks": throttled,
        "localbus_restarts": connection.watchdog.restarts if connection.watchdog is not None else 0,
        "generated_per_s": s.generated / generating_s,
        "acknowledged_per_s": s.acked / max(time.time() - start, 1e-9),
        "bytes_acknowledged": s.bytes_acked,
        "ack_latency_ms": {"p50": s.latency(50), "p95": s.latency(95), "p99": s.latency(99)},
    }


class _LiveView:
    def __init__(self, streamer: Streamer, quiet: bool) -> None:
        self.streamer = streamer
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = (0.0, 0, 0)

    def show(self, elapsed: float, final: bool = False) -> None:
        if self.quiet:
            return
        s = self.streamer.stats
        t0, g0, a0 = self._last
        dt = max(elapsed - t0, 1e-9)
        self._last = (elapsed, s.generated, s.acked)
        line = (
            f"{elapsed:6.1f}s  {s.state:<12} generated {s.generated:>10,} ({(s.generated - g0) / dt:>8,.0f}/s)  "
            f"acked {s.acked:>10,} ({(s.acked - a0) / dt:>8,.0f}/s)  in flight {self.streamer.in_flight:>7,}  "
            f"spool {self.streamer.spool.depth:>8,}  ack p50 {s.latency(50):5.0f} ms p95 {s.latency(95):5.0f} ms"
        )
        if s.state is StreamState.PAUSED or (s.last_error and s.state is StreamState.RECONNECTING):
            line += f"\n        {s.last_error}"
        end = "\n" if (final or not self.tty) else "\r"
        print(line, end=end, file=sys.stderr, flush=True)


def count_duplicates(settings: Settings, since_us: int) -> int | None:
    """Extra copies of the events that landed during the run (local tables only).

    A copy counts whether the other one landed in this run or before it (a record committed but
    not acknowledged when a previous run died, then resent from the spool).
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from zerostream_desktop.localbus.tables import TableCatalog, UnknownTableError

    try:
        table = TableCatalog(settings.data_dir).open(settings.full_table_name)
    except UnknownTableError:
        return None
    import datetime as dt

    since = dt.datetime.fromtimestamp(since_us / 1_000_000, tz=dt.UTC)
    dataset = table.to_pyarrow_dataset()
    recent = dataset.to_table(columns=["event_id"], filter=ds.field("ingested_at") >= since)["event_id"]
    if len(recent) == 0:
        return 0
    ids = dataset.to_table(columns=["event_id"], filter=ds.field("event_id").isin(pc.unique(recent)))["event_id"]
    return int(len(ids) - pc.count_distinct(ids).as_py())


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=str))
        return
    lat = summary["ack_latency_ms"]
    print(
        f"{summary['state']}: generated {summary['generated']:,}, acknowledged {summary['acknowledged']:,}, "
        f"resent {summary['resent']:,}, duplicates {summary.get('duplicates')}, rejected {summary['rejected']:,}, "
        f"left in spool {summary['spool_depth']:,}; {summary['acknowledged_per_s']:,.0f} events/s acknowledged; "
        f"ack latency p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms"
    )
    if summary["error"]:
        print(f"last error: {summary['error']}")
