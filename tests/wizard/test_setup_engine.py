"""`zerostream setup` against the workspace emulator, through the real databricks-sdk over HTTP."""

from __future__ import annotations

import argparse
import logging

import pytest
from databricks.sdk.service import sql

from infra_wizard import cli
from zerostream_desktop.core import schema
from zerostream_desktop.core.paths import user_config_dir
from zerostream_desktop.core.secrets import open_secret_store, zerobus_client_secret_key

pytestmark = pytest.mark.integration
CREATING = {"/api/2.0/sql/warehouses", "/api/2.1/unity-catalog/catalogs", "/api/2.1/unity-catalog/schemas",
            "/api/2.0/sql/statements", "/api/2.0/preview/scim/v2/ServicePrincipals", "/api/2.0/apps"}  # fmt: skip


def setup(action: str, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["setup", action, *extra])
    args.data_dir = None
    return cli.run(args)


def secret_of(ws) -> str:
    sp = next(iter(ws.service_principals.values()))
    return open_secret_store().get(zerobus_client_secret_key(sp.application_id))


def test_plan_on_an_empty_workspace_lists_what_it_would_create(ws, capsys):
    assert setup("plan") == 0
    out = capsys.readouterr().out
    for line in ("SQL warehouse", "Unity Catalog catalog and schema", "Delta table", "ZeroBus service principal",
                 "Grants for the service principal", "Companion Databricks Apps", "generated_config.env"):  # fmt: skip
        assert line in out
    assert out.count("will create") == 8 and "Lakebase is off" in out
    assert ws.warehouses == {} and ws.catalogs == {}  # a plan changes nothing


def test_apply_creates_everything_and_a_second_apply_creates_nothing(ws, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    assert setup("apply") == 0
    out = capsys.readouterr().out
    ((wid, warehouse),) = ws.warehouses.items()
    assert warehouse.info.name == "zs_warehouse" and warehouse.info.enable_serverless_compute
    table = ws.tables["zerostream.sensors.sensor_stream"]
    assert [(c.name, c.type_text.upper()) for c in table.columns] == [(c.name, c.type.value) for c in schema.COLUMNS]
    (sp,) = ws.service_principals.values()
    assert sp.display_name == "zs-zerobus-service"
    secret = secret_of(ws)
    assert secret and secret.startswith("dose")
    grants = ws.grants[("TABLE", "zerostream.sensors.sensor_stream")][sp.application_id]
    assert {p.value for p in grants} == {"SELECT", "MODIFY"}
    assert ws.warehouse_acl[wid][sp.application_id] is sql.WarehousePermissionLevel.CAN_USE
    assert set(ws.apps) == {"zs-mobile-app", "zs-dashboard-app"}
    # the apps' own principals: the mobile app writes the table, the dashboard reads it through the warehouse
    mobile, dashboard = (ws.apps[n].service_principal_client_id for n in ("zs-mobile-app", "zs-dashboard-app"))
    table_grants = ws.grants[("TABLE", "zerostream.sensors.sensor_stream")]
    assert {p.value for p in table_grants[mobile]} == {"SELECT", "MODIFY"}
    assert {p.value for p in table_grants[dashboard]} == {"SELECT"}
    assert {p.value for p in ws.grants[("SCHEMA", "zerostream.sensors")][dashboard]} == {"USE_SCHEMA"}
    assert ws.warehouse_acl[wid][dashboard] is sql.WarehousePermissionLevel.CAN_USE
    assert mobile not in ws.warehouse_acl[wid]
    config = (user_config_dir() / "generated_config.env").read_text()
    assert f'DATABRICKS_WAREHOUSE_ID="{wid}"' in config and f'ZEROBUS_CLIENT_ID="{sp.application_id}"' in config
    # the secret is nowhere but the keyring
    assert secret not in out and secret not in caplog.text
    for path in user_config_dir().rglob("*"):
        assert not path.is_file() or secret not in path.read_text(errors="replace"), path

    before = len(ws.requests)
    assert setup("apply") == 0
    again = capsys.readouterr().out
    assert "created" not in again and again.count("exists") >= 7
    assert not [r for r in ws.requests[before:] if r[0] == "POST" and r[1] in CREATING]
    assert len(ws.service_principals) == 1 and secret_of(ws) == secret  # no new principal, no new secret


def test_a_failure_part_way_names_the_step_and_the_next_apply_resumes(ws, capsys):
    ws.deny.append(("PATCH", "/api/2.1/unity-catalog/permissions"))
    assert setup("apply") == 1
    out = capsys.readouterr().out
    assert "Grants for the service principal" in out and "permission denied" in out
    assert "ask a workspace admin" in out and "not done: an earlier step failed" in out
    assert "Stopped at Grants for the service principal" in out
    assert ws.apps == {}
    ws.deny.clear()
    assert setup("apply") == 0
    out = capsys.readouterr().out
    assert out.count("created") == 4  # grants, apps, their grants, config: the rest existed
    assert len(ws.warehouses) == 1 and len(ws.service_principals) == 1


def test_destroy_removes_only_what_it_created_and_keeps_the_data(ws, capsys):
    from databricks.sdk.service import catalog

    ws.engine.ensure_catalog("zerostream")
    ws.catalogs["zerostream"] = catalog.CatalogInfo(name="zerostream", owner="someone-else")  # there before us
    other = ws.add_warehouse("someone-elses-warehouse")
    assert setup("apply") == 0
    assert setup("destroy", "--yes") == 0
    out = capsys.readouterr().out
    assert "kept the data table zerostream.sensors.sensor_stream" in out
    assert set(ws.warehouses) == {other} and ws.service_principals == {} and ws.apps == {}
    assert "zerostream.sensors.sensor_stream" in ws.tables and "zerostream" in ws.catalogs
    assert setup("destroy", "--yes", "--include-data") == 0
    assert "zerostream.sensors.sensor_stream" not in ws.tables and "zerostream.sensors" not in ws.schemas
    assert "zerostream" in ws.catalogs  # not ours: never removed


def test_a_wrong_token_says_so_and_how_to_fix_it(ws, capsys, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    assert setup("plan") == 1
    out = capsys.readouterr().out
    assert "refused the credentials" in out and "databricks auth login" in out


def test_an_existing_table_with_another_schema_is_drift_and_left_alone(ws, capsys):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    w = WorkspaceClient(config=Config(host=ws.base_url, token=ws.token, auth_type="pat"))
    w.catalogs.create("zerostream")
    w.schemas.create("sensors", "zerostream")
    wid = ws.add_warehouse("zs_warehouse")
    w.statement_execution.execute_statement(
        "CREATE TABLE zerostream.sensors.sensor_stream (event_id STRING, speed_kmh INT)", wid
    )
    assert setup("plan") == 0
    out = capsys.readouterr().out
    assert "drift" in out and "speed_kmh is INT, expected DOUBLE" in out and "missing connection_id" in out
    setup("apply")
    assert [c.name for c in ws.tables["zerostream.sensors.sensor_stream"].columns] == ["event_id", "speed_kmh"]


def test_lakebase_adds_an_instance_and_a_synced_table(ws, capsys):
    assert setup("apply", "--lakebase") == 0
    assert "zs-lakebase" in ws.database_instances
    synced = ws.synced_tables["zerostream.sensors.sensor_stream_synced"]
    assert synced.spec.primary_key_columns == ["event_id"] and synced.spec.timeseries_key == "ingested_at"
    for app in ws.apps.values():
        database = {r.name: r for r in app.resources}["database"].database
        assert (database.instance_name, database.database_name) == ("zs-lakebase", "zerobusstream")


def test_lakebase_added_later_gives_the_existing_apps_a_database_resource(ws, capsys):
    assert setup("apply") == 0
    assert all({r.name for r in a.resources} == {"sql-warehouse"} for a in ws.apps.values())
    capsys.readouterr()
    assert setup("apply", "--lakebase") == 0
    out = capsys.readouterr().out
    assert "the database resource added to zs-mobile-app" in out
    for app in ws.apps.values():
        assert {r.name for r in app.resources} == {"sql-warehouse", "database"}
        assert app.resources[0].sql_warehouse.id  # the warehouse resource kept as it was


def test_without_a_keyring_no_secret_is_made_that_would_be_lost(ws, capsys, monkeypatch):
    from zerostream_desktop.core import secrets

    monkeypatch.setattr(secrets, "open_secret_store", lambda: secrets.MemorySecretStore("no OS keyring"))
    assert setup("apply") == 1
    out = capsys.readouterr().out
    assert "no OS keyring here to keep its OAuth secret" in out and "start a Secret Service" in out
    assert len(ws.service_principals) == 1 and not any(ws.sp_secrets.values())  # the principal, no secret


def test_an_unreachable_host_is_one_clear_error(monkeypatch, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-x")
    assert setup("plan", "--timeout", "2") == 1
    out = capsys.readouterr().out
    assert "SQL warehouse" in out and "cannot reach the workspace" in out and "check the host" in out
    assert "Unity Catalog" not in out  # it stops at the first unreachable call


def test_a_plain_file_keyring_is_named_and_gets_no_principal_secret_unless_allowed(ws, capsys, monkeypatch, tmp_path):  # noqa: E501
    from tests.services.keyring import PlaintextKeyring
    from zerostream_desktop.core import secrets

    store = secrets.KeyringSecretStore(PlaintextKeyring(str(tmp_path / "keyring_pass.cfg")))
    monkeypatch.setattr(secrets, "open_secret_store", lambda: store)
    assert store.plaintext == "tests.services.keyring.PlaintextKeyring"
    assert "plain-text file keyring" in store.description
    assert setup("apply") == 1
    out = capsys.readouterr().out
    assert "keeps secrets in a plain file" in out and "--allow-plaintext-keyring" in out
    assert not any(ws.sp_secrets.values())  # no secret made that would sit in a plain file
    assert setup("apply", "--allow-plaintext-keyring") == 0
    assert store.get(secrets.zerobus_client_secret_key(next(iter(ws.service_principals.values())).application_id))


def test_the_load_job_gets_a_secret_scope_with_the_principals_secret_and_destroy_removes_it(ws, capsys):
    assert setup("plan") == 0 and "the load job's secret is off (--load-job to add it)" in capsys.readouterr().out
    assert setup("apply") == 0 and ws.secret_scopes == {}
    assert setup("apply", "--load-job") == 0
    assert ws.secret_scopes == {"zs": {"zerobus-client-secret": secret_of(ws)}}  # what the job's clusters read
    out = capsys.readouterr().out
    assert "Secret scope for the load job" in out and "scope 'zs'" in out
    assert setup("plan", "--load-job") == 0 and "will create" not in capsys.readouterr().out
    assert setup("destroy", "--yes") == 0 and ws.secret_scopes == {}


def test_the_load_jobs_secret_needs_the_principals_secret_in_this_keyring(ws, capsys):
    assert setup("apply") == 0
    sp = next(iter(ws.service_principals.values()))
    open_secret_store().delete(zerobus_client_secret_key(sp.application_id))
    ws.sp_secrets.clear()
    capsys.readouterr()
    # the principal step makes a new secret (none usable here), then the scope gets that one
    assert setup("apply", "--load-job") == 0
    assert ws.secret_scopes["zs"]["zerobus-client-secret"] == secret_of(ws)
