"""The `zerostream` command: the desktop app by default, subcommands for headless work.

Each subcommand lives in its own module exposing `register(subparsers)`; it sets `func` on its
parser. Later work adds `stream`, `localbus`, `setup` and `apps` the same way.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from zerostream_desktop import __version__
from zerostream_desktop.commands.common import UsageError
from zerostream_desktop.core import paths
from zerostream_desktop.core.native_output import leave
from zerostream_desktop.core.secrets import redact_library_logs
from zerostream_desktop.core.settings import SettingsError

DELTA_MALLOC_CONF_ENV = "_RJEM_MALLOC_CONF"  # the prefixed jemalloc that the deltalake wheel links
DELTA_MALLOC_CONF = "dirty_decay_ms:500,muzzy_decay_ms:0,narenas:2,background_thread:true"

# module paths of subcommands; each has register(subparsers)
COMMAND_MODULES = (
    "zerostream_desktop.commands.gui",
    "zerostream_desktop.commands.settings_cmd",
    "zerostream_desktop.commands.simulate",
    "zerostream_desktop.commands.localbus_cmd",
    "zerostream_desktop.commands.stream_cmd",
    "zerostream_desktop.commands.webapps_cmd",
    "zerostream_desktop.commands.selftest_cmd",
    "zerostream_desktop.commands.verify_cmd",
    "zerostream_desktop.commands.spool_cmd",
    "zerostream_desktop.commands.setup_cmd",
    "zerostream_desktop.commands.analytics_worker_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zerostream",
        description="Stream simulated IoT sensor data into Databricks over ZeroBus and watch it arrive.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="local stack folder (default: the user data folder)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _accept_global_options_after_subcommands(parser)
    return parser


def _accept_global_options_after_subcommands(parser: argparse.ArgumentParser) -> None:
    """`zerostream stream --data-dir X` as well as `zerostream --data-dir X stream`, as users type them."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:  # noqa: SLF001
        for child in getattr(action, "choices", {}).values():
            child.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            child.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            _accept_global_options_after_subcommands(child)


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(paths.PRIVATE_UMASK)  # spool, logs, state and tables: this user's alone
    os.environ.setdefault("RUST_LOG", "warn")  # the ZeroBus SDK's INFO lines (read when it loads, below)
    # delta-rs's jemalloc (read when deltalake loads, in localbus and the dashboard's reader): give freed pages
    # back after 0.5 s, not 10 s, over two arenas, not eight; localbus held ~50 MiB less at 10,000 devices.
    os.environ.setdefault(DELTA_MALLOC_CONF_ENV, DELTA_MALLOC_CONF)
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_library_logs()
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "gui"])
    try:
        return int(args.func(args) or 0)
    except (SettingsError, UsageError) as exc:
        print(f"zerostream: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


RESTART_EXIT_CODE = 75  # ui.app.RESTART_EXIT_CODE (not imported: the CLI does not load Qt)


def entry() -> None:
    """The console entry point: run, then leave without interpreter finalization (native_output.leave)."""
    code = main()
    if code == RESTART_EXIT_CODE:  # the app saved new settings and asked to start again
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    leave(code)


if __name__ == "__main__":
    entry()
