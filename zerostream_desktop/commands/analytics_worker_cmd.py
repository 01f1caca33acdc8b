"""`zerostream analytics-worker TABLE`: the desktop dashboard's reads of the local table, in their own process.

The app starts it (`core.analytics.worker`) and talks to it over standard input and output; it is not
meant to be run by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("analytics-worker", help="(started by the desktop app) its dashboard's reads of a local table")
    p.add_argument("table", type=Path, help="the local Delta table's folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.analytics.worker import serve

    return serve(args.table)
