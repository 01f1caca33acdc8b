"""`zerostream gui` (the default): the desktop application."""

from __future__ import annotations

import argparse
import os
import sys

from zerostream_desktop.commands.common import settings_from_args

NO_DISPLAY_HELP = """\
zerostream: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the desktop window cannot open.
  - On a desktop, run it from a graphical session.
  - Headless, render offscreen (nothing is shown):  QT_QPA_PLATFORM=offscreen zerostream
  - Or run it on a virtual screen:                   xvfb-run -a zerostream
  - Stream to ZeroBus without a window (load tests): zerostream stream --devices 1000 --duration 60
  - Print simulated events without a window:        zerostream simulate --devices 10 --duration 10
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gui", help="open the desktop app (the default)")
    p.add_argument("--start", action="store_true", help="start simulating and streaming at once")
    p.set_defaults(func=run, start=False)


def display_available(environ: dict[str, str] | os._Environ[str] = os.environ, platform: str = sys.platform) -> bool:
    if not platform.startswith("linux"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM"))


def run(args: argparse.Namespace) -> int:
    settings, _ = settings_from_args(args)
    if not display_available():
        print(NO_DISPLAY_HELP, file=sys.stderr, end="")
        return 2
    from zerostream_desktop.ui.app import run_app

    return run_app(settings, start=args.start)
