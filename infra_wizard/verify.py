"""Verify a provisioned workspace end to end (`zerostream verify`; the wizard's Finish page runs it too).

Each check passes or fails with its time and, when it fails, the fix: sign-in; the SQL warehouse
(started when stopped, and said so); the table against the event schema; the ZeroBus principal's
grants; a probe of a few events streamed through the real ZeroBus path under a probe client id the
dashboards leave out, then the time until the warehouse shows them (time to table) and, with
Lakebase, until the synced table does (sync lag); the two apps deployed, running and answering
their health endpoint. Later checks that need an earlier one are skipped when it failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from databricks.sdk.errors import NotFound
from databricks.sdk.errors.base import DatabricksError
from databricks.sdk.service import apps, sql

from infra_wizard.engine import Context, SetupError, Status, explain
from infra_wizard.steps import TableStep, WarehouseStep, missing_grants
from zerostream_desktop.core import encoding, schema
from zerostream_desktop.core.analytics.sql import PROBE_PREFIX
from zerostream_desktop.core.ingest.targets import databricks_target

Say = Callable[[str], None]


class Outcome:
    PASS, FAIL, SKIP = "pass", "FAIL", "skip"


@dataclass
class Result:
    name: str
    outcome: str
    detail: str
    seconds: float
    fix: str = ""


class _Failed(Exception):
    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class _Skipped(Exception):
    pass


@dataclass
class Verifier:
    ctx: Context
    settings: Any
    probe_events: int = 20
    timeout_s: float = 300.0
    every_s: float = 1.0
    say: Say = lambda _: None  # noqa: E731

    def __post_init__(self) -> None:
        self.results: list[Result] = []
        self.warehouse_id = ""
        self.probe_id = ""
        self.probe_sent_at = 0.0

    # --- running the checks ----------------------------------------------------------------------

    def run(self) -> list[Result]:
        checks: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
            ("Sign-in", self.sign_in, ()),
            ("SQL warehouse", self.warehouse, ("Sign-in",)),
            ("Table", self.table, ("SQL warehouse",)),
            ("ZeroBus principal's grants", self.grants, ("Sign-in",)),
            ("Probe through ZeroBus", self.probe, ("Table",)),
            ("Time to table (warehouse)", self.time_to_table, ("Probe through ZeroBus", "SQL warehouse")),
            ("Lakebase sync lag", self.sync_lag, ("Probe through ZeroBus",)),
            (f"App {self.settings.mobile_app_name}", lambda: self.app(self.settings.mobile_app_name), ("Sign-in",)),
            (f"App {self.settings.dashboard_app_name}", lambda: self.app(self.settings.dashboard_app_name),
             ("Sign-in",)),
        ]  # fmt: skip
        for name, check, needs in checks:
            failed = [n for n in needs if self._outcome(n) != Outcome.PASS]
            if failed:
                self._add(Result(name, Outcome.SKIP, f"needs: {', '.join(failed)}", 0.0))
                continue
            started = time.monotonic()
            try:
                detail = check()
            except _Skipped as exc:
                self._add(Result(name, Outcome.SKIP, str(exc), time.monotonic() - started))
            except _Failed as exc:
                self._add(Result(name, Outcome.FAIL, exc.detail, time.monotonic() - started, exc.fix))
            except Exception as exc:  # a workspace error: its message and the usual fix
                err = explain(name, exc)
                self._add(Result(name, Outcome.FAIL, err.message, time.monotonic() - started, err.fix))
            else:
                self._add(Result(name, Outcome.PASS, detail, time.monotonic() - started))
        return self.results

    def _outcome(self, name: str) -> str:
        return next((r.outcome for r in self.results if r.name == name), Outcome.SKIP)

    def _add(self, r: Result) -> None:
        self.results.append(r)
        self.say(f"{r.outcome:<4} {r.name}: {r.detail}" + (f" ({r.fix})" if r.fix else ""))

    # --- the checks ---------------------------------------------------------------------------------

    def sign_in(self) -> str:
        me = self.ctx.workspace.current_user.me()
        return f"signed in as {me.user_name or me.display_name} on {self.ctx.workspace.config.host}"

    def warehouse(self) -> str:
        w = self.ctx.workspace
        wid = self.settings.warehouse_id
        if not wid:
            found = WarehouseStep()._find(self.ctx)  # noqa: SLF001
            if found is None:
                raise _Failed(f"no warehouse named {self.ctx.names.warehouse_name}", "run `zerostream setup apply`")
            wid = found.id or ""
        self.warehouse_id = self.ctx.outputs["warehouse_id"] = wid
        try:
            info = w.warehouses.get(wid)
        except NotFound:
            raise _Failed(f"warehouse {wid} does not exist", "run `zerostream setup apply`") from None
        note = ""
        if info.state in (sql.State.STOPPED, sql.State.STOPPING):
            self.say(f"     the warehouse {info.name} is stopped: starting it")
            w.warehouses.start(wid)
            note = " (it was stopped: started by verify)"
        deadline = time.monotonic() + self.timeout_s
        while info.state is not sql.State.RUNNING:
            if time.monotonic() > deadline:
                raise _Failed(f"warehouse {info.name} is {info.state} after {self.timeout_s:.0f} s",
                              "look at the warehouse in the workspace")  # fmt: skip
            time.sleep(self.every_s)
            info = w.warehouses.get(wid)
        return f"{info.name} ({wid}) is RUNNING{note}"

    def table(self) -> str:
        check = TableStep().check(self.ctx)
        if check.status is Status.EXISTS:
            return check.detail
        fix = "run `zerostream setup apply`" if check.status is Status.MISSING else "fix the table or use another name"
        raise _Failed(check.detail, fix)

    def grants(self) -> str:
        principal = self.settings.zerobus_client_id
        if not principal:
            raise _Failed("no ZeroBus principal configured (ZEROBUS_CLIENT_ID)", "run `zerostream setup apply`")
        missing = missing_grants(self.ctx, principal, write=True, warehouse=False)
        if missing:
            raise _Failed(f"{principal} lacks {'; '.join(missing)}", "run `zerostream setup apply` to grant them")
        return f"{principal} may use the catalog and schema, and read and write the table"

    def probe(self) -> str:
        try:
            target = databricks_target(self.settings)
        except ValueError as exc:
            raise _Failed(str(exc), "run `zerostream setup apply`, or set the values it names") from None
        from zerobus.sdk.shared import RecordType, StreamConfigurationOptions, TableProperties
        from zerobus.sdk.sync import ZerobusSdk

        self.probe_id = f"{PROBE_PREFIX}{uuid.uuid4().hex[:12]}"
        records = _probe_records(self.probe_id, self.probe_events, self.settings.zerobus_topic)
        sdk = ZerobusSdk(target.endpoint, target.unity_catalog_url)
        options = StreamConfigurationOptions(record_type=RecordType.PROTO)
        props = TableProperties(target.table, schema.message_class().DESCRIPTOR)
        started = time.monotonic()
        try:
            stream = sdk.create_stream(target.client_id, target.client_secret, props, options)
            self.probe_sent_at = time.monotonic()
            stream.ingest_records_offset(encoding.stamp_sent(records))
            stream.flush()
            stream.close()
        except Exception as exc:  # the SDK's errors carry the service's reason
            raise _Failed(f"ZeroBus refused the probe: {str(exc).splitlines()[0] if str(exc) else exc}",
                          "check ZEROBUS_SERVER_ENDPOINT and the principal's grants") from None  # fmt: skip
        return f"{self.probe_events} events as {self.probe_id}, acknowledged in {time.monotonic() - started:.2f} s"

    def time_to_table(self) -> str:
        n = self.ctx.names
        table = schema.qualified_name(n.catalog, n.schema, n.table)
        statement = f"SELECT count(*) FROM {table} WHERE connection_id = :probe"
        params = [sql.StatementParameterListItem(name="probe", value=self.probe_id, type="STRING")]
        deadline = self.probe_sent_at + self.timeout_s
        seen = 0
        while True:
            run = self.ctx.workspace.statement_execution.execute_statement(
                statement=statement, warehouse_id=self.warehouse_id, parameters=params, wait_timeout="30s"
            )
            state = run.status.state if run.status else None
            if state is sql.StatementState.FAILED:
                error = run.status.error.message if run.status and run.status.error else "failed"
                raise _Failed(f"the warehouse cannot read the table: {error}", "check the grants on the table")
            if state is sql.StatementState.SUCCEEDED and run.result and run.result.data_array:
                seen = int(run.result.data_array[0][0] or 0)
            if seen >= self.probe_events:
                return f"all {seen} probe events visible after {time.monotonic() - self.probe_sent_at:.1f} s"
            if time.monotonic() > deadline:
                raise _Failed(f"{seen} of {self.probe_events} probe events visible after {self.timeout_s:.0f} s",
                              "ZeroBus acknowledged them: look at the table's history in the workspace")  # fmt: skip
            time.sleep(self.every_s)

    def sync_lag(self) -> str:
        if self.settings.analytics != "lakebase":
            raise _Skipped("Lakebase is not the dashboard's source (ZEROSTREAM_ANALYTICS)")
        from zerostream_desktop.core.analytics.lakebase import LakebaseAnalytics

        s = self.settings
        database = s.lakebase_databases.split(",")[0].strip()
        backend = LakebaseAnalytics(self.ctx.workspace, s.lakebase_instance, database, s.lakebase_schema,
                                    s.table_name, port=s.lakebase_port)  # as the dashboard reads it  # fmt: skip
        deadline = self.probe_sent_at + self.timeout_s
        try:
            while True:
                count = backend.rows_of(self.probe_id)
                if count >= self.probe_events:
                    return f"all probe events in the synced table after {time.monotonic() - self.probe_sent_at:.1f} s"
                if time.monotonic() > deadline:
                    raise _Failed(f"{count} of {self.probe_events} probe events synced after {self.timeout_s:.0f} s",
                                  "look at the synced table's pipeline in the workspace")  # fmt: skip
                time.sleep(self.every_s)
        finally:
            backend.close()

    def app(self, name: str) -> str:
        try:
            info = self.ctx.workspace.apps.get(name)
        except NotFound:
            raise _Failed(f"app {name} does not exist", "run `zerostream setup apply`") from None
        compute = info.compute_status.state if info.compute_status else None
        if compute is not apps.ComputeState.ACTIVE:
            raise _Failed(f"its compute is {compute.value if compute else 'missing'}",
                          "run `zerostream webapps deploy` (it starts the compute)")  # fmt: skip
        active = info.active_deployment
        if active is None or not active.status or active.status.state is not apps.AppDeploymentState.SUCCEEDED:
            raise _Failed("no successful deployment", "run `zerostream webapps deploy`")
        status = info.app_status.state if info.app_status else None
        if status is not apps.ApplicationState.RUNNING:
            message = info.app_status.message if info.app_status else ""
            raise _Failed(f"the app is {status.value if status else '?'}: {message}",
                          "see the app's logs in the workspace, then `zerostream webapps deploy`")  # fmt: skip
        if not info.url:
            raise _Failed("the app has no URL yet", "wait a minute and verify again")
        started = time.monotonic()
        headers = self.ctx.workspace.config.authenticate()
        request = urllib.request.Request(f"{info.url.rstrip('/')}/healthz", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 (the app's own URL)
                body = r.read(500).decode(errors="replace")
        except OSError as exc:
            raise _Failed(f"{info.url}/healthz did not answer: {exc}", "see the app's logs in the workspace") from None
        if '"ok"' not in body:
            raise _Failed(f"{info.url}/healthz answered {body[:120]!r}", "deploy again: it is not ZeroStream's app")
        return f"RUNNING at {info.url}; /healthz answered in {time.monotonic() - started:.2f} s"


def _probe_records(probe_id: str, n: int, topic: str) -> list[bytes]:
    message = schema.message_class()
    now = time.time()
    out = []
    for k in range(n):
        ts = int((now + k / 1000) * 1_000_000)
        fields = {
            "event_id": str(uuid.uuid4()), "connection_id": probe_id, "device_name": "ZeroStream verify probe",
            "event_timestamp": ts, "event_date": (dt.datetime.fromtimestamp(ts / 1e6, dt.UTC).date()
                                                  - dt.date(1970, 1, 1)).days,
            "zerobus_topic": topic,
        }  # fmt: skip
        size = len(message(**fields, payload_bytes=0).SerializeToString()) + encoding.stamp_bytes()
        with contextlib.suppress(ValueError):
            size = len(message(**fields, payload_bytes=size).SerializeToString()) + encoding.stamp_bytes()
        out.append(message(**fields, payload_bytes=size).SerializeToString())
    return out


def failed(results: list[Result]) -> list[Result]:
    return [r for r in results if r.outcome == Outcome.FAIL]


__all__ = ["DatabricksError", "Outcome", "Result", "SetupError", "Verifier", "failed"]
