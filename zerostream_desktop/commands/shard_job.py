"""One shard of a fleet as a Databricks job task runs it: `zerostream stream`, headless, and nothing else.

The job that `zerostream webapps build` writes into its bundle runs this module's `main` in N tasks,
one per single-node cluster, with `--shard i/N` and the whole fleet's `--devices` and `--seed`. Only
what `stream` needs is imported (the job installs no PySide6); credentials come from the cluster's
environment, the OAuth secret from a secret scope (`ZEROBUS_CLIENT_SECRET`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from zerostream_desktop.commands import stream_cmd
from zerostream_desktop.commands.common import UsageError
from zerostream_desktop.core import paths
from zerostream_desktop.core.native_output import leave
from zerostream_desktop.core.secrets import redact_library_logs
from zerostream_desktop.core.settings import SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(paths.PRIVATE_UMASK)
    os.environ.setdefault("RUST_LOG", "warn")
    parser = argparse.ArgumentParser(prog="zerostream-shard", description="One shard of a ZeroStream fleet "
                                     "(spool and logs in ZEROSTREAM_DATA_DIR).")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    stream_cmd.register(sub)
    args = parser.parse_args(["stream", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_library_logs()
    try:
        return int(args.func(args) or 0)
    except (SettingsError, UsageError) as exc:
        print(f"zerostream-shard: {exc}", file=sys.stderr)
        return 2


def entry() -> None:
    """The job task's entry point (run_shard.py): run, then leave as the `zerostream` command does."""
    leave(main())


if __name__ == "__main__":
    entry()
