"""`zerostream localbus serve|tables|token`: the embedded ZeroBus-compatible endpoint."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from zerostream_desktop.commands.common import settings_from_args
from zerostream_desktop.core.secrets import open_secret_store
from zerostream_desktop.core.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("localbus", help="the local ZeroBus-compatible endpoint writing Delta tables")
    lb = p.add_subparsers(dest="localbus_command", metavar="ACTION", required=True)
    serve = lb.add_parser("serve", help="run the endpoint until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    serve.add_argument("--insecure-loopback", action="store_true", help="plaintext HTTP/2, loopback only")
    serve.add_argument("--flush-records", type=int, default=10_000, help="commit when this many rows wait")
    serve.add_argument("--flush-ms", type=int, default=50, help="commit when the oldest row waited this long")
    serve.add_argument("--stream-lifetime", type=float, default=900.0, help="seconds before a stream is asked to move")
    serve.add_argument(
        "--vacuum-retention-hours", type=int, default=1, help="keep replaced data files this many hours (default 1)"
    )
    serve.set_defaults(func=serve_cmd)
    tables = lb.add_parser("tables", help="list the local tables")
    tables.set_defaults(func=tables_cmd)
    token = lb.add_parser("token", help="print the bearer token clients must send")
    token.set_defaults(func=token_cmd)


def _token(settings: Settings) -> str:
    from zerostream_desktop.localbus.security import ensure_token

    return ensure_token()


def serve_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.server import AlreadyRunningError, LocalBus, ServerConfig
    from zerostream_desktop.localbus.tables import TableCatalog
    from zerostream_desktop.localbus.writer import WriterConfig

    settings, _ = settings_from_args(args)
    logging.getLogger("zerostream_desktop").setLevel(min(logging.INFO, logging.getLogger().level))
    if TableCatalog(settings.data_dir).create_sensor_table(settings.full_table_name):
        print(f"created table {settings.full_table_name}")
    config = ServerConfig(
        data_dir=settings.data_dir,
        token=_token(settings),
        host=args.host,
        port=args.port,
        tls=not args.insecure_loopback,
        stream_lifetime_s=args.stream_lifetime,
        writer=WriterConfig(
            flush_records=args.flush_records, flush_ms=args.flush_ms, vacuum_retention_hours=args.vacuum_retention_hours
        ),
    )
    try:
        bus = LocalBus(config)
    except ValueError as exc:
        print(f"zerostream localbus: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(bus, settings))
    except AlreadyRunningError as exc:
        print(f"zerostream localbus: {exc}", file=sys.stderr)
        return 3


async def _serve(bus: object, settings: Settings) -> int:
    from zerostream_desktop.localbus.server import LocalBus

    assert isinstance(bus, LocalBus)
    await bus.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"localbus listening on {bus.endpoint}")
    print(f"  table:   {settings.full_table_name} in {settings.data_dir / 'tables'}")
    if bus.tls_files:
        print(f"  TLS CA:  {bus.tls_files.ca_cert}  (clients: SSL_CERT_FILE={bus.tls_files.ca_cert})")
    print("  token:   `zerostream localbus token` prints it; send it as 'authorization: Bearer <token>'")
    sys.stdout.flush()
    await stop.wait()
    print("localbus stopping: committing and acknowledging what it holds")
    await bus.stop()
    print("localbus stopped")
    return 0


def tables_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.tables import TableCatalog

    settings, _ = settings_from_args(args)
    catalog = TableCatalog(settings.data_dir)
    names = catalog.names()
    if not names:
        print(f"no tables in {catalog.root} (`zerostream localbus serve` creates {settings.full_table_name})")
        return 0
    print(f"{'table':<40} {'version':>8} {'files':>7} {'rows':>12}")
    for name in names:
        info = catalog.describe(name)
        print(f"{name:<40} {info.version:>8} {info.files:>7} {info.rows:>12,}")
    return 0


def token_cmd(args: argparse.Namespace) -> int:
    settings, _ = settings_from_args(args)
    store = open_secret_store()
    if not store.persistent and not os.environ.get("ZEROSTREAM_LOCALBUS_TOKEN"):
        print(
            "zerostream localbus: no OS keyring here, so the token lives only inside the running server. "
            "Set ZEROSTREAM_LOCALBUS_TOKEN for both the server and its clients.",
            file=sys.stderr,
        )
        return 2
    print(_token(settings))
    return 0
