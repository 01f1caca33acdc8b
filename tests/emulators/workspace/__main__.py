"""Run the workspace emulator on its own, to try the wizard, `setup`, `webapps deploy` and `verify` by hand.

    python -m tests.emulators.workspace [--port 8800] [--zerobus-token TOKEN] [--delta TABLE=PATH]
                                        [--run-apps] [--app-python PYTHON]

It prints the workspace URL and a token (for DATABRICKS_HOST and DATABRICKS_TOKEN) and serves until
Ctrl+C. `--zerobus-token` is what its OAuth endpoint gives the ZeroBus SDK (use the token of a
`zerostream localbus serve` as the ZeroBus endpoint); `--delta` serves a Unity Catalog table from a
Delta table on disk (the one that localbus writes), so the warehouse sees what is streamed;
`--run-apps` runs deployed apps as the platform does, with `--app-python` (default: this Python).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tests.emulators.workspace.server import serve_workspace
from tests.emulators.workspace.state import Workspace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.emulators.workspace", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--token", help="the workspace's personal access token (default: a random one)")
    p.add_argument("--zerobus-token", default="", help="token the OAuth endpoint hands the ZeroBus SDK")
    p.add_argument("--delta", action="append", default=[], metavar="TABLE=PATH",
                   help="serve catalog.schema.table from the Delta table at PATH (repeatable)")  # fmt: skip
    p.add_argument("--run-apps", action="store_true", help="run deployed apps (as Databricks Apps would)")
    p.add_argument("--app-python", default=sys.executable, help="the Python deployed apps run with")
    p.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for deployed apps (repeatable)")  # fmt: skip
    args = p.parse_args(argv)
    ws = Workspace(zerobus_token=args.zerobus_token, run_apps=args.run_apps, app_python=args.app_python)
    if args.token:
        ws.token = args.token
    for item in args.app_env:
        name, _, value = item.partition("=")
        ws.app_env[name] = value
    with serve_workspace(ws, port=args.port) as running:
        for item in args.delta:
            table, _, path = item.partition("=")
            running.engine.attach_delta(table, path)
        print(f"DATABRICKS_HOST={running.base_url}", flush=True)  # noqa: T201
        print(f"DATABRICKS_TOKEN={running.token}", flush=True)  # noqa: T201
        print("workspace emulator ready; Ctrl+C stops it", file=sys.stderr, flush=True)  # noqa: T201
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
