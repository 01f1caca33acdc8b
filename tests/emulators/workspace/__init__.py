"""A Databricks workspace emulator: the REST API the real databricks-sdk and SQL connector talk to.

Response bodies are built from the SDK's own data classes (`.as_dict()`) and request bodies read
with their `.from_dict()`, so their shapes follow the installed SDK. Areas, each its own router:
identity (`/.well-known/databricks-config`, SCIM Me), SQL warehouses and statement execution
(sessions, statements, Arrow result chunks; Databricks SQL translated to DuckDB by sqlglot), and
Lakebase database instances and credentials. The setup wizard's areas (Unity Catalog, service
principals, apps) plug in the same way.

    with serve_workspace() as ws:
        client = WorkspaceClient(host=ws.url, token=ws.token, auth_type="pat")
"""

from tests.emulators.workspace.server import serve_workspace
from tests.emulators.workspace.state import Workspace

__all__ = ["Workspace", "serve_workspace"]
