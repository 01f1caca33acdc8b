"""The workspace's OAuth token endpoint (`POST /oidc/v1/token`, client credentials), for M2M sign-in.

Service principals are the SCIM ones with their OAuth secrets, and each app's own principal (the
emulator keeps its secret, as the platform does, and hands it to the app it runs). A token for the
workspace APIs is accepted by every route afterwards; a request with `authorization_details` (the
ZeroBus SDK asking for a table) gets `zerobus_token`, the bearer token the local ZeroBus endpoint
accepts, standing in for the token the service would scope to that table.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from databricks.sdk.oauth import OidcEndpoints
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tests.emulators.workspace.state import Workspace

TOKEN_TTL_S = 3600


def _secret_ok(ws: Workspace, client_id: str, secret: str) -> bool:
    if ws.app_secrets.get(client_id) == secret:
        return True
    for sp in ws.service_principals.values():
        if sp.application_id == client_id:
            return any(s.secret == secret for s in ws.sp_secrets.get(sp.id or "", {}).values())
    return False


def router(ws: Workspace) -> APIRouter:
    r = APIRouter()

    @r.get("/oidc/.well-known/oauth-authorization-server")
    def discovery() -> dict[str, Any]:
        """Where databricks-sdk's oauth-m2m finds the token endpoint (the SDK's OidcEndpoints)."""
        return OidcEndpoints(
            authorization_endpoint=f"{ws.base_url}/oidc/v1/authorize", token_endpoint=f"{ws.base_url}/oidc/v1/token"
        ).as_dict()

    @r.post("/oidc/v1/token")
    async def token(request: Request) -> Any:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        ws.token_requests.append((client_id, form))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not _secret_ok(ws, client_id, secret):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status_code=401
            )
        if form.get("authorization_details") and ws.zerobus_token:
            access = ws.zerobus_token
        else:
            access = f"emu-m2m-{uuid.uuid4().hex}"
            ws.m2m_tokens[access] = (client_id, time.monotonic() + TOKEN_TTL_S)
        return {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL_S,
                "scope": form.get("scope", "all-apis")}  # fmt: skip

    return r


def valid_bearer(ws: Workspace, header: str | None) -> bool:
    """The workspace's PAT, or an unexpired token from the OAuth endpoint."""
    if header == f"Bearer {ws.token}":
        return True
    token = (header or "").removeprefix("Bearer ")
    entry = ws.m2m_tokens.get(token)
    return entry is not None and entry[1] > time.monotonic()
