"""`zerostream stream`: run the fleet headless and stream it to ZeroBus (load tests from a server)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from zerostream_desktop import stream_target
from zerostream_desktop.commands.common import add_fleet_arguments, build_fleet, fleet_settings
from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.fleet import DeviceClock, Fleet, LoadShape, LoadShapeError, parse_load_shape
from zerostream_desktop.core.ingest.pump import FleetPump
from zerostream_desktop.core.ingest.spool import DEFAULT_MAX_RECORDS
from zerostream_desktop.core.ingest.streamer import StreamState
from zerostream_desktop.core.ingest.streams import (
    AUTO_SHARE,
    PER_STREAM_RECORDS_S,
    StreamGroup,
    parse_streams,
    streams_for_rate,
)
from zerostream_desktop.core.native_output import native_output_to
from zerostream_desktop.core.paths import ensure_private_dir
from zerostream_desktop.core.settings import MAX_STREAMS, Settings
from zerostream_desktop.stream_target import StreamConnection, StreamTargetError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stream", help="stream the simulated fleet to ZeroBus, headless")
    add_fleet_arguments(p)
    p.add_argument(
        "--duration",
        type=ranged(float, 0.1, 604_800, "s"),
        help="seconds to generate events (default 60, or the --load shape's length)",
    )
    p.add_argument(
        "--load",
        metavar="SHAPE",
        type=_load_shape,
        help="a target rate over time, met by setting the devices' interval (overrides --interval): "
        "constant:RATE[/LENGTH], ramp:FROM-TO/LENGTH, steps:R1,R2,.../STEP, spike:BASE,PEAK@AT+LEN[/LENGTH]; "
        "e.g. ramp:1k-50k/60s. The summary gives the rate reached in each stage",
    )
    p.add_argument(
        "--streams",
        metavar="N",
        type=_streams,
        default=None,
        help="ZeroBus streams to spread the devices over, each with its own spool and acknowledgements (1 to "
        f"{MAX_STREAMS}; default auto: one per {PER_STREAM_RECORDS_S * AUTO_SHARE:,.0f} events/s offered, "
        f"as the service takes about {PER_STREAM_RECORDS_S:,} a stream)",
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
    p.add_argument("--ledger", type=Path, help=argparse.SUPPRESS)  # the fault campaign: ids appended once spooled
    p.set_defaults(func=run)


def _load_shape(text: str) -> LoadShape:
    try:
        return parse_load_shape(text)
    except LoadShapeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _streams(text: str) -> int | None:
    try:
        return parse_streams(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def offered_rate(fleet: Fleet, shape: LoadShape | None) -> float:
    """Events a second the run asks for at its peak: the shape's highest rate, else devices x interval."""
    if shape is not None:
        return shape.peak_rate
    return fleet.offered_per_s


def _keep_ledger(streamer: StreamGroup, path: Path) -> None:
    """Append the ids of every batch to `path` once the spool holds it (the campaign's record of what was
    handed over: every id in it must reach the table, whatever happens to the processes)."""
    ledger = path.open("a", encoding="utf-8")
    lock = threading.Lock()

    def note(batch: Any) -> None:
        with lock:
            ledger.write("".join(f"{e}\n" for e in batch.event_ids()))
            ledger.flush()

    streamer.on_spooled = note


EARLY_STOP: list[str] = []  # a signal before the event loop runs (while localbus starts): stop at once


def run(args: argparse.Namespace) -> int:
    EARLY_STOP.clear()
    main_thread = threading.current_thread() is threading.main_thread()  # signals reach the main thread only
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    for sig in previous:  # until _stream takes over: noted, and the run ends right after it starts
        signal.signal(sig, lambda signum, _frame: EARLY_STOP.append(signal.Signals(signum).name))
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    if args.duration is None:
        args.duration = args.load.length_s if args.load else 60.0
    settings = fleet_settings(args, endpoint=args.endpoint)
    clock = DeviceClock()  # durations and the schedule on the monotonic clock: a clock step changes neither
    fleet = build_fleet(settings, args, clock.schedule(), command="stream")
    if args.load is not None and args.shard is not None:  # the shape is the whole fleet's: this shard offers its part
        args.load = args.load.share(len(fleet) / max(args.fleet_devices, 1))
    log_path = ensure_private_dir(settings.data_dir / "logs") / "stream.log"
    with native_output_to(log_path) as terminal:
        connection = None
        streams = args.streams or streams_for_rate(offered_rate(fleet, args.load))
        try:
            connection = stream_target.open_stream_target(
                settings, producer="stream", spool_max=args.spool_max, streams=streams
            )
            streamer = connection.group(json_mode=args.format == "json", batch_size=args.batch_size)
            if args.ledger:
                _keep_ledger(streamer, args.ledger)
            summary = asyncio.run(_stream(args, fleet, clock, streamer, connection, terminal))
        except (StreamTargetError, ValueError) as exc:
            print(f"zerostream stream: {exc}", file=terminal)
            return 2
        else:
            stack = connection.stack
            if summary["error"] and stack is not None and stack.other_token:
                summary["error"] += f" ({stack.other_token})"
        finally:
            if connection is not None:
                connection.close()
    summary["log"] = str(log_path)
    if summary["spool_depth"] and not summary["error"]:  # the SDK retried on its own and said nothing to us
        summary["error"] = (f"{summary['spool_depth']:,} records were not acknowledged in time; they wait in the "
                            f"spool for the next run (the endpoint's reasons are in {log_path})")  # fmt: skip
    if summary["held_unspooled"]:
        summary["error"] = (f"{summary['held_unspooled']:,} generated events could not be written to the spool "
                            f"before the end (its disk was full) and were not sent")  # fmt: skip
    summary["seed"] = fleet.seed
    if args.shard is not None:
        summary["shard"] = {"shard": str(args.shard), "fleet_devices": args.fleet_devices,
                            "first_device": args.first_device, "devices": len(fleet)}  # fmt: skip
    if fleet.faults is not None:
        injected = fleet.faults.log.counts()
        summary["faults"] = {"spec": str(fleet.faults.spec), "log": str(fleet.faults.log.path), "injected": injected}
        fleet.faults.log.close()
    if settings.endpoint == "local":
        summary["duplicates"] = count_duplicates(settings, summary["started_at_us"])
        if fleet.faults is not None and summary["duplicates"] is not None:  # sent twice on purpose, apart
            summary["injected_duplicates"] = fleet.faults.log.counts().get("dup", 0)
            summary["delivery_duplicates"] = summary["duplicates"] - summary["injected_duplicates"]
    _print_summary(summary, args.json)
    finished = summary["state"] != StreamState.PAUSED and not summary["spool_depth"] and not summary["held_unspooled"]
    return 0 if finished else 1


async def _stream(
    args: argparse.Namespace,
    fleet: Fleet,
    clock: DeviceClock,
    streamer: StreamGroup,
    connection: StreamConnection,
    terminal: TextIO,
) -> dict[str, Any]:
    runner = asyncio.create_task(streamer.run())
    watchdog = asyncio.create_task(connection.watchdog.run()) if connection.watchdog is not None else None
    started_at = time.time()
    start = clock.elapsed()
    pump = FleetPump(fleet, streamer, clock=clock)
    if args.load is not None:
        pump.follow(args.load)
    asked_to_stop: list[str] = list(EARLY_STOP)  # SIGTERM or Ctrl+C: stop generating, send what is spooled, end
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if asked_to_stop:  # asked twice: end now; what was not acknowledged stays in the spool for the next run
            print("\nstopping at once: what was not acknowledged stays in the spool", file=terminal, flush=True)
            os._exit(130)
        asked_to_stop.append(name)
        print(f"\n{name}: stopping; sending what is spooled (again to stop at once)", file=terminal, flush=True)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
            loop.add_signal_handler(sig, on_signal, sig.name)
    pumping = asyncio.create_task(
        pump.run(until=lambda: bool(asked_to_stop) or clock.elapsed() - start >= args.duration)
    )
    view = _LiveView(streamer, quiet=args.quiet, out=terminal)
    restarts = 0
    while not pumping.done():
        await asyncio.wait({pumping}, timeout=1.0)
        view.show(clock.elapsed() - start)
        now_restarts = connection.watchdog.restarts if connection.watchdog is not None else 0
        if now_restarts > restarts and not args.quiet:
            note = "localbus had stopped: started it again on the same port (what it had not acknowledged is resent)"
            print(f"\n{clock.elapsed() - start:6.1f}s  {note}", file=terminal, flush=True)
        restarts = now_restarts
    throttled = pump.throttled_ticks
    generating_s = clock.elapsed() - start
    crashed = None if pumping.cancelled() else pumping.exception()
    if crashed is not None:
        log.error("generating stopped", exc_info=crashed)
    backlog = fleet.faults.flush() if fleet.faults is not None else None  # offline devices upload at the end
    if backlog is not None and len(backlog):
        await loop.run_in_executor(None, streamer.submit, backlog)
        streamer.notify()
    deadline = clock.elapsed() + args.stop_timeout
    while streamer.held and clock.elapsed() < deadline:  # the spool's disk was full: what waits goes in first
        await loop.run_in_executor(None, streamer.retry_held, 0.5)
        if streamer.held:
            await asyncio.sleep(0.5)
    await streamer.stop(args.stop_timeout, through_reconnects=True)
    await runner
    if watchdog is not None:
        watchdog.cancel()
    view.show(clock.elapsed() - start, final=True)
    s = streamer.stats
    return {
        "state": s.state if s.state is StreamState.PAUSED else ("drained" if not streamer.spool.depth else "stopped"),
        "error": (f"generating stopped: {crashed}" if crashed else None) or s.last_error or None,
        "started_at_us": int(started_at * 1_000_000),
        "devices": len(fleet),
        "generated": s.generated,
        "sent": s.sent,
        "acknowledged": s.acked,
        "resent": s.resent,
        "rejected": s.rejected,
        "spool_depth": streamer.spool.depth,
        "held_unspooled": streamer.held,  # events the spool could not take before the end (its disk full): lost
        "dead_letters": streamer.spool.dead_letter_count(),
        "throttled_ticks": throttled,
        "localbus_restarts": connection.watchdog.restarts if connection.watchdog is not None else 0,
        "generated_per_s": s.generated / generating_s,
        "acknowledged_per_s": s.acked / max(clock.elapsed() - start, 1e-9),
        "bytes_acknowledged": s.bytes_acked,
        "ack_latency_ms": {"p50": s.latency(50), "p95": s.latency(95), "p99": s.latency(99)},
        "state_seconds": {k: round(v, 1) for k, v in view.state_seconds.items()},
        "stopped_by": asked_to_stop[0] if asked_to_stop else None,
        "streams": [dataclasses.asdict(f) for f in streamer.figures()],
        **({"load": _load_summary(pump)} if pump.load is not None else {}),
    }


def _load_summary(pump: FleetPump) -> dict[str, Any]:
    assert pump.load is not None
    stages = [dataclasses.asdict(r) for r in pump.stage_report()]
    for stage in stages:
        for key in ("target_per_s", "generated_per_s", "acknowledged_per_s"):
            stage[key] = round(stage[key], 1)
    return {"shape": pump.load.shape.text, "stages": stages, "capped": pump.load.capped}


class _LiveView:
    """One line a second on the terminal; a line of its own when the state changes, with the reason.
    Also keeps how long the stream spent in each (visible) state, for the summary."""

    def __init__(self, streamer: StreamGroup, quiet: bool, out: TextIO) -> None:
        self.streamer = streamer
        self.quiet = quiet
        self.out = out
        self.tty = out.isatty()
        self._last = (0.0, 0, 0)
        self.state_seconds: dict[str, float] = {}
        self._state: tuple[str, float] | None = None  # (state, since elapsed)
        self._spool_error = ""

    def _track(self, elapsed: float) -> str | None:
        state = str(self.streamer.visible_state())
        if self._state is not None:
            was, since = self._state
            self.state_seconds[was] = self.state_seconds.get(was, 0.0) + (elapsed - since)
            if was == state:
                self._state = (state, elapsed)
                return None
        self._state = (state, elapsed)
        return state

    def show(self, elapsed: float, final: bool = False) -> None:
        changed = self._track(elapsed)
        if self.quiet:
            return
        s = self.streamer.stats
        if changed and changed not in ("streaming", "connecting", "stopped"):
            reason = s.last_error.strip().splitlines()[0] if s.last_error.strip() else ""
            print(f"\n{elapsed:6.1f}s  {changed}{': ' + reason if reason else ''}", file=self.out, flush=True)
        if s.spool_error != self._spool_error:
            self._spool_error = s.spool_error
            note = (f"cannot write the spool ({s.spool_error}): the fleet waits, holding {self.streamer.held:,} events"
                    if s.spool_error else "the spool takes events again")  # fmt: skip
            print(f"\n{elapsed:6.1f}s  {note}", file=self.out, flush=True)
        t0, g0, a0 = self._last
        dt = max(elapsed - t0, 1e-9)
        self._last = (elapsed, s.generated, s.acked)
        line = (
            f"{elapsed:6.1f}s  {self.streamer.visible_state():<12} "
            f"generated {s.generated:>10,} ({(s.generated - g0) / dt:>8,.0f}/s)  "
            f"acked {s.acked:>10,} ({(s.acked - a0) / dt:>8,.0f}/s)  in flight {self.streamer.in_flight:>7,}  "
            f"spool {self.streamer.spool.depth:>8,}  ack p50 {s.latency(50):5.0f} ms p95 {s.latency(95):5.0f} ms"
        )
        end = "\n" if (final or not self.tty) else "\r"
        print(line, end=end, file=self.out, flush=True)


def count_duplicates(settings: Settings, since_us: int) -> int | None:
    """Extra copies of the events that landed during the run (local tables only).

    A copy counts whether the other one landed in this run or before it (a record committed but
    not acknowledged when a previous run died, then resent from the spool).
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from zerostream_desktop.localbus.tables import DamagedTableError, TableCatalog, UnknownTableError

    try:
        table = TableCatalog(settings.data_dir).open(settings.full_table_name)
    except (UnknownTableError, DamagedTableError):
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
    if "shard" in summary:
        sh = summary["shard"]
        print(f"shard {sh['shard']}: devices {sh['first_device'] + 1:,} to {sh['first_device'] + sh['devices']:,} "
              f"of {sh['fleet_devices']:,} (seed {summary['seed']})")  # fmt: skip
    print(
        f"{summary['state']}: generated {summary['generated']:,}, acknowledged {summary['acknowledged']:,}, "
        f"resent {summary['resent']:,}, duplicates {summary.get('duplicates')}, rejected {summary['rejected']:,}, "
        f"left in spool {summary['spool_depth']:,}; {summary['acknowledged_per_s']:,.0f} events/s acknowledged; "
        f"ack latency p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms"
    )
    if len(summary["streams"]) > 1:
        print(f"{len(summary['streams'])} streams (a device always on the same one):")
        print(f"  {'stream':>6} {'acknowledged':>13} {'resent':>8} {'rejected':>8} {'in spool':>9} "
              f"{'ack p95 ms':>10}  state")  # fmt: skip
        for st in summary["streams"]:
            print(f"  {st['stream']:>6} {st['acknowledged']:>13,} {st['resent']:>8,} {st['rejected']:>8,} "
                  f"{st['spool_depth']:>9,} {st['ack_p95_ms']:>10.0f}  {st['state']}")  # fmt: skip
    away = {k: v for k, v in summary.get("state_seconds", {}).items() if k not in ("streaming", "stopped")}
    if away:
        print("time not streaming: " + ", ".join(f"{k} {v:.1f} s" for k, v in away.items()))
    if summary["error"]:
        print(f"last error: {summary['error']}")
    if "faults" in summary:
        faults = summary["faults"]
        injected = ", ".join(f"{k} {v:,}" for k, v in sorted(faults["injected"].items())) or "none yet"
        print(f"device faults ({faults['spec']}): {injected}; log: {faults['log']}")
        if "injected_duplicates" in summary:
            print(f"duplicates: {summary['injected_duplicates']:,} sent twice on purpose, "
                  f"{summary['delivery_duplicates']:,} from delivery (resent after a failure)")  # fmt: skip
    if "load" in summary:
        load = summary["load"]
        print(f"load {load['shape']}: rate reached in each stage (events/s)")
        print(f"  {'stage':<24} {'seconds':>8} {'target':>10} {'generated':>10} {'acknowledged':>13}")
        for st in load["stages"]:
            print(f"  {st['stage']:<24} {st['seconds']:>8.1f} {st['target_per_s']:>10,.0f} "
                  f"{st['generated_per_s']:>10,.0f} {st['acknowledged_per_s']:>13,.0f}")  # fmt: skip
        if load["capped"]:
            print("  (the fleet could not offer every rate asked: at most 10 events/s a device; add --devices)")
    print(f"log (the SDK's own lines included): {summary['log']}")
