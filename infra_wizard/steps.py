"""The setup steps, in order. Each one checks, creates what is missing and removes only what it created."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from databricks.sdk.errors import NotFound
from databricks.sdk.service import apps, catalog, database, sql

from infra_wizard.engine import CREATED_BY, Check, Context, SetupError, Status, Step
from zerostream_desktop.core import schema
from zerostream_desktop.core.secrets import LOAD_JOB_SECRET_KEY, zerobus_client_secret_key

COMMENT = f"Created by ZeroStream setup ({CREATED_BY})"


def remove_recorded(ctx: Context, kind: str, delete: Callable[[dict[str, str]], object]) -> list[dict[str, str]]:
    """Delete each resource of `kind` the state file says this tool created (already gone is fine)."""
    removed = []
    for rec in ctx.state.of_kind(kind):
        with contextlib.suppress(NotFound):
            delete(rec)
        ctx.state.forget(kind, rec["id"])
        removed.append(rec)
    return removed


class WarehouseStep:
    key, title = "warehouse", "SQL warehouse"

    def describe(self, ctx: Context) -> str:
        return f"SQL warehouse '{ctx.names.warehouse_name}' ({ctx.names.warehouse_size}, serverless where available)"

    def _find(self, ctx: Context) -> sql.EndpointInfo | None:
        return next((w for w in ctx.workspace.warehouses.list() if w.name == ctx.names.warehouse_name), None)

    def check(self, ctx: Context) -> Check:
        found = self._find(ctx)
        if found is None:
            return Check(Status.MISSING, self.describe(ctx))
        ctx.outputs["warehouse_id"] = found.id or ""
        return Check(Status.EXISTS, f"'{found.name}' ({found.id}, {found.state.value if found.state else '?'})")

    def create(self, ctx: Context) -> str:
        tags = sql.EndpointTags(custom_tags=[sql.EndpointTagPair(key="created-by", value=CREATED_BY)])
        common: dict[str, Any] = {"name": ctx.names.warehouse_name, "cluster_size": ctx.names.warehouse_size,
                                  "max_num_clusters": 1, "auto_stop_mins": 10, "tags": tags}  # fmt: skip
        try:
            wait = ctx.workspace.warehouses.create(
                **common, enable_serverless_compute=True, warehouse_type=sql.CreateWarehouseRequestWarehouseType.PRO
            )
            kind = "serverless"
        except Exception as exc:  # serverless not available here: a classic PRO warehouse instead
            if "serverless" not in str(exc).lower():
                raise
            wait = ctx.workspace.warehouses.create(**common, warehouse_type=sql.CreateWarehouseRequestWarehouseType.PRO)
            kind = "pro (serverless is not available)"
        wid = wait.response.id if wait.response is not None else wait.id
        ctx.state.record("warehouse", wid, name=ctx.names.warehouse_name)
        ctx.outputs["warehouse_id"] = wid
        return f"'{ctx.names.warehouse_name}' ({wid}, {kind}; it starts on first use)"

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        done = [
            r.get("name", r["id"])
            for r in remove_recorded(ctx, "warehouse", lambda r: ctx.workspace.warehouses.delete(r["id"]))
        ]
        return f"warehouse {', '.join(done)}" if done else None


class CatalogSchemaStep:
    key, title = "catalog", "Unity Catalog catalog and schema"

    def describe(self, ctx: Context) -> str:
        return f"catalog '{ctx.names.catalog}' and schema '{ctx.names.catalog}.{ctx.names.schema}'"

    def _missing(self, ctx: Context) -> list[str]:
        missing = []
        try:
            ctx.workspace.catalogs.get(ctx.names.catalog)
        except NotFound:
            missing.append("catalog")
        try:
            ctx.workspace.schemas.get(f"{ctx.names.catalog}.{ctx.names.schema}")
        except NotFound:
            missing.append("schema")
        return missing

    def check(self, ctx: Context) -> Check:
        missing = self._missing(ctx)
        if missing:
            return Check(Status.MISSING, f"{' and '.join(missing)} of {self.describe(ctx)}")
        return Check(Status.EXISTS, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        missing = self._missing(ctx)
        if "catalog" in missing:
            ctx.workspace.catalogs.create(ctx.names.catalog, comment=COMMENT)
            ctx.state.record("catalog", ctx.names.catalog)
        if "schema" in missing:
            ctx.workspace.schemas.create(ctx.names.schema, ctx.names.catalog, comment=COMMENT)
            ctx.state.record("schema", f"{ctx.names.catalog}.{ctx.names.schema}")
        return f"{' and '.join(missing)}: {self.describe(ctx)}"

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        done = []
        for kind, remove in (("schema", ctx.workspace.schemas.delete), ("catalog", ctx.workspace.catalogs.delete)):
            for rec in ctx.state.of_kind(kind):
                if not include_data and _holds_kept_table(ctx, rec["id"]):
                    done.append(f"kept {kind} {rec['id']} (it holds the data table)")
                    continue
                with contextlib.suppress(NotFound):
                    remove(rec["id"])
                ctx.state.forget(kind, rec["id"])
                done.append(f"{kind} {rec['id']}")
        return "; ".join(done) if done else None


def _holds_kept_table(ctx: Context, name: str) -> bool:
    table = ctx.names.full_table
    return table == name or table.startswith(name + ".")


class TableStep:
    key, title = "table", "Delta table"

    def describe(self, ctx: Context) -> str:
        return f"table {ctx.names.full_table} ({len(schema.COLUMNS)} columns, partitioned by {schema.PARTITION_COLUMN})"

    def check(self, ctx: Context) -> Check:
        try:
            info = ctx.workspace.tables.get(ctx.names.full_table)
        except NotFound:
            return Check(Status.MISSING, self.describe(ctx) + "; CREATE TABLE IF NOT EXISTS, never replaced")
        have = {c.name: (c.type_text or (c.type_name.value if c.type_name else "")).upper() for c in info.columns or []}
        want = {c.name: c.type.value.upper() for c in schema.COLUMNS}
        drift = [f"missing {n}" for n in want if n not in have]
        drift += [f"{n} is {have[n]}, expected {t}" for n, t in want.items() if n in have and have[n] != t]
        drift += [f"extra column {n}" for n in have if n not in want]
        if drift:
            return Check(Status.DRIFT, f"{ctx.names.full_table} differs from the event schema: {'; '.join(drift)} "
                                       "(left as it is: fix it by hand or choose another table name)")  # fmt: skip
        return Check(Status.EXISTS, f"{ctx.names.full_table} matches the event schema")

    def create(self, ctx: Context) -> str:
        wid = ctx.outputs.get("warehouse_id")
        if not wid:
            raise SetupError(self.title, "no SQL warehouse to run the DDL on", "the warehouse step must succeed first")
        ddl = schema.databricks_ddl(ctx.names.catalog, ctx.names.schema, ctx.names.table)
        run = ctx.workspace.statement_execution.execute_statement(statement=ddl, warehouse_id=wid, wait_timeout="30s")
        deadline = time.monotonic() + 600
        while run.status and run.status.state in (sql.StatementState.PENDING, sql.StatementState.RUNNING):
            if time.monotonic() > deadline:
                raise SetupError(self.title, "the warehouse did not run the DDL within 10 minutes", "try again")
            time.sleep(2)
            run = ctx.workspace.statement_execution.get_statement(run.statement_id or "")
        if run.status is None or run.status.state is not sql.StatementState.SUCCEEDED:
            error = run.status.error.message if run.status and run.status.error else "unknown error"
            raise SetupError(self.title, f"CREATE TABLE failed: {error}")
        ctx.state.record("table", ctx.names.full_table)
        return self.describe(ctx)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        recs = ctx.state.of_kind("table")
        if not recs:
            return None
        if not include_data:
            return f"kept the data table {ctx.names.full_table} (use --include-data to drop it)"
        removed = remove_recorded(ctx, "table", lambda r: ctx.workspace.tables.delete(r["id"]))
        return f"table {', '.join(r['id'] for r in removed)} and its data"


class ServicePrincipalStep:
    key, title = "principal", "ZeroBus service principal"

    def describe(self, ctx: Context) -> str:
        return f"service principal '{ctx.names.sp_name}' with an OAuth secret in the OS keyring"

    def _find(self, ctx: Context):  # type: ignore[no-untyped-def]
        found = ctx.workspace.service_principals.list(filter=f'displayName eq "{ctx.names.sp_name}"')
        return next((sp for sp in found if sp.display_name == ctx.names.sp_name), None)

    def check(self, ctx: Context) -> Check:
        sp = self._find(ctx)
        if sp is None:
            return Check(Status.MISSING, self.describe(ctx))
        ctx.outputs["sp_application_id"] = sp.application_id or ""
        if ctx.store.get(zerobus_client_secret_key(sp.application_id or "")):
            return Check(Status.EXISTS, f"'{sp.display_name}' ({sp.application_id}); its secret is in the keyring")
        return Check(Status.MISSING, f"'{sp.display_name}' exists, but no usable secret here: a new one is created")

    def create(self, ctx: Context) -> str:
        sp = self._find(ctx)
        made = []
        if sp is None:
            sp = ctx.workspace.service_principals.create(display_name=ctx.names.sp_name, active=True)
            ctx.state.record("service_principal", sp.id or "", application_id=sp.application_id or "")
            made.append("service principal")
        app_id = sp.application_id or ""
        ctx.outputs["sp_application_id"] = app_id
        if not ctx.store.persistent:  # a secret that cannot be kept would be lost when this process ends
            raise SetupError(
                self.title,
                f"{' and '.join(made) + ' created; ' if made else ''}no OS keyring here to keep its OAuth secret",
                "start a Secret Service (gnome-keyring, KeePassXC) and run the setup again; the secret is never "
                "written to a file",
            )
        plaintext = getattr(ctx.store, "plaintext", None)
        if plaintext and not ctx.allow_plaintext_keyring:  # checked before a secret exists that could be lost
            raise SetupError(
                self.title,
                f"{' and '.join(made) + ' created; ' if made else ''}the keyring backend {plaintext} keeps secrets "
                "in a plain file, so the service principal's OAuth secret is not put there",
                "use an OS keyring (unset PYTHON_KEYRING_BACKEND), or pass --allow-plaintext-keyring to accept it",
            )
        secret = ctx.workspace.service_principal_secrets_proxy.create(service_principal_id=sp.id or "")
        if not secret.secret:
            raise SetupError(self.title, "the workspace returned no secret")
        ctx.store.set(zerobus_client_secret_key(app_id), secret.secret)
        ctx.state.record("sp_secret", secret.id or "", service_principal_id=sp.id or "")
        ctx.outputs["sp_application_id"] = app_id
        made.append(f"OAuth secret (in {ctx.store.description.split(';')[0].rstrip('.')})")
        return f"'{ctx.names.sp_name}' ({app_id}): {' and '.join(made)}"

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        secrets_api = ctx.workspace.service_principal_secrets_proxy
        done = [
            "secret"
            for _ in remove_recorded(ctx, "sp_secret", lambda r: secrets_api.delete(r["service_principal_id"], r["id"]))
        ]
        for rec in remove_recorded(
            ctx, "service_principal", lambda r: ctx.workspace.service_principals.delete(r["id"])
        ):
            ctx.store.delete(zerobus_client_secret_key(rec.get("application_id", "")))
            done.append(f"service principal {rec.get('application_id', rec['id'])}")
        return ", ".join(done) if done else None


def _uc_grants(ctx: Context, write: bool) -> list[tuple[catalog.SecurableType, str, list[catalog.Privilege]]]:
    """USE CATALOG, USE SCHEMA, and SELECT (plus MODIFY to write) on the table."""
    n = ctx.names
    table = [catalog.Privilege.SELECT, catalog.Privilege.MODIFY] if write else [catalog.Privilege.SELECT]
    return [
        (catalog.SecurableType.CATALOG, n.catalog, [catalog.Privilege.USE_CATALOG]),
        (catalog.SecurableType.SCHEMA, f"{n.catalog}.{n.schema}", [catalog.Privilege.USE_SCHEMA]),
        (catalog.SecurableType.TABLE, n.full_table, table),
    ]


def missing_grants(ctx: Context, principal: str, write: bool, warehouse: bool) -> list[str]:
    """What `principal` (an application id) lacks of the grants it needs."""
    missing = []
    for kind, name, privileges in _uc_grants(ctx, write):
        try:
            have = ctx.workspace.grants.get(kind.value, name, principal=principal)
        except NotFound:
            missing += [f"{p.value} on {name}" for p in privileges]
            continue
        granted = {p for a in have.privilege_assignments or [] if a.principal == principal for p in a.privileges or []}
        missing += [f"{p.value} on {name}" for p in privileges if p not in granted]
    wid = ctx.outputs.get("warehouse_id")
    if warehouse and wid:
        perms = ctx.workspace.warehouses.get_permissions(wid)
        if not any(a.service_principal_name == principal for a in perms.access_control_list or []):
            missing.append(f"CAN_USE on warehouse {wid}")
    return missing


def grant(ctx: Context, principal: str, write: bool, warehouse: bool) -> None:
    for kind, name, privileges in _uc_grants(ctx, write):
        change = catalog.PermissionsChange(principal=principal, add=privileges)
        ctx.workspace.grants.update(kind.value, name, changes=[change])
    wid = ctx.outputs.get("warehouse_id")
    if warehouse and wid:
        acl = sql.WarehouseAccessControlRequest(
            service_principal_name=principal, permission_level=sql.WarehousePermissionLevel.CAN_USE
        )
        ctx.workspace.warehouses.update_permissions(wid, access_control_list=[acl])


class GrantsStep:
    key, title = "grants", "Grants for the service principal"

    def describe(self, ctx: Context) -> str:
        return "USE CATALOG, USE SCHEMA, SELECT and MODIFY on the table; CAN_USE on the warehouse"

    def _missing(self, ctx: Context) -> list[str]:
        principal = ctx.outputs.get("sp_application_id")
        if not principal:
            return ["all (the service principal does not exist yet)"]
        return missing_grants(ctx, principal, write=True, warehouse=True)

    def check(self, ctx: Context) -> Check:
        missing = self._missing(ctx)
        return Check(Status.MISSING, "; ".join(missing)) if missing else Check(Status.EXISTS, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        principal = ctx.outputs.get("sp_application_id")
        if not principal:
            raise SetupError(self.title, "no service principal to grant to", "the service principal step must succeed")
        grant(ctx, principal, write=True, warehouse=True)
        ctx.state.record("grants", principal)
        return self.describe(ctx)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        return None  # grants go with the principal and the objects they are on


class LoadJobSecretStep:
    key, title = "load_job_secret", "Secret scope for the load job"

    def describe(self, ctx: Context) -> str:
        return (f"secret scope '{ctx.names.prefix}' holding the ZeroBus principal's OAuth secret as "
                f"'{LOAD_JOB_SECRET_KEY}' (read by the shards of the load job)")  # fmt: skip

    def _has(self, ctx: Context) -> tuple[bool, bool]:
        scope = ctx.names.prefix
        if scope not in {s.name for s in ctx.workspace.secrets.list_scopes()}:
            return False, False
        return True, LOAD_JOB_SECRET_KEY in {m.key for m in ctx.workspace.secrets.list_secrets(scope)}

    def check(self, ctx: Context) -> Check:
        if not ctx.names.load_job:
            return Check(Status.SKIPPED, "the load job's secret is off (--load-job to add it)")
        scope, key = self._has(ctx)
        return Check(Status.EXISTS if key else Status.MISSING, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        app_id = ctx.outputs.get("sp_application_id", "")
        secret = ctx.store.get(zerobus_client_secret_key(app_id)) if app_id else None
        if not secret:
            raise SetupError(
                self.title,
                f"the ZeroBus principal's OAuth secret ({app_id or 'no principal yet'}) is not in this keyring",
                f"run the setup where it was made, or put it yourself: databricks secrets put-secret "
                f"{ctx.names.prefix} {LOAD_JOB_SECRET_KEY}",
            )
        scope, _ = self._has(ctx)
        made = []
        if not scope:
            ctx.workspace.secrets.create_scope(ctx.names.prefix)
            ctx.state.record("secret_scope", ctx.names.prefix)
            made.append(f"scope '{ctx.names.prefix}'")
        ctx.workspace.secrets.put_secret(ctx.names.prefix, LOAD_JOB_SECRET_KEY, string_value=secret)
        made.append(f"the principal's secret as '{LOAD_JOB_SECRET_KEY}'")
        return " and ".join(made)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        done = remove_recorded(ctx, "secret_scope", lambda r: ctx.workspace.secrets.delete_scope(r["id"]))
        return ", ".join(f"secret scope {r['id']}" for r in done) if done else None


class LakebaseStep:
    key, title = "lakebase", "Lakebase instance and synced table"

    def describe(self, ctx: Context) -> str:
        n = ctx.names
        copy = f"a synced copy of {n.full_table} (key event_id)"
        return f"instance '{n.lakebase_instance}' ({n.lakebase_capacity}) and {copy}"

    def _synced_name(self, ctx: Context) -> str:
        return f"{ctx.names.catalog}.{ctx.names.schema}.{ctx.names.table}_synced"

    def _missing(self, ctx: Context) -> list[str]:
        missing = []
        try:
            ctx.workspace.database.get_database_instance(ctx.names.lakebase_instance)
        except NotFound:
            missing.append("instance")
        try:
            ctx.workspace.database.get_synced_database_table(self._synced_name(ctx))
        except NotFound:
            missing.append("synced table")
        return missing

    def check(self, ctx: Context) -> Check:
        if not ctx.names.lakebase:
            return Check(Status.SKIPPED, "Lakebase is off (--lakebase to add it)")
        missing = self._missing(ctx)
        return (
            Check(Status.MISSING, f"{' and '.join(missing)}: {self.describe(ctx)}")
            if missing
            else Check(Status.EXISTS, self.describe(ctx))
        )

    def create(self, ctx: Context) -> str:
        n = ctx.names
        missing = self._missing(ctx)
        if "instance" in missing:
            ctx.workspace.database.create_database_instance(
                database.DatabaseInstance(name=n.lakebase_instance, capacity=n.lakebase_capacity)
            )
            ctx.state.record("database_instance", n.lakebase_instance)
        if "synced table" in missing:
            spec = database.SyncedTableSpec(
                source_table_full_name=n.full_table, primary_key_columns=["event_id"], timeseries_key="ingested_at",
                scheduling_policy=database.SyncedTableSchedulingPolicy.CONTINUOUS,
                create_database_objects_if_missing=True,
            )  # fmt: skip
            ctx.workspace.database.create_synced_database_table(
                database.SyncedDatabaseTable(
                    name=self._synced_name(ctx),
                    database_instance_name=n.lakebase_instance,
                    logical_database_name=n.lakebase_database,
                    spec=spec,
                )  # fmt: skip
            )
            ctx.state.record("synced_table", self._synced_name(ctx))
        return f"{' and '.join(missing)}: {self.describe(ctx)}"

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        db = ctx.workspace.database
        done = [
            f"synced table {r['id']}"
            for r in remove_recorded(ctx, "synced_table", lambda r: db.delete_synced_database_table(r["id"]))
        ]
        done += [
            f"instance {r['id']}"
            for r in remove_recorded(ctx, "database_instance", lambda r: db.delete_database_instance(r["id"]))
        ]
        return ", ".join(done) if done else None


class AppsStep:
    key, title = "apps", "Companion Databricks Apps"

    def _names(self, ctx: Context) -> list[str]:
        return [ctx.names.mobile_app, ctx.names.dashboard_app]

    def describe(self, ctx: Context) -> str:
        extra = " and the Lakebase database" if ctx.names.lakebase else ""
        return f"apps {', '.join(self._names(ctx))} with the warehouse{extra} as resources (code: `webapps deploy`)"

    def _resources(self, ctx: Context) -> list[apps.AppResource]:
        wid = ctx.outputs.get("warehouse_id", "")
        out = [apps.AppResource(name="sql-warehouse", sql_warehouse=apps.AppResourceSqlWarehouse(
            id=wid, permission=apps.AppResourceSqlWarehouseSqlWarehousePermission.CAN_USE))]  # fmt: skip
        if ctx.names.lakebase:
            out.append(apps.AppResource(name="database", database=apps.AppResourceDatabase(
                instance_name=ctx.names.lakebase_instance, database_name=ctx.names.lakebase_database,
                permission=apps.AppResourceDatabaseDatabasePermission.CAN_CONNECT_AND_CREATE)))  # fmt: skip
        return out

    def _todo(self, ctx: Context) -> tuple[list[str], list[apps.App]]:
        """Apps to create, and existing apps that lack a resource they should have."""
        missing, lacking = [], []
        wanted = {r.name for r in self._resources(ctx)}
        for name in self._names(ctx):
            try:
                app = ctx.workspace.apps.get(name)
            except NotFound:
                missing.append(name)
                continue
            ctx.outputs[f"app_principal:{name}"] = app.service_principal_client_id or ""
            if wanted - {r.name for r in app.resources or []}:
                lacking.append(app)
        return missing, lacking

    def check(self, ctx: Context) -> Check:
        missing, lacking = self._todo(ctx)
        todo = [f"apps {', '.join(missing)}"] if missing else []
        todo += [f"the database resource on {a.name}" for a in lacking]
        return Check(Status.MISSING, "; ".join(todo)) if todo else Check(Status.EXISTS, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        missing, lacking = self._todo(ctx)
        for name in missing:
            made: apps.App | None = ctx.workspace.apps.create(
                apps.App(name=name, description=COMMENT, resources=self._resources(ctx)), no_compute=True
            ).response
            ctx.state.record("app", name)
            ctx.outputs[f"app_principal:{name}"] = (made.service_principal_client_id if made else "") or ""
        for app in lacking:  # an update replaces the whole app: send it back with the resources added
            have = {r.name: r for r in app.resources or []}
            resources = [*(app.resources or []), *(r for r in self._resources(ctx) if r.name not in have)]
            ctx.workspace.apps.update(app.name or "", apps.App(name=app.name, description=app.description,
                                                               resources=resources))  # fmt: skip
        done = [f"apps {', '.join(missing)}"] if missing else []
        done += [f"the database resource added to {a.name}" for a in lacking]
        return "; ".join(done)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        done = [r["id"] for r in remove_recorded(ctx, "app", lambda r: ctx.workspace.apps.delete(r["id"]))]
        return f"apps {', '.join(done)}" if done else None


class AppGrantsStep:
    """The apps act as their own service principals: the mobile app writes the table through ZeroBus,
    the dashboard reads it through the warehouse."""

    key, title = "app-grants", "Grants for the apps' principals"

    def describe(self, ctx: Context) -> str:
        n = ctx.names
        return (f"{n.mobile_app}: USE CATALOG, USE SCHEMA, SELECT and MODIFY on the table; "
                f"{n.dashboard_app}: USE CATALOG, USE SCHEMA, SELECT, and CAN_USE on the warehouse")  # fmt: skip

    def _wanted(self, ctx: Context) -> list[tuple[str, bool, bool]]:
        return [(ctx.names.mobile_app, True, False), (ctx.names.dashboard_app, False, True)]

    def _missing(self, ctx: Context) -> list[str]:
        out = []
        for name, write, warehouse in self._wanted(ctx):
            principal = ctx.outputs.get(f"app_principal:{name}")
            if not principal:
                out.append(f"all for {name} (the app does not exist yet)")
                continue
            out += [f"{m} for {name}" for m in missing_grants(ctx, principal, write, warehouse)]
        return out

    def check(self, ctx: Context) -> Check:
        missing = self._missing(ctx)
        return Check(Status.MISSING, "; ".join(missing)) if missing else Check(Status.EXISTS, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        for name, write, warehouse in self._wanted(ctx):
            principal = ctx.outputs.get(f"app_principal:{name}")
            if not principal:
                raise SetupError(self.title, f"app {name} has no service principal", "the apps step must succeed")
            grant(ctx, principal, write, warehouse)
        return self.describe(ctx)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        return None  # the grants go with the apps' principals


class ConfigFileStep:
    key, title = "config", "generated_config.env"

    def describe(self, ctx: Context) -> str:
        return f"{self.path(ctx)} with the non-secret values (warehouse id, ZeroBus endpoint, table, principal)"

    def path(self, ctx: Context) -> Path:
        return ctx.config_dir / "generated_config.env"

    def values(self, ctx: Context) -> dict[str, str]:
        n = ctx.names
        out = {
            "DATABRICKS_HOST": ctx.workspace.config.host or "",
            "CATALOG": n.catalog, "SCHEMA": n.schema, "TABLE_NAME": n.table,
            "DATABRICKS_WAREHOUSE_ID": ctx.outputs.get("warehouse_id", ""),
            "ZEROBUS_CLIENT_ID": ctx.outputs.get("sp_application_id", ""),
            "ZEROBUS_SERVER_ENDPOINT": zerobus_endpoint(ctx) or "",
            "INFRA_PREFIX": n.prefix,
        }  # fmt: skip
        if n.lakebase:
            out.update(LAKEBASE_INSTANCE=n.lakebase_instance, LAKEBASE_DATABASES=n.lakebase_database,
                       LAKEBASE_SCHEMA=n.lakebase_schema)  # fmt: skip
        return {k: v for k, v in out.items() if v}

    def check(self, ctx: Context) -> Check:
        from dotenv import dotenv_values

        path = self.path(ctx)
        if path.is_file() and dotenv_values(path) == self.values(ctx):
            return Check(Status.EXISTS, f"{path} is up to date")
        return Check(Status.MISSING, self.describe(ctx))

    def create(self, ctx: Context) -> str:
        from zerostream_desktop.core.settings import save_user_settings

        path = save_user_settings(self.values(ctx), self.path(ctx))
        if not zerobus_endpoint(ctx):
            return f"{path} (no ZeroBus endpoint yet: set ZEROBUS_SERVER_ENDPOINT or pass --region)"
        return str(path)

    def destroy(self, ctx: Context, include_data: bool) -> str | None:
        return None  # the file holds no secrets and helps the next run; delete it by hand if wanted


def zerobus_endpoint(ctx: Context) -> str | None:
    """`<workspace id>.zerobus.<region>.cloud.databricks.com`, from the workspace where it can be derived."""
    if ctx.names.zerobus_endpoint:
        return ctx.names.zerobus_endpoint
    if not ctx.names.region:
        return None
    return f"{ctx.workspace.get_workspace_id()}.zerobus.{ctx.names.region}.cloud.databricks.com"


def all_steps() -> Sequence[Step]:
    return (WarehouseStep(), CatalogSchemaStep(), TableStep(), ServicePrincipalStep(), GrantsStep(),
            LoadJobSecretStep(), LakebaseStep(), AppsStep(), AppGrantsStep(), ConfigFileStep())  # fmt: skip
