"""The SQL warehouse backend on the workspace emulator: Arrow results, bound values, a starting warehouse, errors."""

from __future__ import annotations

import socket
import time

import pytest
from databricks.sdk.service.sql import State

from tests.analytics import dataset
from tests.analytics.conftest import TABLE, workspace_client
from zerostream_desktop.core.analytics.model import AnalyticsError, NotReadyError
from zerostream_desktop.core.analytics.warehouse import WarehouseAnalytics

pytestmark = pytest.mark.integration


def test_results_come_as_arrow_and_values_are_bound_not_spliced(workspace):
    backend = WarehouseAnalytics(workspace_client(workspace), next(iter(workspace.warehouses)), TABLE)
    before = len(workspace.requests)
    track = backend.track(dataset.EVIL, limit=5, max_points=5)
    backend.close()
    assert len(track.points) == 5 and track.connection_id == dataset.EVIL
    calls = workspace.requests[before:]
    assert any(path.startswith("/_emulator/results/") for _, path in calls), calls  # EXTERNAL_LINKS, Arrow
    assert ("POST", "/api/2.0/sql/statements") in calls
    assert not any("DROP TABLE" in s for s in workspace.engine.statements)  # the id travelled as a parameter


@pytest.fixture(params=["sea", "thrift"])
def ws(request):
    """The warehouse over the connector's REST (SEA) transport on http, and its Thrift transport on https."""
    return request.getfixturevalue("workspace" if request.param == "sea" else "workspace_tls")


def test_over_https_the_connector_speaks_thrift_with_values_bound(workspace_tls):
    ws = workspace_tls
    backend = WarehouseAnalytics(workspace_client(ws), next(iter(ws.warehouses)), TABLE)
    before = len(ws.thrift.calls)
    track = backend.track(dataset.EVIL, limit=5, max_points=5)
    backend.close()
    assert len(track.points) == 5 and track.connection_id == dataset.EVIL
    calls = ws.thrift.calls[before:]
    assert calls[0] == "OpenSession" and "ExecuteStatement" in calls and calls[-1] == "CloseSession"
    assert not any(path.startswith("/api/2.0/sql/statements") for _, path in ws.requests)  # not the REST API
    assert not any("DROP TABLE" in s for s in ws.engine.statements)


def test_a_stopped_warehouse_is_started_and_the_dashboard_waits_without_blocking(ws):
    wid = ws.add_warehouse("sleepy", state=State.STOPPED, start_seconds=1.5)
    ws.engine.statements.clear()
    backend = WarehouseAnalytics(workspace_client(ws), wid, TABLE)
    started = time.monotonic()
    with pytest.raises(NotReadyError, match="'sleepy' was stopped and is starting"):
        backend.kpis(dataset.WINDOW)
    with pytest.raises(NotReadyError, match="'sleepy' is starting"):
        backend.kpis(dataset.WINDOW)
    assert time.monotonic() - started < 5  # answered at once, not after the start
    assert ws.engine.statements == []
    time.sleep(1.6)
    assert backend.kpis(dataset.WINDOW) == dataset.expected_kpis(dataset.rows(), dataset.WINDOW)
    backend.close()


def test_a_wrong_token_says_to_check_the_credentials(ws):
    backend = WarehouseAnalytics(
        workspace_client(ws, token="dapi-wrong"), next(iter(ws.warehouses)), TABLE
    )
    with pytest.raises(AnalyticsError, match="not allowed to use SQL warehouse .* Check the credentials in Settings"):
        backend.clients(dataset.WINDOW)


def test_an_unknown_warehouse_or_table_is_named(ws):
    with pytest.raises(AnalyticsError, match="does not exist; choose a warehouse in Settings"):
        WarehouseAnalytics(workspace_client(ws), "0000000000000000", TABLE).kpis(dataset.WINDOW)
    backend = WarehouseAnalytics(
        workspace_client(ws), next(iter(ws.warehouses)), "zerostream.sensors.nope"
    )
    with pytest.raises(AnalyticsError, match="nope"):
        backend.kpis(dataset.WINDOW)


def test_an_unreachable_workspace_is_an_error_not_a_hang():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    client = WorkspaceClient(config=Config(host=f"http://127.0.0.1:{port}", token="x", auth_type="pat",
                                           retry_timeout_seconds=2))  # fmt: skip
    started = time.monotonic()
    with pytest.raises(AnalyticsError, match="cannot reach the workspace"):
        WarehouseAnalytics(client, "abc", TABLE).kpis(dataset.WINDOW)
    assert time.monotonic() - started < 30
