"""What is wrong with a local Delta table, in words a user can act on, and the repair that loses nothing more.

A crash can leave the last commit of the log incomplete, and a data file can go missing (a disk
problem, a hand-made cleanup). `diagnose` names the file and the fix; `repair` moves an incomplete
last commit aside (the table then opens as of the version before it) and removes references to
missing data files with a new commit (delta-rs FSCK). Nothing is deleted or overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deltalake import DeltaTable


def _torn_last_commit(path: Path) -> Path | None:
    commits = sorted((Path(path) / "_delta_log").glob("[0-9]" * 20 + ".json"))
    if not commits:
        return None
    try:
        for line in commits[-1].read_text(encoding="utf-8").splitlines():
            if line.strip():
                json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return commits[-1]
    return None


def diagnose(path: Path) -> str | None:
    """What is wrong with the Delta table at `path` (the file and the fix), or None when it opens and reads."""
    commit = _torn_last_commit(path)
    if commit is not None:
        return (f"its last commit {commit} is incomplete (a write was cut off); the data before it is intact: "
                f"`zerostream localbus repair-table` moves that file aside so the table opens as of version "
                f"{int(commit.stem) - 1} (nothing is deleted or overwritten)")  # fmt: skip
    try:
        table = DeltaTable(str(path))
    except Exception as exc:  # delta-rs says what it could not read
        return f"it cannot be opened: {str(exc).splitlines()[0]}"
    missing = [uri for uri in table.file_uris() if uri.startswith("/") and not Path(uri).exists()]
    if missing:
        return (f"{len(missing)} data file(s) it lists are missing, e.g. {missing[0]}: restore them from a backup, "
                "or let `zerostream localbus repair-table` drop them from the table (their rows are lost)")  # fmt: skip
    return None


def repair(path: Path) -> list[str]:
    """Undo what `diagnose` finds, without deleting anything: a torn last commit is moved aside, references
    to missing data files are removed by a new commit (delta-rs FSCK). Returns what was done."""
    done = []
    last = _torn_last_commit(path)
    if last is not None:
        aside = last.with_name(last.name + ".torn")
        os.replace(last, aside)
        done.append(f"moved the incomplete commit {last.name} aside to {aside.name}")
    table = DeltaTable(str(path))
    metrics = table.repair(dry_run=False)
    removed = metrics.get("files_removed") or []
    if removed:
        done.append(f"removed {len(removed)} missing data file(s) from the table: {', '.join(removed[:3])}")
    return done
