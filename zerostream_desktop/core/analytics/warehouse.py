"""The Databricks SQL warehouse backend: the query suite as written, over databricks-sql-connector.

Authentication is databricks-sdk's unified auth (profile, PAT, OAuth U2M or M2M): the connector gets
the SDK config's header factory, so whatever signed the workspace call signs the SQL too. Results
come back as Arrow. A warehouse that is stopped is started, and until it runs every call raises
`NotReadyError` at once instead of blocking a dashboard refresh for minutes.

Transport: the connector's default Thrift backend for `https` workspaces (on the host's own port,
443 unless the URL names another), trusting the CA bundle the user gave the SDK through
REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) as well; its Statement Execution (REST) backend, `use_sea`,
where the host is plain `http`. The queries, parameters and Arrow handling are the same.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
from databricks import sql as dbsql
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import State

from zerostream_desktop.core.analytics import sql
from zerostream_desktop.core.analytics.model import (
    AnalyticsError,
    NotReadyError,
    SqlBackend,
    workspace_errors,
)
from zerostream_desktop.core.errors import first_line

log = logging.getLogger(__name__)

STATE_CHECK_S = 30.0  # how long a "running" answer is trusted before asking again after an error


class WarehouseAnalytics(SqlBackend):
    """Thread-safe (one connection behind a lock); call from a worker, not the UI thread."""

    def __init__(
        self,
        workspace: WorkspaceClient,
        warehouse_id: str,
        table: str,
        *,
        socket_timeout_s: float = 30.0,
        use_sea: bool | None = None,
    ) -> None:
        self.workspace = workspace
        self.warehouse_id = warehouse_id
        self.catalog, self.schema_name, self.table = table.split(".")
        self.description = f"SQL warehouse {warehouse_id} ({table})"
        self._socket_timeout_s = socket_timeout_s
        self._use_sea = use_sea
        self._conn: Any = None
        self._running_at = 0.0
        self._lock = threading.Lock()

    # --- the Analytics interface: SqlBackend, over _query ------------------------------

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    # --- plumbing ---------------------------------------------------------------------------

    def _query(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        text = sql.databricks(name, self.catalog, self.schema_name, self.table)
        with self._lock:
            self._ensure_running()
            try:
                if self._conn is None:
                    self._conn = self._connect()
                with self._conn.cursor() as cursor:
                    cursor.execute(text, parameters=params)
                    result: pa.Table = cursor.fetchall_arrow()
            except dbsql.exc.Error as exc:
                self._disconnect()
                self._running_at = 0.0
                raise AnalyticsError(f"{self.description}: {first_line(exc)}") from exc
            except OSError as exc:
                self._disconnect()
                raise AnalyticsError(f"cannot reach {self.description}: {exc}") from exc
        return [tuple(r.values()) for r in result.to_pylist()]

    def _ensure_running(self) -> None:
        """Start a stopped warehouse and say so; never wait for it here."""
        if time.monotonic() - self._running_at < STATE_CHECK_S and self._conn is not None:
            return
        with workspace_errors(self.description, f"{self.description} does not exist; choose a warehouse in Settings"):
            info = self.workspace.warehouses.get(self.warehouse_id)
        name = f"SQL warehouse '{info.name}'"
        if info.state is State.RUNNING:
            self._running_at = time.monotonic()
            return
        if info.state in (State.STOPPED, State.STOPPING):
            log.info("starting %s", name)
            self.workspace.warehouses.start(self.warehouse_id)
            raise NotReadyError(f"{name} was stopped and is starting; the dashboard fills in once it runs")
        if info.state is State.STARTING:
            raise NotReadyError(f"{name} is starting; the dashboard fills in once it runs")
        raise AnalyticsError(
            f"{name} is {info.state.value if info.state else 'in an unknown state'}; choose another in Settings"
        )

    def _connect(self) -> Any:
        cfg = self.workspace.config
        parts = urlsplit(cfg.host)
        use_sea = parts.scheme == "http" if self._use_sea is None else self._use_sea
        kwargs: dict[str, Any] = {}
        if parts.scheme == "http":
            kwargs.update(server_hostname=f"http://{parts.hostname}", _port=parts.port or 80)
        else:  # the connector adds the port itself: the host alone, and its port
            kwargs.update(server_hostname=parts.hostname, _port=parts.port or 443)
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
            if ca_bundle:
                kwargs["_tls_trusted_ca_file"] = ca_bundle
        return dbsql.connect(
            **kwargs,
            http_path=f"/sql/1.0/warehouses/{self.warehouse_id}",
            credentials_provider=lambda: cfg.authenticate,
            use_sea=use_sea,
            enable_telemetry=False,
            _socket_timeout=self._socket_timeout_s,
            _retry_stop_after_attempts_count=3,
            _retry_stop_after_attempts_duration=self._socket_timeout_s,
            user_agent_entry="zerostream",
        )

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # closing a broken connection: nothing left to save
                log.debug("closing the warehouse connection: %s", exc)
            self._conn = None
