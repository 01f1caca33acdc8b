"""The Lakebase backend against a real PostgreSQL server: short-lived credentials, reconnects, clear errors."""

from __future__ import annotations

import time

import pytest

from tests.analytics import dataset
from tests.analytics.conftest import LAKEBASE, lakebase_backend, workspace_client
from zerostream_desktop.core.analytics.lakebase import LakebaseAnalytics
from zerostream_desktop.core.analytics.model import AnalyticsError

pytestmark = pytest.mark.integration


def test_an_expired_credential_is_replaced_when_the_connection_drops(lakebase_workspace, postgres):
    ws = lakebase_workspace
    ws.credential_ttl_s = 62  # just over the margin: the next reconnect after 2 s needs a new one
    try:
        backend = lakebase_backend(ws, postgres)
        want = dataset.expected_kpis(dataset.rows(), dataset.WINDOW)
        assert backend.kpis(dataset.WINDOW).total_events == want.total_events
        assert backend.credentials_fetched == 1
        time.sleep(2.1)
        with postgres.admin() as admin:  # the server drops every session of that login
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [ws.user.user_name]
            )
        assert backend.kpis(dataset.WINDOW).total_events == want.total_events  # reconnected, fresh credential
        assert backend.credentials_fetched == 2
        backend.close()
    finally:
        ws.credential_ttl_s = 3600


def test_an_unknown_instance_points_to_the_wizard(lakebase_workspace, postgres):
    _, db, schema_name, table = LAKEBASE
    backend = LakebaseAnalytics(workspace_client(lakebase_workspace), "no-such-instance", db, schema_name, table,
                                port=postgres.port)  # fmt: skip
    with pytest.raises(AnalyticsError, match="instance 'no-such-instance' does not exist; run the setup wizard"):
        backend.kpis(dataset.WINDOW)


def test_a_missing_synced_table_is_named(lakebase_workspace, postgres):
    instance, db, schema_name, _ = LAKEBASE
    backend = LakebaseAnalytics(workspace_client(lakebase_workspace), instance, db, schema_name, "not_synced",
                                port=postgres.port)  # fmt: skip
    with pytest.raises(AnalyticsError, match="synced table does not exist yet"):
        backend.clients(dataset.WINDOW)


def test_an_unreachable_database_is_an_error_not_a_hang(lakebase_workspace):
    instance, db, schema_name, table = LAKEBASE
    backend = LakebaseAnalytics(workspace_client(lakebase_workspace), instance, db, schema_name, table, port=1,
                                connect_timeout_s=3)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(AnalyticsError, match="cannot connect to Lakebase .* at 127.0.0.1:1"):
        backend.kpis(dataset.WINDOW)
    assert time.monotonic() - started < 15
