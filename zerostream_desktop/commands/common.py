"""What subcommands share: settings from the global flags, and the fleet options."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.configured_fleet import fleet_from_settings
from zerostream_desktop.core.fleet import FaultLog, FaultSpec, FaultSpecError, Fleet, ModeMix, TraceError, load_trace
from zerostream_desktop.core.paths import ensure_private_dir
from zerostream_desktop.core.settings import Settings, Sourced, resolve_settings


class UsageError(Exception):
    """A bad command-line value; the CLI prints it and exits with status 2."""


def settings_from_args(args: argparse.Namespace, **flags: Any) -> tuple[Settings, dict[str, Sourced]]:
    if getattr(args, "data_dir", None):
        flags["data_dir"] = args.data_dir
    return resolve_settings(flags)


def add_fleet_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=ranged(int, 0, 10_000), help="number of devices (default SIM_DEVICES)")
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


def fleet_settings(args: argparse.Namespace, **flags: Any) -> Settings:
    """Settings with the fleet options of the command line on top."""
    settings, _ = settings_from_args(
        args,
        sim_devices=args.devices,
        stream_interval_ms=args.interval_ms,
        sim_seed=args.seed,
        sim_region=args.region,
        **flags,
    )
    return settings


def build_fleet(settings: Settings, args: argparse.Namespace, start: float, command: str = "run") -> Fleet:
    """The fleet for a command, trace assigned, faults set (logged under the data folder), started at `start`."""
    try:
        fleet = fleet_from_settings(settings, ModeMix.parse(args.mode_mix) if args.mode_mix else None)
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
