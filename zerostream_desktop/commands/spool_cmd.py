"""`zerostream spool status|export|retry|discard`: what waits to be sent, and the records ZeroBus refused.

Every producer keeps its spool in `<data folder>/spool/<target>@<producer>.sqlite`. `status` lists them
all, with the records waiting, the oldest one's age, the dead letters and their reasons, and says
when a spool is for a target that is not the one configured now (its records wait for that table)
or is held by a running producer. `export` writes records or dead letters as JSON lines (the record
decoded where it is a sensor event), `retry` puts the dead letters back to be sent again, and
`discard` deletes them (or the waiting records) after asking. A spool in use is never changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from zerostream_desktop.commands.common import settings_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("spool", help="records waiting to be sent and the dead letters: list, export, retry, discard")
    actions = p.add_subparsers(dest="spool_action", metavar="ACTION", required=True)
    actions.add_parser("status", help="every spool: waiting records, oldest, dead letters and why").set_defaults(
        func=run_status
    )
    export = actions.add_parser("export", help="write records as JSON lines")
    export.add_argument("--dead-letters", action="store_true", help="the dead letters (default: waiting records)")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=run_export)
    retry = actions.add_parser("retry", help="send the dead letters again")
    retry.set_defaults(func=run_retry)
    discard = actions.add_parser("discard", help="delete the dead letters (or, with --waiting, what waits)")
    discard.add_argument("--waiting", action="store_true", help="the waiting records instead of the dead letters")
    discard.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    discard.set_defaults(func=run_discard)


def _configured(settings: Any) -> str:
    from zerostream_desktop.core.ingest.targets import databricks_target, spool_stem

    if settings.endpoint == "local":
        return f"local-{settings.full_table_name}"
    try:
        return spool_stem(databricks_target(settings))
    except ValueError:
        return ""


def _age(us: int | None) -> str:
    if us is None:
        return "–"
    s = max(0.0, time.time() - us / 1e6)
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def run_status(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool_admin import damaged_spools, spool_infos

    settings, _ = settings_from_args(args)
    infos = spool_infos(settings.data_dir, _configured(settings))
    damaged = damaged_spools(settings.data_dir)
    if not infos and not damaged:
        print(f"no spool in {settings.data_dir / 'spool'}: nothing waits to be sent")
        return 0
    for info in infos:
        notes = []
        if info.in_use:
            notes.append("in use by a running producer")
        if not info.configured:
            notes.append("for a target not configured now: its records wait for it")
        print(f"{info.path.name}{'  (' + '; '.join(notes) + ')' if notes else ''}")
        size = f"{info.size_bytes / 1e6:,.2f} MB"
        print(f"  waiting {info.waiting:,} records ({size}), oldest {_age(info.oldest_us)}")
        print(f"  dead letters {info.dead_letters:,}")
        for reason, n in list(info.reasons.items())[:10]:
            print(f"    {n:>7,}  {reason}")
    for path in damaged:
        print(f"{path.name}  (a damaged spool moved aside: what could be read was kept; remove it when done)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool_admin import export

    settings, _ = settings_from_args(args)
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        n = export(settings.data_dir, out, args.dead_letters)
    finally:
        if args.out:
            out.close()
    print(f"exported {n:,} {'dead letters' if args.dead_letters else 'waiting records'}", file=sys.stderr)
    return 0


def _left_alone(busy: list[Path]) -> int:
    for path in busy:
        print(f"left {path.name} alone: a running producer holds it; stop it first", file=sys.stderr)
    return 1 if busy else 0


def run_retry(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool_admin import retry_dead_letters

    settings, _ = settings_from_args(args)
    total, busy = retry_dead_letters(settings.data_dir)
    print(f"{total:,} dead letters put back to be sent (the next run for their target sends them)")
    return _left_alone(busy)


def run_discard(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool_admin import count, discard

    settings, _ = settings_from_args(args)
    what = "waiting records" if args.waiting else "dead letters"
    total = count(settings.data_dir, dead_letters=not args.waiting)
    if total and not args.yes:
        answer = input(f"Delete {total:,} {what} for good? They will never reach the table. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    gone, busy = discard(settings.data_dir, dead_letters=not args.waiting)
    print(f"deleted {gone:,} {what}")
    return _left_alone(busy)
