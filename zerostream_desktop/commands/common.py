"""What subcommands share: settings from the command line's global flags."""

from __future__ import annotations

import argparse
from typing import Any

from zerostream_desktop.core.settings import Settings, Sourced, resolve_settings


def settings_from_args(args: argparse.Namespace, **flags: Any) -> tuple[Settings, dict[str, Sourced]]:
    if getattr(args, "data_dir", None):
        flags["data_dir"] = args.data_dir
    return resolve_settings(flags)
