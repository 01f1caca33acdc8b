"""What an emulated workspace holds, independent of HTTP."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from databricks.sdk.service import apps as apps_
from databricks.sdk.service import catalog, database, iam, sql

from zerostream_desktop.core.analytics.sql import translate_to_duckdb


class ApiError(Exception):
    """An error the API answers with: HTTP status, Databricks error code, message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


@dataclass
class Warehouse:
    info: sql.GetWarehouseResponse
    start_seconds: float = 0.0
    starting_since: float | None = None

    def refresh_state(self) -> sql.State:
        starting = self.info.state is sql.State.STARTING and self.starting_since is not None
        if starting and time.monotonic() - (self.starting_since or 0.0) >= self.start_seconds:
            self.info.state = sql.State.RUNNING
            self.info.num_clusters = 1
        assert self.info.state is not None
        return self.info.state

    def start(self) -> None:
        if self.refresh_state() in (sql.State.STOPPED, sql.State.STOPPING):
            self.info.state = sql.State.STARTING
            self.starting_since = time.monotonic()
            self.refresh_state()


@dataclass
class ExecuteRequest:
    """The body of POST /api/2.0/sql/statements (the SDK builds it inline; parameters are its data class)."""

    statement: str
    warehouse_id: str
    parameters: list[sql.StatementParameterListItem]
    disposition: str = "INLINE"
    format: sql.Format = sql.Format.JSON_ARRAY
    catalog: str | None = None
    schema: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExecuteRequest:
        return cls(
            statement=d.get("statement", ""), warehouse_id=d.get("warehouse_id", ""),
            parameters=[sql.StatementParameterListItem.from_dict(p) for p in d.get("parameters") or []],
            disposition=d.get("disposition") or "INLINE", format=sql.Format(d.get("format") or "JSON_ARRAY"),
            catalog=d.get("catalog"), schema=d.get("schema"),
        )  # fmt: skip


@dataclass
class Statement:
    id: str
    warehouse_id: str
    request: ExecuteRequest
    compression: str
    state: sql.StatementState = sql.StatementState.PENDING
    result: pa.Table | None = None
    error: sql.ServiceError | None = None


class SqlEngine:
    """DuckDB with Unity Catalog's three-level names (each catalog an attached in-memory database)."""

    def __init__(self) -> None:
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'").fetchall()
        self.lock = threading.Lock()
        self.statements: list[str] = []
        self.live: dict[str, tuple[Any, int]] = {}  # table -> (Delta table path, version loaded)

    def ensure_catalog(self, name: str) -> None:
        with self.lock:
            attached = {r[0] for r in self.db.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
            if name not in attached:
                self.db.execute(f"ATTACH ':memory:' AS \"{name}\"").fetchall()

    def ensure_schema(self, catalog: str, schema: str) -> None:
        self.ensure_catalog(catalog)
        with self.lock:
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{catalog}"."{schema}"').fetchall()

    def attach_delta(self, full_name: str, path: Any) -> None:
        """Serve `full_name` from a Delta table on disk (the one localbus writes), read again as it changes."""
        self.live[full_name] = (path, -1)

    def _refresh_live(self) -> None:
        from deltalake import DeltaTable

        for name, (path, seen) in list(self.live.items()):
            table = DeltaTable(str(path))
            if table.version() != seen:
                self.load_table(name, table.to_pyarrow_table())
                self.live[name] = (path, table.version())

    def load_table(self, full_name: str, data: pa.Table) -> None:
        """Put a table in place as if it had been written there (tests' way of providing data)."""
        catalog, schema, table = full_name.split(".")
        self.ensure_schema(catalog, schema)
        with self.lock:
            self.db.register("_incoming", data)
            try:
                self.db.execute(
                    f'CREATE OR REPLACE TABLE "{catalog}"."{schema}"."{table}" AS SELECT * FROM _incoming'
                ).fetchall()
            finally:
                self.db.unregister("_incoming")

    def execute(self, statement: str, parameters: list[sql.StatementParameterListItem]) -> pa.Table:
        """Run one Databricks SQL statement; raises ApiError-shaped failures as ValueError(code, message)."""
        text = translate_to_duckdb(statement)
        params = {p.name: _bind(p) for p in parameters if p.name}
        self._refresh_live()
        with self.lock:
            self.statements.append(statement)
            rel = self.db.sql(text, params=params or None)
            table = rel.to_arrow_table() if rel is not None else pa.table({})
        return _databricks_types(table)


def _bind(p: sql.StatementParameterListItem) -> Any:
    """A statement parameter, typed as the API's `type` says (the value always travels as a string)."""
    if p.value is None:
        return None
    kind = (p.type or "STRING").upper()
    if kind in ("TIMESTAMP", "TIMESTAMP_NTZ"):
        value = dt.datetime.fromisoformat(p.value)
        return value if value.tzinfo or kind == "TIMESTAMP_NTZ" else value.replace(tzinfo=dt.UTC)
    if kind == "DATE":
        return dt.date.fromisoformat(p.value)
    if kind in ("INT", "BIGINT", "SMALLINT", "TINYINT"):
        return int(p.value)
    if kind in ("DOUBLE", "FLOAT"):
        return float(p.value)
    if kind == "BOOLEAN":
        return p.value.lower() == "true"
    return p.value


def _databricks_types(table: pa.Table) -> pa.Table:
    """DuckDB's result types as a warehouse would type them (BIGINT sums, UTC timestamps)."""
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_decimal(t) and t.scale == 0:
            t = pa.int64()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="Etc/UTC")
        elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


@dataclass
class DatabaseInstance:
    info: database.DatabaseInstance
    host: str = "127.0.0.1"


@dataclass
class Workspace:
    """One workspace: who may call it, its warehouses, SQL engine and Lakebase instances."""

    workspace_id: str = "1234567890123456"
    token: str = field(default_factory=lambda: f"dapi{uuid.uuid4().hex}")
    user: iam.User = field(default_factory=lambda: iam.User(id="1001", user_name="analyst@example.com",
                                                            display_name="Ana Lyst", active=True))  # fmt: skip
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    statements: dict[str, Statement] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    database_instances: dict[str, DatabaseInstance] = field(default_factory=dict)
    credential_ttl_s: float = 3600.0
    on_credential: Callable[[str, str, dt.datetime], None] | None = None  # (user, token, expires): the test's PG
    credentials_issued: int = 0
    engine: SqlEngine = field(default_factory=SqlEngine)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # the setup wizard's resources
    serverless: bool = True
    warehouse_start_seconds: float = 0.0
    catalogs: dict[str, catalog.CatalogInfo] = field(default_factory=dict)
    schemas: dict[str, catalog.SchemaInfo] = field(default_factory=dict)
    tables: dict[str, catalog.TableInfo] = field(default_factory=dict)
    grants: dict[tuple[str, str], dict[str, set[catalog.Privilege]]] = field(default_factory=dict)
    warehouse_acl: dict[str, dict[str, sql.WarehousePermissionLevel]] = field(default_factory=dict)
    service_principals: dict[str, iam.ServicePrincipal] = field(default_factory=dict)
    sp_secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_scopes: dict[str, dict[str, str]] = field(default_factory=dict)  # scope -> key -> value
    synced_tables: dict[str, database.SyncedDatabaseTable] = field(default_factory=dict)
    apps: dict[str, apps_.App] = field(default_factory=dict)
    # workspace files and app deployments (deployments.py)
    files: dict[str, Any] = field(default_factory=dict)  # normalised path -> WorkspaceObject
    imports: list[str] = field(default_factory=list)  # every path imported, in order
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # app -> deployment id -> Deployment
    app_starting: dict[str, float] = field(default_factory=dict)  # app -> monotonic time its compute is active
    app_start_seconds: float = 0.0
    app_deploy_seconds: float = 0.0
    deny_deploy: str = ""  # a deploy fails with this message (a test's fault)
    fail_imports_after: int | None = None  # imports fail once this many were made (a connection lost half-way)
    # OAuth (oauth.py): app principals' secrets, tokens issued, the token the local ZeroBus endpoint accepts
    app_secrets: dict[str, str] = field(default_factory=dict)  # app principal client id -> secret
    m2m_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (client id, expiry)
    token_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    zerobus_token: str = ""
    # running deployed apps for real (app_runner.py)
    run_apps: bool = False
    app_python: str = field(default_factory=lambda: __import__("sys").executable)
    apps_dir: str = ""  # where deployed apps run (a temporary folder unless set)
    app_env: dict[str, str] = field(default_factory=dict)  # extra platform environment (e.g. SSL_CERT_FILE)
    app_ready_seconds: float = 90.0
    thrift: Any = None  # the Thrift handler (thrift.py), for tests to look at the calls
    ca_file: str = ""  # with TLS: the CA that signed the emulator's certificate

    def stop_apps(self) -> None:
        for deps in self.deployments.values():
            for dep in deps.values():
                if getattr(dep, "running", None) is not None:
                    dep.running.stop()
    deny: list[tuple[str, str]] = field(default_factory=list)  # (method, path prefix): 403 PERMISSION_DENIED
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def add_warehouse(self, name: str, state: sql.State = sql.State.RUNNING, start_seconds: float = 0.0) -> str:
        wid = uuid.uuid4().hex[:16]
        info = sql.GetWarehouseResponse(
            id=wid, name=name, state=state, cluster_size="Small", num_clusters=1 if state is sql.State.RUNNING else 0,
            enable_serverless_compute=True, creator_name=self.user.user_name, auto_stop_mins=10,
            warehouse_type=sql.GetWarehouseResponseWarehouseType.PRO, max_num_clusters=1, min_num_clusters=1,
        )  # fmt: skip
        self.warehouses[wid] = Warehouse(info, start_seconds, time.monotonic() if state is sql.State.STARTING else None)
        return wid

    def add_database_instance(self, name: str, host: str = "127.0.0.1") -> None:
        info = database.DatabaseInstance(
            name=name, uid=uuid.uuid4().hex, state=database.DatabaseInstanceState.AVAILABLE, capacity="CU_2",
            read_write_dns=host, pg_version="PG_VERSION_16", creator=self.user.user_name,
            creation_time=dt.datetime.now(dt.UTC).isoformat(),
        )  # fmt: skip
        self.database_instances[name] = DatabaseInstance(info, host)

    def warehouse(self, wid: str) -> Warehouse:
        w = self.warehouses.get(wid)
        if w is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {wid} does not exist.")
        w.refresh_state()
        return w
