"""`zerostream webapps serve`: the two web apps on this machine, against the local stack, for a browser.

Bound to loopback by default, with a random access token in the printed link (as Jupyter does), so
other users of the machine cannot drive the simulator; binding elsewhere needs `--allow-remote`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import signal
import socket
import sys

from zerostream_desktop.commands.common import UsageError, settings_from_args

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
TOKEN_ENV = "ZEROSTREAM_WEBAPPS_TOKEN"  # a fixed token for scripts (a restart keeps open pages signed in)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("webapps", help="the companion web apps (mobile simulator and dashboard)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run them on this machine against the local stack")
    serve.add_argument("--app", choices=("mobile", "dashboard", "both"), default="both", help="which (default both)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    serve.add_argument("--no-token", action="store_true", help="no access token (loopback only; tests, scripts)")
    serve.set_defaults(func=run_serve)


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
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
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
