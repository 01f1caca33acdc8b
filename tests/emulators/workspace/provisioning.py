"""The workspace APIs the setup wizard uses: Unity Catalog (catalogs, schemas, tables, grants),
warehouses (create, delete, permissions), SCIM service principals and their OAuth secrets,
Lakebase instances and synced tables, and Databricks Apps.

Bodies are read and written with the SDK's data classes. Tables come from SQL: a CREATE TABLE run
through statement execution creates the DuckDB table and its Unity Catalog entry (columns with
their Databricks types), so `tables.get` reports what the DDL said.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import sqlglot
from databricks.sdk.service import apps, catalog, database, iam, oauth2, sql, workspace
from fastapi import APIRouter, Request
from sqlglot import exp

from tests.emulators.workspace.deployments import refresh_app
from tests.emulators.workspace.state import ApiError, Workspace

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # DuckDB has no TBLPROPERTIES; that is expected


def _now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


_TYPE_NAMES = {"BIGINT": "LONG", "SMALLINT": "SHORT", "TINYINT": "BYTE"}  # type_text -> the API's type_name


def create_table_from_ddl(ws: Workspace, statement: str) -> bool:
    """Handle a CREATE TABLE as Unity Catalog would; False if the statement is something else."""
    tree = sqlglot.parse_one(statement, read="databricks")
    if not isinstance(tree, exp.Create) or tree.kind != "TABLE" or not isinstance(tree.this, exp.Schema):
        return False
    table = tree.this.this
    cat, sch, name = table.catalog, table.db, table.name
    full = f"{cat}.{sch}.{name}"
    if cat not in ws.catalogs:
        raise ValueError(f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{cat}' was not found.")
    if f"{cat}.{sch}" not in ws.schemas:
        raise ValueError(f"[SCHEMA_NOT_FOUND] The schema `{cat}`.`{sch}` cannot be found.")
    if full in ws.tables:
        if tree.args.get("exists"):
            return True
        raise ValueError(f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table {full} because it already exists.")
    columns = []
    for i, col in enumerate(c for c in tree.this.expressions if isinstance(c, exp.ColumnDef)):
        kind = col.args["kind"].sql("databricks").upper()
        not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in col.constraints)
        comment = next(
            (c.kind.this.name for c in col.constraints if isinstance(c.kind, exp.CommentColumnConstraint)), None
        )
        type_name = (
            catalog.ColumnTypeName(_TYPE_NAMES.get(kind, kind))
            if _TYPE_NAMES.get(kind, kind) in catalog.ColumnTypeName.__members__
            else None
        )
        columns.append(catalog.ColumnInfo(name=col.name, type_text=kind.lower(), type_name=type_name, position=i,
                                          nullable=not not_null, comment=comment))  # fmt: skip
    ddl = sqlglot.transpile(statement, read="databricks", write="duckdb", unsupported_level=sqlglot.ErrorLevel.IGNORE)[
        0
    ]
    with ws.engine.lock:
        ws.engine.db.execute(ddl).fetchall()
    ws.tables[full] = catalog.TableInfo(
        name=name, catalog_name=cat, schema_name=sch, full_name=full, table_type=catalog.TableType.MANAGED,
        data_source_format=catalog.DataSourceFormat.DELTA, columns=columns, owner=ws.user.user_name,
        created_at=_now_ms(), table_id=str(uuid.uuid4()),
    )  # fmt: skip
    return True


def router(ws: Workspace) -> APIRouter:
    r = APIRouter()

    # --- Unity Catalog ---------------------------------------------------------------------
    @r.post("/api/2.1/unity-catalog/catalogs")
    async def create_catalog(request: Request) -> dict[str, Any]:
        body = await request.json()
        name = body["name"]
        if name in ws.catalogs:
            raise ApiError(409, "CATALOG_ALREADY_EXISTS", f"Catalog '{name}' already exists")
        ws.engine.ensure_catalog(name)
        info = catalog.CatalogInfo(name=name, comment=body.get("comment"), owner=ws.user.user_name,
                                   created_at=_now_ms(), catalog_type=catalog.CatalogType.MANAGED_CATALOG)  # fmt: skip
        ws.catalogs[name] = info
        return info.as_dict()

    @r.get("/api/2.1/unity-catalog/catalogs/{name}")
    def get_catalog(name: str) -> dict[str, Any]:
        if name not in ws.catalogs:
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
        return ws.catalogs[name].as_dict()

    @r.delete("/api/2.1/unity-catalog/catalogs/{name}")
    def delete_catalog(name: str) -> dict[str, Any]:
        if name not in ws.catalogs:
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
        if any(s.startswith(name + ".") for s in ws.schemas):
            raise ApiError(400, "INVALID_STATE", f"Catalog '{name}' is not empty.")
        del ws.catalogs[name]
        return {}

    @r.post("/api/2.1/unity-catalog/schemas")
    async def create_schema(request: Request) -> dict[str, Any]:
        body = await request.json()
        cat, name = body["catalog_name"], body["name"]
        if cat not in ws.catalogs:
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{cat}' does not exist.")
        full = f"{cat}.{name}"
        if full in ws.schemas:
            raise ApiError(409, "SCHEMA_ALREADY_EXISTS", f"Schema '{full}' already exists")
        ws.engine.ensure_schema(cat, name)
        info = catalog.SchemaInfo(name=name, catalog_name=cat, full_name=full, comment=body.get("comment"),
                                  owner=ws.user.user_name, created_at=_now_ms())  # fmt: skip
        ws.schemas[full] = info
        return info.as_dict()

    @r.get("/api/2.1/unity-catalog/schemas/{full_name}")
    def get_schema(full_name: str) -> dict[str, Any]:
        if full_name not in ws.schemas:
            raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{full_name}' does not exist.")
        return ws.schemas[full_name].as_dict()

    @r.delete("/api/2.1/unity-catalog/schemas/{full_name}")
    def delete_schema(full_name: str) -> dict[str, Any]:
        if full_name not in ws.schemas:
            raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{full_name}' does not exist.")
        if any(t.startswith(full_name + ".") for t in ws.tables):
            raise ApiError(400, "INVALID_STATE", f"Schema '{full_name}' is not empty.")
        del ws.schemas[full_name]
        return {}

    @r.get("/api/2.1/unity-catalog/tables/{full_name}")
    def get_table(full_name: str) -> dict[str, Any]:
        if full_name not in ws.tables:
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{full_name}' does not exist.")
        return ws.tables[full_name].as_dict()

    @r.delete("/api/2.1/unity-catalog/tables/{full_name}")
    def delete_table(full_name: str) -> dict[str, Any]:
        if ws.tables.pop(full_name, None) is None:
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{full_name}' does not exist.")
        cat, sch, name = full_name.split(".")
        with ws.engine.lock:
            ws.engine.db.execute(f'DROP TABLE IF EXISTS "{cat}"."{sch}"."{name}"').fetchall()
        return {}

    @r.get("/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}")
    def get_grants(securable_type: str, full_name: str, principal: str | None = None) -> dict[str, Any]:
        _securable(ws, securable_type, full_name)
        grants = ws.grants.get((securable_type.upper(), full_name), {})
        assignments = [catalog.PrivilegeAssignment(principal=p, privileges=sorted(privs, key=lambda x: x.value))
                       for p, privs in grants.items() if principal is None or p == principal]  # fmt: skip
        return catalog.GetPermissionsResponse(privilege_assignments=assignments).as_dict()

    @r.patch("/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}")
    async def update_grants(securable_type: str, full_name: str, request: Request) -> dict[str, Any]:
        _securable(ws, securable_type, full_name)
        body = await request.json()
        grants = ws.grants.setdefault((securable_type.upper(), full_name), {})
        for change in (catalog.PermissionsChange.from_dict(c) for c in body.get("changes", [])):
            have = grants.setdefault(change.principal or "", set())
            have |= set(change.add or [])
            have -= set(change.remove or [])
        return get_grants(securable_type, full_name)

    # --- warehouses (create, delete, permissions) -------------------------------------------
    @r.post("/api/2.0/sql/warehouses")
    async def create_warehouse(request: Request) -> dict[str, Any]:
        body = await request.json()
        if body.get("enable_serverless_compute") and not ws.serverless:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Serverless compute is not enabled for this workspace.")
        wid = ws.add_warehouse(body["name"], state=sql.State.STARTING, start_seconds=ws.warehouse_start_seconds)
        w = ws.warehouses[wid]
        w.info.cluster_size = body.get("cluster_size")
        w.info.enable_serverless_compute = bool(body.get("enable_serverless_compute"))
        if body.get("tags"):
            w.info.tags = sql.EndpointTags.from_dict(body["tags"])
        return {"id": wid}

    @r.delete("/api/2.0/sql/warehouses/{wid}")
    def delete_warehouse(wid: str) -> dict[str, Any]:
        ws.warehouse(wid)
        del ws.warehouses[wid]
        return {}

    @r.get("/api/2.0/permissions/warehouses/{wid}")
    def get_warehouse_permissions(wid: str) -> dict[str, Any]:
        ws.warehouse(wid)
        acl = [
            sql.WarehouseAccessControlResponse(
                service_principal_name=p, all_permissions=[sql.WarehousePermission(permission_level=level)]
            )
            for p, level in ws.warehouse_acl.get(wid, {}).items()
        ]
        return sql.WarehousePermissions(object_id=f"/sql/warehouses/{wid}", object_type="warehouses",
                                        access_control_list=acl).as_dict()  # fmt: skip

    @r.patch("/api/2.0/permissions/warehouses/{wid}")
    async def update_warehouse_permissions(wid: str, request: Request) -> dict[str, Any]:
        ws.warehouse(wid)
        body = await request.json()
        for item in (sql.WarehouseAccessControlRequest.from_dict(a) for a in body.get("access_control_list", [])):
            who = item.service_principal_name or item.user_name or item.group_name or ""
            ws.warehouse_acl.setdefault(wid, {})[who] = item.permission_level or sql.WarehousePermissionLevel.CAN_USE
        return get_warehouse_permissions(wid)

    # --- SCIM service principals and their OAuth secrets ----------------------------------
    @r.post("/api/2.0/preview/scim/v2/ServicePrincipals")
    async def create_sp(request: Request) -> dict[str, Any]:
        body = await request.json()
        sp = iam.ServicePrincipal.from_dict(body)
        sp.id, sp.application_id = str(uuid.uuid4().int)[:16], str(uuid.uuid4())
        ws.service_principals[sp.id] = sp
        return sp.as_dict()

    @r.get("/api/2.0/preview/scim/v2/ServicePrincipals")
    def list_sps(filter: str | None = None) -> dict[str, Any]:  # noqa: A002 (the API's name)
        found = list(ws.service_principals.values())
        if filter and filter.startswith("displayName eq "):
            wanted = filter.removeprefix("displayName eq ").strip().strip('"')
            found = [sp for sp in found if sp.display_name == wanted]
        return iam.ListServicePrincipalResponse(resources=found, total_results=len(found), start_index=1,
                                                items_per_page=len(found)).as_dict()  # fmt: skip

    @r.delete("/api/2.0/preview/scim/v2/ServicePrincipals/{sp_id}")
    def delete_sp(sp_id: str) -> dict[str, Any]:
        if ws.service_principals.pop(sp_id, None) is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Service principal {sp_id} not found")
        return {}

    @r.post("/api/2.0/accounts/servicePrincipals/{sp_id}/credentials/secrets")
    def create_secret(sp_id: str) -> dict[str, Any]:
        if sp_id not in ws.service_principals:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Service principal {sp_id} not found")
        secret = oauth2.CreateServicePrincipalSecretResponse(
            id=uuid.uuid4().hex[:12], secret=f"dose{uuid.uuid4().hex}", secret_hash=uuid.uuid4().hex[:8],
            status="ACTIVE", create_time=dt.datetime.now(dt.UTC).isoformat(),
        )  # fmt: skip
        ws.sp_secrets.setdefault(sp_id, {})[secret.id or ""] = secret
        return secret.as_dict()

    @r.delete("/api/2.0/accounts/servicePrincipals/{sp_id}/credentials/secrets/{secret_id}")
    def delete_secret(sp_id: str, secret_id: str) -> dict[str, Any]:
        if ws.sp_secrets.get(sp_id, {}).pop(secret_id, None) is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Secret {secret_id} not found")
        return {}

    # --- secret scopes (Databricks-backed) ------------------------------------------------
    @r.post("/api/2.0/secrets/scopes/create")
    async def create_scope(request: Request) -> dict[str, Any]:
        scope = (await request.json())["scope"]  # (the SDK sends plain fields: it has no request class here)
        if scope in ws.secret_scopes:
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Scope {scope} already exists!")
        ws.secret_scopes[scope] = {}
        return {}

    @r.get("/api/2.0/secrets/scopes/list")
    def list_scopes() -> dict[str, Any]:
        scopes = [workspace.SecretScope(name=n, backend_type=workspace.ScopeBackendType.DATABRICKS)
                  for n in sorted(ws.secret_scopes)]  # fmt: skip
        return workspace.ListScopesResponse(scopes=scopes).as_dict()

    @r.post("/api/2.0/secrets/scopes/delete")
    async def delete_scope(request: Request) -> dict[str, Any]:
        scope = (await request.json())["scope"]
        if ws.secret_scopes.pop(scope, None) is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Scope {scope} does not exist!")
        return {}

    @r.post("/api/2.0/secrets/put")
    async def put_secret(request: Request) -> dict[str, Any]:
        body = await request.json()
        if body["scope"] not in ws.secret_scopes:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Scope {body['scope']} does not exist!")
        ws.secret_scopes[body["scope"]][body["key"]] = body.get("string_value", "")
        return {}

    @r.get("/api/2.0/secrets/list")
    def list_secrets(scope: str) -> dict[str, Any]:
        if scope not in ws.secret_scopes:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Scope {scope} does not exist!")
        keys = [workspace.SecretMetadata(key=k, last_updated_timestamp=0) for k in sorted(ws.secret_scopes[scope])]
        return workspace.ListSecretsResponse(secrets=keys).as_dict()

    # --- Lakebase -------------------------------------------------------------------------
    @r.post("/api/2.0/database/instances")
    async def create_instance(request: Request) -> dict[str, Any]:
        body = await request.json()
        name = body["name"]
        if name in ws.database_instances:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"Database instance '{name}' already exists.")
        ws.add_database_instance(name)
        inst = ws.database_instances[name].info
        inst.capacity = body.get("capacity", inst.capacity)
        return inst.as_dict()

    @r.delete("/api/2.0/database/instances/{name}")
    def delete_instance(name: str) -> dict[str, Any]:
        if ws.database_instances.pop(name, None) is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Database instance '{name}' does not exist.")
        return {}

    @r.post("/api/2.0/database/synced_tables")
    async def create_synced(request: Request) -> dict[str, Any]:
        table = database.SyncedDatabaseTable.from_dict(await request.json())
        source = table.spec.source_table_full_name if table.spec else None
        if source not in ws.tables:
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Source table '{source}' does not exist.")
        if table.database_instance_name not in ws.database_instances:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Database instance '{table.database_instance_name}' does not exist."
            )
        ws.synced_tables[table.name or ""] = table
        return table.as_dict()

    @r.get("/api/2.0/database/synced_tables/{name}")
    def get_synced(name: str) -> dict[str, Any]:
        if name not in ws.synced_tables:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Synced table '{name}' does not exist.")
        return ws.synced_tables[name].as_dict()

    @r.delete("/api/2.0/database/synced_tables/{name}")
    def delete_synced(name: str) -> dict[str, Any]:
        if ws.synced_tables.pop(name, None) is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Synced table '{name}' does not exist.")
        return {}

    # --- Databricks Apps ------------------------------------------------------------------
    @r.post("/api/2.0/apps")
    async def create_app(request: Request) -> dict[str, Any]:
        app = apps.App.from_dict(await request.json())
        if app.name in ws.apps:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"App '{app.name}' already exists.")
        app.url = f"https://{app.name}-{ws.workspace_id}.aws.databricksapps.com"
        app.compute_status = apps.ComputeStatus(state=apps.ComputeState.STOPPED)
        app.service_principal_client_id = str(uuid.uuid4())
        app.service_principal_name = f"app-{app.name}"
        ws.app_secrets[app.service_principal_client_id] = f"dose{uuid.uuid4().hex}"  # the platform keeps it
        ws.apps[app.name or ""] = app
        return app.as_dict()

    @r.get("/api/2.0/apps/{name}")
    def get_app(name: str) -> dict[str, Any]:
        if name not in ws.apps:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"App '{name}' does not exist.")
        refresh_app(ws, ws.apps[name])
        return ws.apps[name].as_dict()

    @r.delete("/api/2.0/apps/{name}")
    def delete_app(name: str) -> dict[str, Any]:
        app = ws.apps.pop(name, None)
        if app is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"App '{name}' does not exist.")
        return app.as_dict()

    return r


def _securable(ws: Workspace, kind: str, full_name: str) -> None:
    known = {"CATALOG": ws.catalogs, "SCHEMA": ws.schemas, "TABLE": ws.tables}.get(kind.upper())
    if known is None or full_name not in known:
        raise ApiError(404, f"{kind.upper()}_DOES_NOT_EXIST", f"{kind.capitalize()} '{full_name}' does not exist.")
