"""KPIs, clients and tracks from the sensor table, whichever store holds it.

`open_analytics(settings)` picks the backend: `ZEROSTREAM_ANALYTICS` = local | warehouse |
lakebase, or `auto` (the default): the local table when streaming to localbus, the SQL warehouse
when streaming to Databricks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zerostream_desktop.core.analytics.model import Analytics, AnalyticsError, NotReadyError, Refresh, Window, refresh

if TYPE_CHECKING:
    from zerostream_desktop.core.settings import Settings

__all__ = [
    "Analytics",
    "AnalyticsError",
    "NotReadyError",
    "Refresh",
    "Window",
    "analytics_source",
    "open_analytics",
    "refresh",
]


def analytics_source(settings: Settings) -> str:
    if settings.analytics != "auto":
        return settings.analytics
    return "local" if settings.endpoint == "local" else "warehouse"


def open_analytics(settings: Settings, config: Any = None, *, own_process: bool = False) -> Analytics:
    """The backend the settings ask for. Blocks (a workspace is asked who we are): call off the UI thread.

    `config` is a databricks-sdk Config to use instead of the one the settings describe. With
    `own_process`, the local table is read by a child process (`worker`): the desktop's choice, so
    that its reads never hold the GIL that the UI thread waits for.
    """
    from zerostream_desktop.core.paths import local_table_path
    from zerostream_desktop.core.settings import SettingsError, databricks_config

    source = analytics_source(settings)
    if source == "local":
        table = local_table_path(settings.data_dir, settings.full_table_name)
        if own_process:
            from zerostream_desktop.core.analytics.worker import WorkerAnalytics

            return WorkerAnalytics(table, log_file=settings.data_dir / "logs" / "analytics.log")
        from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics

        return LocalDeltaAnalytics(table)
    from databricks.sdk import WorkspaceClient

    from zerostream_desktop.core.secrets import databricks_token_key, open_secret_store

    host = settings.databricks_host
    try:
        if config is None:
            token = open_secret_store().get(databricks_token_key(host)) if host else None
            config = databricks_config(settings, token=token)
        client = WorkspaceClient(config=config)
    except ValueError as exc:  # the SDK's "cannot configure default credentials" and friends
        raise AnalyticsError(f"cannot sign in to the Databricks workspace: {exc}") from exc
    if source == "warehouse":
        from zerostream_desktop.core.analytics.warehouse import WarehouseAnalytics

        if not settings.warehouse_id:
            raise SettingsError(
                "DATABRICKS_WAREHOUSE_ID is not set: run the setup wizard or choose a warehouse in Settings"
            )
        return WarehouseAnalytics(client, settings.warehouse_id, settings.full_table_name)
    from zerostream_desktop.core.analytics.lakebase import LakebaseAnalytics

    database = settings.lakebase_databases.split(",")[0].strip()
    return LakebaseAnalytics(client, settings.lakebase_instance, database, settings.lakebase_schema,
                             settings.table_name, port=settings.lakebase_port)  # fmt: skip
