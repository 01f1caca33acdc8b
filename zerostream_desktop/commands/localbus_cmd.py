"""`zerostream localbus serve|tables|create-table|drop-table|token`: the embedded ZeroBus-compatible endpoint."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

from zerostream_desktop.commands.common import settings_from_args
from zerostream_desktop.core.arguments import ranged
from zerostream_desktop.core.secrets import open_secret_store
from zerostream_desktop.core.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("localbus", help="the local ZeroBus-compatible endpoint writing Delta tables")
    lb = p.add_subparsers(dest="localbus_command", metavar="ACTION", required=True)
    serve = lb.add_parser("serve", help="run the endpoint until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=ranged(int, 0, 65535), default=0, help="port (default: any free port)")
    serve.add_argument("--insecure-loopback", action="store_true", help="plaintext HTTP/2, loopback only")
    serve.add_argument(
        "--flush-records", type=ranged(int, 1, 1_000_000), default=10_000, help="commit when this many rows wait"
    )
    serve.add_argument(
        "--flush-ms", type=ranged(int, 0, 60_000, "ms"), default=50, help="commit when the oldest row waited this long"
    )
    serve.add_argument(
        "--stream-lifetime",
        type=ranged(float, 1, 86_400, "s"),
        default=900.0,
        help="seconds before a stream is asked to move",
    )
    serve.add_argument(
        "--vacuum-retention-hours",
        type=ranged(int, 0, 8_760),
        default=1,
        help="keep replaced data files this many hours (default 1)",
    )
    serve.add_argument("--oauth-port", type=ranged(int, 0, 65535), default=0,
                       help="port of the workspace token endpoint, for OAuth (default: any free port)")  # fmt: skip
    serve.add_argument(
        "--token-ttl", type=ranged(int, 1, 86_400, "s"), default=3600, help="lifetime of the OAuth tokens it issues (s)"
    )
    serve.add_argument("--retention-days", type=ranged(int, 0, 36_500),
                       help="delete rows older than this (days; default LOCAL_RETENTION_DAYS; 0: keep)")  # fmt: skip
    serve.set_defaults(func=serve_cmd)
    tables = lb.add_parser("tables", help="list the local tables")
    tables.add_argument("--columns", action="store_true", help="with each table's columns")
    tables.set_defaults(func=tables_cmd)
    create = lb.add_parser("create-table", help="create a table of your own columns (as CREATE TABLE would)")
    create.add_argument("name", help="catalog.schema.table")
    create.add_argument("--columns", required=True,
                        help='e.g. "device_name STRING NOT NULL, temp INT, humidity BIGINT" '
                             "(STRING, INT, BIGINT, DOUBLE, DATE, TIMESTAMP)")  # fmt: skip
    create.add_argument("--partitioned-by", action="append", default=[], metavar="COLUMN", help="partition column")
    create.add_argument("--comment", default="", help="the table's description")
    create.set_defaults(func=create_table_cmd)
    drop = lb.add_parser("drop-table", help="delete a table and its data")
    drop.add_argument("name", help="catalog.schema.table")
    drop.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    drop.set_defaults(func=drop_table_cmd)
    repair = lb.add_parser("repair-table", help="make a damaged table open again (an incomplete last commit, "
                           "missing data files), deleting nothing")  # fmt: skip
    repair.add_argument("name", help="catalog.schema.table")
    repair.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    repair.set_defaults(func=repair_table_cmd)
    token = lb.add_parser("token", help="print the bearer token clients must send")
    token.set_defaults(func=token_cmd)
    principal = lb.add_parser("principal", help="local service principals, for OAuth client credentials")
    pa = principal.add_subparsers(dest="principal_command", metavar="ACTION", required=True)
    create_p = pa.add_parser("create", help="a new principal: prints its client id and secret once")
    create_p.add_argument("name")
    create_p.set_defaults(func=principal_create_cmd)
    pa.add_parser("list", help="the principals (names and client ids)").set_defaults(func=principal_list_cmd)
    delete_p = pa.add_parser("delete", help="remove a principal")
    delete_p.add_argument("client_id")
    delete_p.set_defaults(func=principal_delete_cmd)


def _token(settings: Settings) -> str:
    from zerostream_desktop.localbus.token import ensure_token

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
        oauth_port=args.oauth_port,
        token_ttl_s=args.token_ttl,
        writer=WriterConfig(
            flush_records=args.flush_records,
            flush_ms=args.flush_ms,
            vacuum_retention_hours=args.vacuum_retention_hours,
            retention_days=settings.local_retention_days if args.retention_days is None else args.retention_days,
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
    print(f"  table:         {settings.full_table_name} in {settings.data_dir / 'tables'}")
    if bus.tls_files:
        print(f"  TLS CA:        {bus.tls_files.ca_cert}  (clients: SSL_CERT_FILE={bus.tls_files.ca_cert})")
    print("  token:         `zerostream localbus token` prints it; send it as 'authorization: Bearer <token>'")
    print(f"  workspace URL: {bus.workspace_url}  (OAuth client credentials: POST /oidc/v1/token)")
    print("For the official ZeroBus SDK's examples (a principal from `zerostream localbus principal create`):")
    print(f"  export ZEROBUS_SERVER_ENDPOINT={bus.endpoint} DATABRICKS_WORKSPACE_URL={bus.workspace_url}")
    print(f"  export ZEROBUS_TABLE_NAME={settings.full_table_name}")
    print("  export DATABRICKS_CLIENT_ID=... DATABRICKS_CLIENT_SECRET=...")
    if bus.tls_files:
        print(f"  export SSL_CERT_FILE={bus.tls_files.ca_cert}")
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
        if args.columns:
            for field in catalog.arrow_schema(name):
                null = "" if field.nullable else " NOT NULL"
                print(f"    {field.name} {_sql_type(field.type)}{null}")
    return 0


def _sql_type(arrow_type: object) -> str:
    import pyarrow as pa

    from zerostream_desktop.core import schema

    for column_type in schema.ColumnType:
        if schema.arrow_type(column_type) == arrow_type or (
            column_type is schema.ColumnType.TIMESTAMP and pa.types.is_timestamp(arrow_type)  # type: ignore[arg-type]
        ):
            return column_type.value
    return str(arrow_type)


def create_table_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.tables import TableCatalog, TableDefinitionError, parse_columns

    settings, _ = settings_from_args(args)
    catalog = TableCatalog(settings.data_dir)
    try:
        created = catalog.create_table(args.name, parse_columns(args.columns), args.partitioned_by, args.comment)
    except (TableDefinitionError, ValueError) as exc:
        print(f"zerostream localbus: {exc}", file=sys.stderr)
        return 2
    if not created:
        print(f"zerostream localbus: table {args.name} already exists (it is never replaced)", file=sys.stderr)
        return 1
    print(f"created table {args.name} in {catalog.path(args.name)}")
    return 0


def _existing_table(args: argparse.Namespace) -> tuple[Settings, Any] | None:
    """The settings and catalog when table `args.name` exists; None (and why, on stderr) when it does not."""
    from zerostream_desktop.localbus.tables import TableCatalog

    settings, _ = settings_from_args(args)
    catalog = TableCatalog(settings.data_dir)
    if not catalog.exists(args.name):
        print(f"zerostream localbus: table {args.name} does not exist", file=sys.stderr)
        return None
    return settings, catalog


def drop_table_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.state import read_state
    from zerostream_desktop.localbus.tables import UnknownTableError

    found = _existing_table(args)
    if found is None:
        return 1
    settings, catalog = found
    running = read_state(settings.data_dir)
    if running:
        print(f"zerostream localbus: a localbus (pid {running.get('pid')}) serves this data folder and may have "
              f"{args.name} open; stop it first", file=sys.stderr)  # fmt: skip
        return 1
    rows = catalog.describe(args.name).rows
    if not args.yes:
        answer = input(f"Delete table {args.name} and its {rows:,} rows? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    try:
        catalog.drop_table(args.name)
    except UnknownTableError as exc:
        print(f"zerostream localbus: {exc}", file=sys.stderr)
        return 1
    print(f"dropped table {args.name} ({rows:,} rows)")
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


def principal_create_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.oauth import Principals, principal_secret_key

    settings, _ = settings_from_args(args)
    client_id, secret = Principals(settings.data_dir).create(args.name)
    store = open_secret_store()
    store.set(principal_secret_key(client_id), secret)
    kept = "kept in the keyring" if store.persistent else "not kept anywhere (no OS keyring here): copy it now"
    print(f"created principal {args.name}")
    print(f"  DATABRICKS_CLIENT_ID={client_id}")
    print(f"  DATABRICKS_CLIENT_SECRET={secret}")
    print(f"The secret is shown once and {kept}; only a hash of it is on disk.")
    return 0


def principal_list_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.oauth import Principals

    settings, _ = settings_from_args(args)
    found = Principals(settings.data_dir).list()
    if not found:
        print("no principals (`zerostream localbus principal create NAME` makes one)")
    for client_id, info in found.items():
        print(f"{client_id}  {info['name']:<24} created {info['created']}")
    return 0


def principal_delete_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.localbus.oauth import Principals, principal_secret_key

    settings, _ = settings_from_args(args)
    if not Principals(settings.data_dir).delete(args.client_id):
        print(f"zerostream localbus: no principal {args.client_id}", file=sys.stderr)
        return 1
    open_secret_store().delete(principal_secret_key(args.client_id))
    print(f"deleted principal {args.client_id} (tokens already issued to it expire on their own)")
    return 0


def repair_table_cmd(args: argparse.Namespace) -> int:
    from zerostream_desktop.core.delta_health import diagnose, repair
    from zerostream_desktop.localbus.state import read_state

    found = _existing_table(args)
    if found is None:
        return 1
    settings, catalog = found
    problem = diagnose(catalog.path(args.name))
    if problem is None:
        print(f"table {args.name} opens and reads: nothing to repair")
        return 0
    if read_state(settings.data_dir):
        print("zerostream localbus: a localbus serves this data folder; stop it first", file=sys.stderr)
        return 1
    print(f"table {args.name}: {problem}")
    if not args.yes and input("Repair it? [y/N] ").strip().lower() not in ("y", "yes"):
        print("Nothing changed.")
        return 1
    for line in repair(catalog.path(args.name)):
        print(f"  {line}")
    still = diagnose(catalog.path(args.name))
    print(f"table {args.name}: {still}" if still else f"table {args.name} opens and reads again")
    return 1 if still else 0
