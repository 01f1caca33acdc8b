"""Every route the workspace emulator serves is one its clients really call.

databricks-sdk's calls are read from the installed SDK's source (`self._api.do("METHOD", "path")` in its
service modules and mixins); the SQL connector's from its SEA backend's path constants. Any other
route is in the allow-list below, naming the client that calls it. A misspelt path, a wrong method
or a route no client calls fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import databricks.sdk
from fastapi.routing import APIRoute

from tests.emulators.workspace.app import create_app
from tests.emulators.workspace.state import Workspace

_DO = re.compile(r'\.do\(\s*"(GET|POST|PUT|PATCH|DELETE)",\s*f?"([^"]+)"')
_PARAM = re.compile(r"\{[^}]*\}")
FASTAPI_OWN = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def normal(path: str) -> str:
    return _PARAM.sub("{}", path)


def sdk_calls() -> set[tuple[str, str]]:
    root = Path(databricks.sdk.__file__).parent
    calls = set()
    for source in root.rglob("*.py"):
        for method, path in _DO.findall(source.read_text(encoding="utf-8")):
            calls.add((method, normal(path)))
    return calls


def connector_calls() -> set[tuple[str, str]]:
    from databricks.sql.backend.sea.backend import SeaDatabricksClient as Sea

    return {
        ("POST", Sea.SESSION_PATH), ("DELETE", normal(Sea.SESSION_PATH_WITH_ID)), ("POST", Sea.STATEMENT_PATH),
        ("GET", normal(Sea.STATEMENT_PATH_WITH_ID)), ("DELETE", normal(Sea.STATEMENT_PATH_WITH_ID)),
        ("POST", normal(Sea.CANCEL_STATEMENT_PATH_WITH_ID)), ("GET", normal(Sea.CHUNK_PATH_WITH_ID_AND_INDEX)),
    }  # fmt: skip


def _sdk_source_mentions(text: str) -> bool:
    return any(text in p.read_text(encoding="utf-8") for p in Path(databricks.sdk.__file__).parent.rglob("*.py"))


# (method, path) -> who calls it, for routes no `.do()` of the SDK names
OTHER_CLIENTS = {
    ("GET", "/.well-known/databricks-config"): "databricks-sdk's host metadata discovery (config.py)",
    ("GET", "/oidc/.well-known/oauth-authorization-server"): "databricks-sdk's oauth-m2m (get_workspace_endpoints)",
    ("POST", "/oidc/v1/token"): "the token endpoint the discovery names; the ZeroBus SDK's Rust core asks it directly",
    ("GET", "/_emulator/results/{}/{}"): "the emulator's own: presigned EXTERNAL_LINKS result chunks",
    ("POST", "/sql/1.0/warehouses/{}"): "the SQL connector's Thrift backend (THttpClient posts to the http_path)",
}


def routes() -> set[tuple[str, str]]:
    app = create_app(Workspace())
    found = set()

    def walk(items: list) -> None:  # type: ignore[type-arg]
        for r in items:
            if isinstance(r, APIRoute):
                found.update((m, normal(r.path)) for m in r.methods)
            elif hasattr(r, "path") and hasattr(r, "methods"):
                found.update((m, normal(r.path)) for m in r.methods or () if m != "HEAD")
            else:
                inner = getattr(getattr(r, "original_router", None), "routes", None) or getattr(r, "routes", None)
                walk(inner or [])

    walk(app.routes)
    return {(m, p) for m, p in found if p not in FASTAPI_OWN and m != "HEAD"}


def test_every_route_is_one_a_real_client_calls():
    called = sdk_calls() | connector_calls()
    unknown = sorted(r for r in routes() if r not in called and r not in OTHER_CLIENTS)
    assert not unknown, f"routes no client calls (misspelt, or missing from OTHER_CLIENTS): {unknown}"


def test_the_allow_list_names_routes_that_exist_and_clients_that_know_them():
    served = routes()
    assert set(OTHER_CLIENTS) <= served, set(OTHER_CLIENTS) - served
    assert _sdk_source_mentions("/.well-known/databricks-config")
    assert _sdk_source_mentions("/oidc/.well-known/oauth-authorization-server")


def test_the_check_catches_a_misspelt_route():
    assert ("GET", "/api/2.0/apps/{}") in sdk_calls()
    assert ("GET", "/api/2.0/app/{}") not in sdk_calls() | connector_calls()
    assert len(routes()) > 50
