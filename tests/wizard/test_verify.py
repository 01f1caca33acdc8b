"""`zerostream verify` on a workspace provisioned end to end in the emulator.

The emulator's warehouse reads the Delta table localbus writes, localbus stands in for ZeroBus (the
workspace's OAuth endpoint hands the SDK the token localbus accepts), and the deployed apps really
run (`run_apps`), so verify's probe and health checks go through the real paths.
"""

from __future__ import annotations

import pytest
from databricks.sdk.service import apps, catalog

from tests.emulators.workspace import serve_workspace
from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port
from tests.wizard.test_setup_engine import setup
from zerostream_desktop.cli import main
from zerostream_desktop.localbus.tables import TableCatalog

pytestmark = pytest.mark.integration


@pytest.fixture
def provisioned(monkeypatch, tmp_path):
    bus = LocalBusProcess(tmp_path / "bus", free_port()).start()
    try:
        with serve_workspace() as ws:
            ws.run_apps = True
            ws.zerobus_token = TOKEN
            for name, value in {"DATABRICKS_HOST": ws.base_url, "DATABRICKS_TOKEN": ws.token, "INFRA_PREFIX": "zs",
                                "ZEROBUS_SERVER_ENDPOINT": bus.endpoint}.items():  # fmt: skip
                monkeypatch.setenv(name, value)
            assert setup("apply") == 0
            ws.engine.attach_delta(TABLE, TableCatalog(bus.data_dir).path(TABLE))
            assert main(["webapps", "deploy"]) == 0
            yield ws, bus
    finally:
        bus.terminate()


def verify(capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", "--probe-events", "12", "--wait", "30"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_verify_passes_on_a_provisioned_workspace_and_names_each_removed_piece(provisioned, capsys):
    ws, bus = provisioned
    code, out = verify(capsys)
    assert code == 0, out
    for name in ("Sign-in", "SQL warehouse", "Table", "ZeroBus principal's grants", "Probe through ZeroBus",
                 "Time to table (warehouse)", "App zs-mobile-app", "App zs-dashboard-app"):  # fmt: skip
        assert any(line.strip().startswith(f"pass  {name}") for line in out.splitlines()), (name, out)
    assert "skip  Lakebase sync lag" in out and "All checks passed." in out
    probes = [r for r in bus.rows("connection_id") if r["connection_id"].startswith("zerostream-probe-")]
    assert len(probes) == 12  # in the table, under the probe's id (the dashboards leave them out)

    # a missing grant
    sp = next(iter(ws.service_principals.values())).application_id
    table_grants = ws.grants[("TABLE", TABLE)][sp]
    table_grants.discard(catalog.Privilege.MODIFY)
    code, out = verify(capsys)
    assert code == 1 and "FAIL  ZeroBus principal's grants" in out and "MODIFY on" in out
    assert "run `zerostream setup apply` to grant them" in out
    table_grants.add(catalog.Privilege.MODIFY)

    # a stopped app
    ws.apps["zs-dashboard-app"].compute_status.state = apps.ComputeState.STOPPED
    code, out = verify(capsys)
    assert code == 1 and "FAIL  App zs-dashboard-app" in out and "STOPPED" in out
    assert "zerostream webapps deploy" in out and "pass  App zs-mobile-app" in out

    # a table with another schema: nothing is streamed into it
    main(["webapps", "deploy", "--app", "dashboard"])
    info = ws.tables[TABLE]
    info.columns = [c for c in info.columns if c.name != "speed_kmh"]
    code, out = verify(capsys)
    assert code == 1 and "FAIL  Table" in out and "missing speed_kmh" in out
    assert "skip  Probe through ZeroBus" in out and "needs: Table" in out
