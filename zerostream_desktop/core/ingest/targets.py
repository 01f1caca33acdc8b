"""Where to stream: localbus or a Databricks workspace, and the spool that goes with each."""

from __future__ import annotations

import os
from pathlib import Path

from zerostream_desktop.core.ingest.streamer import Target
from zerostream_desktop.core.secrets import open_secret_store, zerobus_client_secret_key
from zerostream_desktop.core.settings import Settings

CLIENT_SECRET_ENV = "ZEROBUS_CLIENT_SECRET"
LOCAL_UC_URL = "http://127.0.0.1:9"  # unused: localbus streams authenticate with a bearer token


def local_target(settings: Settings, endpoint: str, token: str, ca_cert: Path | None) -> Target:
    return Target("local", endpoint, settings.full_table_name, LOCAL_UC_URL, bearer_token=token, ca_cert=ca_cert)


def databricks_target(settings: Settings) -> Target:
    """OAuth client credentials of the ZeroBus service principal; the secret from the keyring."""
    if not settings.zerobus_server_endpoint or not settings.databricks_host:
        raise ValueError(
            "streaming to Databricks needs ZEROBUS_SERVER_ENDPOINT and DATABRICKS_HOST (run `zerostream setup`)"
        )
    if not settings.zerobus_client_id:
        raise ValueError(
            "streaming to Databricks needs ZEROBUS_CLIENT_ID, the ZeroBus service principal's application id"
        )
    secret = os.environ.get(CLIENT_SECRET_ENV) or open_secret_store().get(
        zerobus_client_secret_key(settings.zerobus_client_id)
    )
    if not secret:
        raise ValueError(
            f"no OAuth secret for {settings.zerobus_client_id} in the keyring; run `zerostream setup apply` "
            f"or set {CLIENT_SECRET_ENV} for this process"
        )
    endpoint = settings.zerobus_server_endpoint
    endpoint = endpoint if "://" in endpoint else f"https://{endpoint}"
    return Target("databricks", endpoint, settings.full_table_name, settings.databricks_host,
                  client_id=settings.zerobus_client_id, client_secret=secret)  # fmt: skip


def spool_stem(target: Target) -> str:
    """Spools are per destination (records wait for the table they were meant for), then per producer."""
    if target.kind == "local":
        return f"local-{target.table}"
    host = target.endpoint.split("://")[-1].split("/")[0].replace(":", "_")
    return f"databricks-{host}-{target.table}"


def spool_folder(settings: Settings) -> Path:
    return settings.data_dir / "spool"
