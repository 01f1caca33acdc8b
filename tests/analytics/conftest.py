"""The analytics backends, each loaded with the same generated rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from deltalake import DeltaTable, write_deltalake
from psycopg import sql as psql

from tests.analytics import dataset
from tests.emulators.workspace import serve_workspace
from tests.integration.localbus_helpers import LocalBusProcess, free_port, headers_provider, options, table_properties
from tests.services.postgres import PostgresServer
from zerostream_desktop.core import schema
from zerostream_desktop.core.analytics.lakebase import LakebaseAnalytics
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.analytics.warehouse import WarehouseAnalytics
from zerostream_desktop.core.analytics.worker import WorkerAnalytics
from zerostream_desktop.localbus.tables import TableCatalog

TABLE = "zerostream.sensors.sensor_stream"


@pytest.fixture(scope="session")
def rows() -> list[dict]:
    return dataset.rows()


def local_table(root: Path, rows: list[dict], commits: int = 1) -> Path:
    catalog = TableCatalog(root)
    catalog.create_sensor_table(TABLE)
    path = catalog.path(TABLE)
    step = -(-len(rows) // commits)
    for i in range(0, len(rows), step):
        write_deltalake(str(path), dataset.arrow(rows[i : i + step]), mode="append")
    return path


def fed_incrementally(root: Path, rows: list[dict]) -> LocalDeltaAnalytics:
    """State built on the first third, the rest read from the change feed, with a compaction between."""
    third = len(rows) // 3
    path = local_table(root, rows[:third])
    backend = LocalDeltaAnalytics(path)
    backend.kpis(dataset.WINDOW)
    for i in range(third, 2 * third, 500):
        write_deltalake(str(path), dataset.arrow(rows[i : min(i + 500, 2 * third)]), mode="append")
    backend.kpis(dataset.WINDOW)
    DeltaTable(str(path)).optimize.compact()
    backend.track(dataset.LONG, limit=100_000, max_points=200)  # a cached track, extended from now on
    for i in range(2 * third, len(rows), 700):
        write_deltalake(str(path), dataset.arrow(rows[i : i + 700]), mode="append")
    assert backend.stats["rebuilds"] == 1
    return backend


def wire_record(row: dict) -> bytes:
    """A dataset row as ZeroStream's sender puts it on the wire: its fields, None ones left out."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    values = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            value = (value - epoch) // dt.timedelta(microseconds=1)
        elif isinstance(value, dt.date):
            value = (value - epoch.date()).days
        values[name] = value
    return schema.message_class()(**values).SerializeToString()


def through_localbus(root: Path, rows: list[dict]) -> Path:
    """The rows streamed with the real ZeroBus SDK into `localbus serve`, which writes the table."""
    from zerobus.sdk.sync import ZerobusSdk

    TableCatalog(root).create_sensor_table(TABLE)
    bus = LocalBusProcess(root, free_port()).start()
    try:
        sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
        stream = sdk.create_stream(
            table_properties=table_properties(TABLE), options=options(), headers_provider=headers_provider()
        )
        for i in range(0, len(rows), 400):
            stream.ingest_records_offset([wire_record(r) for r in rows[i : i + 400]])
        stream.flush()
        stream.close()
    finally:
        bus.terminate()
    return TableCatalog(root).path(TABLE)


@pytest.fixture(scope="session")
def workspace_tls(rows):
    """The same warehouse over HTTPS (a local CA, a port other than 443): the connector's Thrift transport.

    The CA is trusted the way a user behind their own CA does it: REQUESTS_CA_BUNDLE, which the SDK
    (requests) reads and the warehouse backend hands the connector too."""
    import os

    with serve_workspace(tls=True) as ws:
        ws.add_warehouse("zerostream_warehouse")
        ws.engine.load_table(TABLE, dataset.arrow(rows))
        before = os.environ.get("REQUESTS_CA_BUNDLE")
        os.environ["REQUESTS_CA_BUNDLE"] = ws.ca_file
        try:
            yield ws
        finally:
            if before is None:
                os.environ.pop("REQUESTS_CA_BUNDLE", None)
            else:
                os.environ["REQUESTS_CA_BUNDLE"] = before


@pytest.fixture(scope="session")
def workspace(rows):
    """An emulated workspace with a running SQL warehouse holding the rows."""
    with serve_workspace() as ws:
        ws.add_warehouse("zerostream_warehouse")
        ws.engine.load_table(TABLE, dataset.arrow(rows))
        yield ws


def workspace_client(ws, token: str | None = None) -> WorkspaceClient:
    cfg = Config(host=ws.base_url, token=token or ws.token, auth_type="pat", retry_timeout_seconds=10)
    return WorkspaceClient(config=cfg)


LAKEBASE = ("zerostream-lakebase", "zerobusstream", "sensordata", "sensor_stream")


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def sync_to_lakebase(server: PostgresServer, rows: list[dict]) -> None:
    """What a synced table holds: one row per event_id, the latest landing."""
    _, db, schema_name, table = LAKEBASE
    with server.admin() as admin:
        admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(db)))
    with server.admin(db) as conn:
        conn.execute(psql.SQL("CREATE SCHEMA {}").format(psql.Identifier(schema_name)))
        conn.execute(schema.postgres_ddl(schema_name, table))
        columns = psql.SQL(", ").join(psql.Identifier(c) for c in schema.COLUMN_NAMES)
        copy = psql.SQL("COPY {}.{} ({}) FROM STDIN").format(
            psql.Identifier(schema_name), psql.Identifier(table), columns
        )
        with conn.cursor() as cur, cur.copy(copy) as out:
            for r in dataset.latest_landings(rows, probes=True):  # the sync copies every row
                out.write_row([r.get(c) for c in schema.COLUMN_NAMES])


def lakebase_login(server: PostgresServer, ws) -> None:
    """The workspace's identity as a Postgres role whose password is the latest database credential."""
    _, db, schema_name, table = LAKEBASE
    user = ws.user.user_name
    with server.admin(db) as conn:
        conn.execute(psql.SQL("CREATE ROLE {} LOGIN").format(psql.Identifier(user)))
        conn.execute(
            psql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(psql.Identifier(schema_name), psql.Identifier(user))
        )
        conn.execute(
            psql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                psql.Identifier(schema_name), psql.Identifier(table), psql.Identifier(user)
            )
        )

    def on_credential(login: str, token: str, expires) -> None:
        with server.admin() as admin:
            admin.execute(psql.SQL("ALTER ROLE {} PASSWORD {} VALID UNTIL {}").format(
                psql.Identifier(login), psql.Literal(token), psql.Literal(expires.isoformat())))  # fmt: skip

    ws.on_credential = on_credential
    ws.add_database_instance(LAKEBASE[0])


@pytest.fixture(scope="session")
def lakebase_workspace(workspace, postgres, rows):
    sync_to_lakebase(postgres, rows)
    lakebase_login(postgres, workspace)
    return workspace


def lakebase_backend(ws, server: PostgresServer, **kwargs) -> LakebaseAnalytics:
    instance, db, schema_name, table = LAKEBASE
    return LakebaseAnalytics(workspace_client(ws), instance, db, schema_name, table, port=server.port, **kwargs)


@pytest.fixture(
    scope="session",
    params=[
        "local-incremental",
        "local-full",
        "local-process",
        "localbus",
        "warehouse",
        "warehouse-thrift",
        "lakebase",
    ],  # fmt: skip
)
def backend(request, rows, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "local-incremental":
        b = fed_incrementally(root, rows)
    elif request.param == "localbus":  # what localbus wrote, exactly as a service that fills no column
        b = LocalDeltaAnalytics(through_localbus(root, rows))
    elif request.param == "local-process":  # as the desktop reads it: in a child process, over a pipe
        b = WorkerAnalytics(local_table(root, rows, commits=7))
    elif request.param == "local-full":
        b = LocalDeltaAnalytics(local_table(root, rows, commits=7), incremental=False)
    elif request.param == "warehouse":
        ws = request.getfixturevalue("workspace")
        b = WarehouseAnalytics(workspace_client(ws), next(iter(ws.warehouses)), TABLE)
    elif request.param == "warehouse-thrift":
        ws = request.getfixturevalue("workspace_tls")
        b = WarehouseAnalytics(workspace_client(ws), next(iter(ws.warehouses)), TABLE)
        assert not b._use_sea and ws.base_url.startswith("https://localhost:")  # noqa: SLF001
    else:
        b = lakebase_backend(request.getfixturevalue("lakebase_workspace"), request.getfixturevalue("postgres"))
    yield b
    b.close()
