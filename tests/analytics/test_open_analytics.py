"""The settings choose the backend; each one answers the same, and a missing setting says what to set."""

from __future__ import annotations

import pytest
from databricks.sdk.core import Config

from tests.analytics import dataset
from tests.analytics.conftest import LAKEBASE, local_table
from zerostream_desktop.core.analytics import analytics_source, open_analytics
from zerostream_desktop.core.settings import SettingsError, load_settings

pytestmark = pytest.mark.integration


def settings_for(**env: str):
    return load_settings(environ=env, search_dirs=[])


def emulator_config(ws) -> Config:
    return Config(host=ws.base_url, token=ws.token, auth_type="pat", retry_timeout_seconds=10)


def test_local_is_the_default_when_streaming_locally(tmp_path, rows):
    local_table(tmp_path, rows)
    s = settings_for(ZEROSTREAM_DATA_DIR=str(tmp_path))
    assert analytics_source(s) == "local"
    backend = open_analytics(s)
    assert backend.kpis(dataset.WINDOW) == dataset.expected_kpis(rows, dataset.WINDOW)
    backend.close()


def test_the_warehouse_is_the_default_when_streaming_to_databricks(workspace, rows):
    wid = next(iter(workspace.warehouses))
    s = settings_for(ZEROSTREAM_ENDPOINT="databricks", DATABRICKS_WAREHOUSE_ID=wid)
    assert analytics_source(s) == "warehouse"
    backend = open_analytics(s, emulator_config(workspace))
    assert backend.kpis(dataset.WINDOW) == dataset.expected_kpis(rows, dataset.WINDOW)
    backend.close()
    with pytest.raises(SettingsError, match="DATABRICKS_WAREHOUSE_ID is not set: run the setup wizard"):
        open_analytics(settings_for(ZEROSTREAM_ENDPOINT="databricks"), emulator_config(workspace))


def test_lakebase_when_asked(lakebase_workspace, postgres, rows):
    instance, db, schema_name, table = LAKEBASE
    s = settings_for(ZEROSTREAM_ANALYTICS="lakebase", LAKEBASE_INSTANCE=instance, LAKEBASE_DATABASES=db,
                     LAKEBASE_SCHEMA=schema_name, TABLE_NAME=table, LAKEBASE_PORT=str(postgres.port))  # fmt: skip
    backend = open_analytics(s, emulator_config(lakebase_workspace))
    assert backend.clients(dataset.WINDOW) == dataset.expected_clients(rows, dataset.WINDOW)
    backend.close()
