"""Who may use a web app, and who they are.

Hosted on Databricks Apps the platform signs users in and forwards who they are
(`X-Forwarded-Email`); no token is needed. Run locally (`zerostream webapps serve`) the apps take a
random access token, as Jupyter does: the printed link carries it once (`?token=`), the server
answers with an HttpOnly cookie and a redirect to the same page without it, and every later
request (pages, REST, WebSocket) must carry the cookie or `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import getpass
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

COOKIE = "zerostream_token"

UNAUTHORISED_PAGE = """<!doctype html><meta charset="utf-8"><title>ZeroStream: sign-in needed</title>
<body style="font-family: sans-serif; margin: 3em">
<h1>This page needs its access link</h1>
<p>Open the link that <code>zerostream webapps serve</code> printed (it ends with <code>?token=…</code>).
The token keeps other users of this machine from driving your simulator.</p></body>"""


def user_of(headers: dict[str, str] | object, hosted: bool) -> str:
    """The signed-in user: the platform's forwarded e-mail hosted, the local user otherwise."""
    get = getattr(headers, "get", None)
    if get is not None:
        for name in ("x-forwarded-email", "x-forwarded-preferred-username", "x-forwarded-user"):
            value = get(name)
            if value:
                return str(value)
    return "unknown user" if hosted else getpass.getuser()


def _matches(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), token)


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def allowed(request: Request | WebSocket, token: str | None) -> bool:
    if token is None:
        return True
    bearer = _bearer(request.headers.get("authorization"))
    return _matches(request.cookies.get(COOKIE), token) or _matches(bearer, token)


async def accept_socket(socket: WebSocket, token: str | None) -> bool:
    """Accept a page's WebSocket, or close it with 4401 when the token is missing or wrong."""
    if not allowed(socket, token):
        await socket.close(code=4401, reason="missing or wrong access token")
        return False
    await socket.accept()
    return True


def require_token(app: FastAPI, token: str | None) -> None:
    """Gate every HTTP route of `app` behind the token (WebSocket routes call `allowed` themselves)."""
    if token is None:
        return

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.query_params.get("token")
        if given is not None and _matches(given, token):
            rest = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k != "token"])
            target = request.url.path + (f"?{rest}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        if allowed(request, token):
            return await call_next(request)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "missing or wrong access token"}, status_code=401)
        return HTMLResponse(UNAUTHORISED_PAGE, status_code=401)
