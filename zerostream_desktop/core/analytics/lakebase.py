"""The Lakebase backend: the synced copy of the sensor table in a Lakebase (PostgreSQL) instance.

The instance's address comes from databricks-sdk (`database.get_database_instance`), the login is
the workspace identity (`current_user.me()`), and the password is a short-lived database credential
(`database.generate_database_credential`, about an hour). A new credential is fetched whenever a
connection is (re)opened and the last one is within a minute of expiring, so a dashboard left open
for a day keeps working. The synced table holds one row per event_id (its primary key), the latest
landing, which is exactly the rows the query suite describes; the SQL is `sql.PG_QUERIES`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from typing import Any

import psycopg
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors.base import DatabricksError
from databricks.sdk.service.database import DatabaseInstanceState

from zerostream_desktop.core.analytics import sql
from zerostream_desktop.core.analytics.model import (
    AnalyticsError,
    NotReadyError,
    SqlBackend,
    workspace_errors,
)
from zerostream_desktop.core.errors import first_line

log = logging.getLogger(__name__)

CREDENTIAL_MARGIN = dt.timedelta(seconds=60)


class LakebaseAnalytics(SqlBackend):
    """Thread-safe (one connection behind a lock); call from a worker, not the UI thread."""

    def __init__(
        self,
        workspace: WorkspaceClient,
        instance: str,
        database: str,
        schema_name: str,
        table: str,
        *,
        port: int = 5432,
        sslmode: str = "require",
        connect_timeout_s: int = 10,
        statement_timeout_s: int = 30,
    ) -> None:
        self.workspace = workspace
        self.instance = instance
        self.database = database
        self.schema_name = schema_name
        self.table = table
        self.port = port
        self.sslmode = sslmode
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_s = statement_timeout_s
        self.description = f"Lakebase {instance}/{database} ({schema_name}.{table})"
        self.credentials_fetched = 0
        self._conn: psycopg.Connection | None = None
        self._password: str | None = None
        self._expires: dt.datetime | None = None
        self._lock = threading.Lock()

    # --- the Analytics interface: SqlBackend, over _query ------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def rows_of(self, connection_id: str) -> int:
        """How many rows of one client the synced table holds, probes included (`zerostream verify`)."""
        return int(self._query("rows_of", {"connection_id": connection_id})[0][0])

    # --- plumbing ---------------------------------------------------------------------------

    def _query(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        text = sql.postgres(name, self.schema_name, self.table)
        with self._lock:
            for attempt in (1, 2):  # a connection dropped since the last call gets one fresh try
                conn = self._connection()
                try:
                    with conn.cursor() as cur:
                        cur.execute(text, params)  # type: ignore[arg-type]
                        return cur.fetchall()
                except psycopg.OperationalError as exc:
                    lost = conn.closed
                    self._drop()
                    if attempt == 2 or not lost:
                        raise AnalyticsError(f"{self.description}: {first_line(exc)}") from exc
                    log.info("Lakebase connection lost (%s); reconnecting", first_line(exc))
                except psycopg.errors.UndefinedTable as exc:
                    raise AnalyticsError(
                        f"{self.description}: the synced table does not exist yet; run the setup wizard's Lakebase step"
                    ) from exc
                except psycopg.Error as exc:
                    raise AnalyticsError(f"{self.description}: {first_line(exc)}") from exc
        raise AssertionError("unreachable")

    def _connection(self) -> psycopg.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        host, user = self._instance_address()
        now = dt.datetime.now(dt.UTC)
        if self._password is None or self._expires is None or self._expires - now < CREDENTIAL_MARGIN:
            self._password, self._expires = self._credential()
        try:
            self._conn = psycopg.connect(
                host=host, port=self.port, dbname=self.database, user=user, password=self._password,
                sslmode=self.sslmode, connect_timeout=self.connect_timeout_s, autocommit=True,
                application_name="zerostream", options=f"-c statement_timeout={self.statement_timeout_s * 1000}",
            )  # fmt: skip
        except psycopg.OperationalError as exc:
            self._password = None  # perhaps revoked: the next try asks for a new one
            raise AnalyticsError(
                f"cannot connect to {self.description} at {host}:{self.port}: {first_line(exc)}"
            ) from exc
        return self._conn

    def _instance_address(self) -> tuple[str, str]:
        with workspace_errors(
            self.description, f"Lakebase instance '{self.instance}' does not exist; run the setup wizard"
        ):
            inst = self.workspace.database.get_database_instance(self.instance)
            user = self.workspace.current_user.me().user_name
        if inst.state in (DatabaseInstanceState.STARTING, DatabaseInstanceState.UPDATING):
            raise NotReadyError(f"Lakebase instance '{self.instance}' is {inst.state.value.lower()}; try again shortly")
        if inst.state is not DatabaseInstanceState.AVAILABLE or not inst.read_write_dns or not user:
            state = inst.state.value if inst.state else "unknown"
            raise AnalyticsError(f"Lakebase instance '{self.instance}' is not available (state {state})")
        return inst.read_write_dns, user

    def _credential(self) -> tuple[str, dt.datetime]:
        try:
            cred = self.workspace.database.generate_database_credential(
                request_id=str(uuid.uuid4()), instance_names=[self.instance]
            )
        except DatabricksError as exc:
            raise AnalyticsError(f"cannot get a database credential for {self.description}: {first_line(exc)}") from exc
        if not cred.token:
            raise AnalyticsError(f"the workspace returned no database credential for {self.description}")
        self.credentials_fetched += 1
        expires = (
            dt.datetime.fromisoformat(cred.expiration_time.replace("Z", "+00:00"))
            if cred.expiration_time
            else dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
        )
        return cred.token, expires

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
