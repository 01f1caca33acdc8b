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
import base64
import json
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


def _spools(args: argparse.Namespace) -> tuple[Any, list[Path], list[Path]]:
    settings, _ = settings_from_args(args)
    folder = settings.data_dir / "spool"
    files = sorted(folder.glob("*.sqlite")) if folder.is_dir() else []
    damaged = sorted(folder.glob("*.sqlite.corrupt-*")) if folder.is_dir() else []
    return settings, files, [d for d in damaged if not d.name.endswith(("-wal", "-shm"))]


def _target_of(path: Path) -> str:
    return path.name.removesuffix(".sqlite").split("@")[0]


def _configured(settings: Any) -> str:
    from zerostream_desktop.core.ingest.targets import spool_stem

    if settings.endpoint == "local":
        return f"local-{settings.full_table_name}"
    try:
        from zerostream_desktop.core.ingest.targets import databricks_target

        return spool_stem(databricks_target(settings))
    except ValueError:
        return ""


def _age(us: int | None) -> str:
    if us is None:
        return "–"
    s = max(0.0, time.time() - us / 1e6)
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def run_status(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool import Spool, held

    settings, files, damaged = _spools(args)
    if not files and not damaged:
        print(f"no spool in {settings.data_dir / 'spool'}: nothing waits to be sent")
        return 0
    configured = _configured(settings)
    for path in files:
        busy = held(path)
        spool = Spool(path)
        try:
            notes = []
            if busy:
                notes.append("in use by a running producer")
            if _target_of(path) != configured:
                notes.append("for a target not configured now: its records wait for it")
            print(f"{path.name}{'  (' + '; '.join(notes) + ')' if notes else ''}")
            size = f"{spool.size_bytes / 1e6:,.2f} MB"
            print(f"  waiting {spool.depth:,} records ({size}), oldest {_age(spool.oldest_us())}")
            letters = spool.dead_letters(limit=100_000)
            print(f"  dead letters {len(letters):,}")
            reasons: dict[str, int] = {}
            for letter in letters:
                reasons[letter.reason] = reasons.get(letter.reason, 0) + 1
            for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
                print(f"    {n:>7,}  {reason}")
        finally:
            spool.close()
    for path in damaged:
        print(f"{path.name}  (a damaged spool moved aside: what could be read was kept; remove it when done)")
    return 0


def _record(payload: bytes) -> dict[str, Any] | None:
    """A spooled payload as the sensor event it is, when it is one (proto or JSON)."""
    from google.protobuf.json_format import MessageToDict

    from zerostream_desktop.core import schema

    try:
        return dict(json.loads(payload))
    except (ValueError, TypeError, UnicodeDecodeError):
        pass
    try:
        decoded: dict[str, Any] = MessageToDict(
            schema.message_class().FromString(payload), preserving_proto_field_name=True
        )
        return decoded
    except Exception:  # not a sensor event (another table's records): the raw bytes are exported
        return None


def run_export(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool import Spool

    _, files, _ = _spools(args)
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    n = 0
    try:
        for path in files:
            spool = Spool(path)
            try:
                items: list[dict[str, Any]] = []
                if args.dead_letters:
                    for d in spool.dead_letters(limit=10_000_000):
                        items.append({"event_id": d.event_id, "reason": d.reason, "failed_at_us": d.failed_at_us,
                                      "payload": d.payload})  # fmt: skip
                else:
                    for r in spool.waiting():
                        items.append({"event_id": r.event_id, "device": r.device, "spooled_at_us": r.created_us,
                                      "payload": r.payload})  # fmt: skip
            finally:
                spool.close()
            for item in items:
                payload = item.pop("payload")
                item["spool"] = path.name
                item["record"] = _record(payload)
                if item["record"] is None:
                    item["payload_base64"] = base64.b64encode(payload).decode()
                out.write(json.dumps(item) + "\n")
                n += 1
    finally:
        if args.out:
            out.close()
    print(f"exported {n:,} {'dead letters' if args.dead_letters else 'waiting records'}", file=sys.stderr)
    return 0


def _free_spools(files: list[Path]) -> tuple[list[Path], list[Path]]:
    from zerostream_desktop.core.ingest.spool import held

    busy = [p for p in files if held(p)]
    return [p for p in files if p not in busy], busy


def run_retry(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool import Spool

    _, files, _ = _spools(args)
    free, busy = _free_spools(files)
    total = 0
    for path in free:
        spool = Spool(path)
        try:
            total += spool.retry_dead_letters()
        finally:
            spool.close()
    print(f"{total:,} dead letters put back to be sent (the next run for their target sends them)")
    for path in busy:
        print(f"left {path.name} alone: a running producer holds it; stop it first", file=sys.stderr)
    return 1 if busy else 0


def run_discard(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.ingest.spool import Spool

    _, files, _ = _spools(args)
    free, busy = _free_spools(files)
    what = "waiting records" if args.waiting else "dead letters"
    counts = []
    for path in free:
        spool = Spool(path)
        try:
            counts.append(spool.depth if args.waiting else spool.dead_letter_count())
        finally:
            spool.close()
    total = sum(counts)
    if total and not args.yes:
        answer = input(f"Delete {total:,} {what} for good? They will never reach the table. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    gone = 0
    for path in free:
        spool = Spool(path)
        try:
            gone += spool.discard(dead_letters=not args.waiting)
        finally:
            spool.close()
    print(f"deleted {gone:,} {what}")
    for path in busy:
        print(f"left {path.name} alone: a running producer holds it; stop it first", file=sys.stderr)
    return 1 if busy else 0
