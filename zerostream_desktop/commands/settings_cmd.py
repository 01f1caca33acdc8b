"""`zerostream settings`: the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import json

from zerostream_desktop.commands.common import settings_from_args
from zerostream_desktop.core.secrets import open_secret_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("settings", help="show the effective settings and their sources")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings, sources = settings_from_args(args)
    rows = []
    for name, field in type(settings).model_fields.items():
        alias = field.alias or name
        value = getattr(settings, name)
        source = sources[alias].source if alias in sources else "default"
        rows.append((alias, "" if value is None else str(value), source))
    store = open_secret_store()
    if args.json:
        print(
            json.dumps({"settings": {a: {"value": v, "source": s} for a, v, s in rows}, "secrets": store.description})
        )
        return 0
    width = max(len(a) for a, _, _ in rows)
    for alias, value, source in rows:
        print(f"{alias.ljust(width)}  {value}  [{source}]")
    print(f"\nsecrets: {store.description}")
    return 0
