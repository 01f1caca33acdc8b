"""`zerostream webapps serve|build`: the two web apps on this machine, or as Databricks App folders.

`serve` runs them against the local stack for a browser. Bound to loopback by default, with a
random access token in the printed link (as Jupyter does), so other users of the machine cannot
drive the simulator; binding elsewhere needs `--allow-remote`. `build` writes what
`zerostream webapps deploy` uploads (see `webapps/build.py`).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from infra_wizard.cli import add_connection_arguments
from zerostream_desktop.commands.common import UsageError, settings_from_args
from zerostream_desktop.core.arguments import ranged

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
TOKEN_ENV = "ZEROSTREAM_WEBAPPS_TOKEN"  # a fixed token for scripts (a restart keeps open pages signed in)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("webapps", help="the companion web apps (mobile simulator and dashboard)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run them on this machine against the local stack")
    serve.add_argument("--app", choices=("mobile", "dashboard", "both"), default="both", help="which (default both)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=ranged(int, 0, 65535), default=8765, help="port (default 8765; 0 picks a free one)"
    )
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    serve.add_argument("--no-token", action="store_true", help="no access token (loopback only; tests, scripts)")
    serve.set_defaults(func=run_serve)
    build = actions.add_parser("build", help="write the Databricks App source folders (and databricks.yml)")
    build.add_argument("--out", type=Path, help="folder to write them in (default <data folder>/webapps-build)")
    build.add_argument("--app", choices=("mobile", "dashboard", "both"), default="both", help="which (default both)")
    build.add_argument("--lakebase", action=argparse.BooleanOptionalAction, default=None,
                       help="the dashboard reads Lakebase (default: when ZEROSTREAM_ANALYTICS=lakebase)")  # fmt: skip
    build.add_argument("--shards", type=ranged(int, 0, 100), default=0, metavar="N",
                       help="also write a Databricks Job streaming one fleet from N single-node clusters, one "
                       "shard each (loadgen/ and resources.jobs in databricks.yml; default 0: none)")  # fmt: skip
    build.set_defaults(func=run_build)
    deploy = actions.add_parser("deploy", help="build them and deploy them to the workspace's Databricks Apps")
    add_connection_arguments(deploy)
    deploy.add_argument("--app", choices=("mobile", "dashboard", "both"), default="both", help="which (default both)")
    deploy.add_argument("--lakebase", action=argparse.BooleanOptionalAction, default=None,
                        help="the dashboard reads Lakebase (default: when ZEROSTREAM_ANALYTICS=lakebase)")  # fmt: skip
    deploy.add_argument(
        "--wait", type=ranged(float, 1, 7_200, "s"), default=1200.0, help="give up waiting for an app after this (s)"
    )
    deploy.set_defaults(func=run_deploy)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from zerostream_desktop.webapps.local import create_local_app

    if not is_loopback(args.host) and not args.allow_remote:
        raise UsageError(f"--host {args.host} is not a loopback address; add --allow-remote to serve other machines")
    if args.no_token and not is_loopback(args.host):
        raise UsageError("--no-token is for loopback only")
    settings, _ = settings_from_args(args)
    token = None if args.no_token else (os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24))
    app = create_local_app(settings, args.app, token)
    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = listener.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{shown}:{port}/"
    query = f"?token={token}" if token else ""
    links = [f"ZeroStream web apps for {settings.full_table_name} ({settings.endpoint}):"]
    if args.app == "both":
        links += [f"  mobile simulator: {base}mobile/{query}", f"  dashboard:        {base}dashboard/{query}"]
    else:
        links += [f"  {args.app}: {base}{query}"]
    print(f"Starting on {base} …", file=sys.stderr, flush=True)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            print("\n".join(links), flush=True)  # once the links work
            print("Stop with Ctrl+C (the fleet stops and the spool drains first).", file=sys.stderr, flush=True)

    # no per-message deflate: it compresses the same second's update once per socket (100 pages: 100 times)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=15, ws="auto",
                            ws_per_message_deflate=False)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: None)  # uvicorn re-sends it after its graceful shutdown: exit 0
    Server(config).run(sockets=[listener])
    return 0


def _build(args: argparse.Namespace, settings: Any, out: Path) -> list[Any]:
    from zerostream_desktop.webapps.build import APPS, BuildError, build

    lakebase = settings.analytics == "lakebase" if args.lakebase is None else args.lakebase
    apps = APPS if args.app == "both" else (args.app,)
    try:
        shards = getattr(args, "shards", 0)
        return build(settings, out, apps, lakebase=lakebase, warehouse_id=settings.warehouse_id or "", shards=shards)
    except BuildError as exc:
        raise UsageError(str(exc)) from None


def run_build(args: argparse.Namespace) -> int:
    settings, _ = settings_from_args(args)
    out = args.out or settings.data_dir / "webapps-build"
    built = _build(args, settings, out)
    for b in built:
        print(f"{b.kind:<9} {b.folder}  ({len(b.files)} files, build {b.digest[:12]})")  # noqa: T201
    if args.shards:
        print(f"load job  {out / 'loadgen'}  ({args.shards} shards; in the bundle as resources.jobs.zerostream_load)")  # noqa: T201
    print(f"bundle    {out / 'databricks.yml'}")  # noqa: T201
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from databricks.sdk.errors.base import DatabricksError

    from infra_wizard.cli import connect
    from infra_wizard.deploy import STEP, deploy_app
    from infra_wizard.engine import SetupError, explain

    try:
        settings, client, _ = connect(args)
    except ValueError as exc:  # the SDK cannot configure credentials from what it was given
        raise UsageError(f"cannot sign in to the workspace: {exc}") from None
    built = _build(args, settings, settings.data_dir / "webapps-build")
    print(f"Deploying to {client.config.host} (build in {settings.data_dir / 'webapps-build'})", flush=True)  # noqa: T201
    reports = []
    for b in built:
        try:
            reports.append(deploy_app(client, b.name, b.folder, say=_say, timeout_s=args.wait))
        except (SetupError, DatabricksError, OSError, ValueError) as exc:
            print(f"zerostream webapps deploy: {explain(STEP, exc)}", file=sys.stderr)  # noqa: T201
            return 1
    for r in reports:
        what = (f"{len(r.uploaded)} files uploaded, {len(r.deleted)} removed" if r.uploaded or r.deleted
                else "no file changed") + ("; compute started" if r.started_compute else "")  # fmt: skip
        done = f"deployed ({r.deployment_id})" if r.deployment_id else "unchanged: already running this build"
        print(f"{r.app}: {done}; {what}; {r.state}; {r.url or 'no URL yet'} ({r.seconds:.0f} s)")  # noqa: T201
    return 0


def _say(line: str) -> None:
    print(f"  {line}", flush=True)  # noqa: T201
