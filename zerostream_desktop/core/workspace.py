"""Who the workspace says we are: the one check behind every Test Connection button."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from zerostream_desktop.core.settings import Settings


def workspace_client(settings: Settings, token: str | None = None, retry_timeout_seconds: int = 20) -> WorkspaceClient:
    """A client as the settings describe it (profile, or host and token), giving up after the timeout."""
    from databricks.sdk import WorkspaceClient

    from zerostream_desktop.core.settings import databricks_config

    return WorkspaceClient(config=databricks_config(settings, retry_timeout_seconds=retry_timeout_seconds, token=token))


def who_am_i(client: WorkspaceClient) -> str:
    """"Signed in as <user> on <host>", or the SDK's error. Blocks: call off the UI thread."""
    me = client.current_user.me()
    return f"Signed in as {me.user_name or me.display_name} on {client.config.host}"
