"""What subcommands share: settings from the global flags, and the fleet options."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.configured_fleet import fleet_from_settings
from zerostream_desktop.core.fleet import (
    MAX_DEVICES,
    MAX_FLEET_DEVICES,
    FaultLog,
    FaultSpec,
    FaultSpecError,
    Fleet,
    ModeMix,
    Shard,
    ShardError,
    TraceError,
    load_trace,
    parse_shard,
)
from zerostream_desktop.core.paths import ensure_private_dir
from zerostream_desktop.core.settings import Settings, Sourced, resolve_settings


class UsageError(Exception):
    """A bad command-line value; the CLI prints it and exits with status 2."""


def settings_from_args(args: argparse.Namespace, **flags: Any) -> tuple[Settings, dict[str, Sourced]]:
    if getattr(args, "data_dir", None):
        flags["data_dir"] = args.data_dir
    return resolve_settings(flags)


def add_fleet_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--devices",
        type=ranged(int, 0, MAX_FLEET_DEVICES),
        help=f"number of devices (default SIM_DEVICES; at most {MAX_DEVICES:,} a process: with --shard, the whole "
        "fleet's)",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        type=_shard,
        help="run the I-th of N slices of the fleet (1/4 to 4/4): N processes, on as many machines, with the same "
        "--seed and --devices make one fleet between them, every device in exactly one",
    )
    p.add_argument(
        "--interval-ms", type=ranged(int, 10, 3_600_000, "ms"), help="per-device interval (default STREAM_INTERVAL_MS)"
    )
    p.add_argument("--seed", type=ranged(int, 0, 2**63 - 1), help="simulator seed (default SIM_SEED, else random)")
    p.add_argument("--region", help="'world', city names, or south,west,north,east")
    p.add_argument("--mode-mix", help="e.g. walking=4,cycling=2,driving=4")
    p.add_argument("--trace", help="GPX, GeoJSON or CSV track for every device to replay")
    p.add_argument("--time-scale", type=ranged(float, 0.01, 1000), default=1.0, help="trace replay speed (default 1x)")
    p.add_argument(
        "--faults", metavar="SPEC",
        help="device faults: a preset (clean, urban-phones, bad-network, chaos) or kind=rate[:duration],... with "
        "kinds dropout, jump, skew, offline, dead, dup, spike; e.g. dropout=0.02,jump=0.005,offline=0.01:120s,"
        "dup=0.01 (logged to the data folder's faults/)",
    )  # fmt: skip


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fleet_settings(args: argparse.Namespace, **flags: Any) -> Settings:
    """Settings with the fleet options of the command line on top; with --shard, SIM_DEVICES is the slice
    (`args.first_device` where it starts in the whole fleet of `args.fleet_devices`)."""
    devices = args.devices
    args.first_device, args.fleet_devices = 0, devices
    shard: Shard | None = getattr(args, "shard", None)
    if shard is not None:
        configured = settings_from_args(args, sim_seed=args.seed)[0]
        if configured.sim_seed is None:
            raise UsageError(f"--shard {shard}: give every shard the same --seed (or SIM_SEED), or they make "
                             "different fleets")  # fmt: skip
        if devices is None:
            devices = configured.sim_devices
        part = shard.devices(devices)
        if len(part) > MAX_DEVICES:
            need = -(-devices // MAX_DEVICES)
            raise UsageError(f"--shard {shard} of {devices:,} devices is {len(part):,}: a process runs at most "
                             f"{MAX_DEVICES:,}; use at least {need} shards")  # fmt: skip
        args.first_device, args.fleet_devices, devices = part.start, devices, len(part)
    elif devices is not None and devices > MAX_DEVICES:
        raise UsageError(f"--devices {devices:,}: a process runs at most {MAX_DEVICES:,} devices; run the fleet as "
                         f"shards, e.g. --shard 1/{-(-devices // MAX_DEVICES)} ... on as many processes")  # fmt: skip
    settings, _ = settings_from_args(
        args,
        sim_devices=devices,
        stream_interval_ms=args.interval_ms,
        sim_seed=args.seed,
        sim_region=args.region,
        **flags,
    )
    return settings


def build_fleet(settings: Settings, args: argparse.Namespace, start: float, command: str = "run") -> Fleet:
    """The fleet for a command, trace assigned, faults set (logged under the data folder), started at `start`."""
    try:
        mix = ModeMix.parse(args.mode_mix) if args.mode_mix else None
        fleet = fleet_from_settings(settings, mix, first_index=getattr(args, "first_device", 0))
        if args.trace:
            fleet.assign_trace(load_trace(args.trace), np.arange(len(fleet)), start, args.time_scale)
        spec = FaultSpec.parse(getattr(args, "faults", None))
    except (TraceError, ValueError) as exc:
        raise UsageError(f"--faults: {exc}" if isinstance(exc, FaultSpecError) else str(exc)) from None
    if spec.active:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(start))
        folder = ensure_private_dir(settings.data_dir / "faults")
        fleet.set_faults(spec, FaultLog(folder / f"{command}-{stamp}-{os.getpid()}.jsonl"))
    fleet.start(start)
    return fleet
