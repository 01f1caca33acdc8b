"""Templates and static files of the web apps, and the map page's files shared with the desktop.

Jinja2 autoescapes every value put into a page. Static paths are relative, so an app works at the
root (hosted) and mounted under a prefix (`zerostream webapps serve --app both`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from zerostream_desktop import __version__
from zerostream_desktop.core.paths import resource_path
from zerostream_desktop.webapps.access import require_token

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))


def create_app(title: str, lifespan: Lifespan, access_token: str | None) -> FastAPI:
    """A web app with its lifespan, the access gate (when there is a token) and the shared assets."""
    app = FastAPI(title=title, lifespan=lifespan)
    require_token(app, access_token)
    mount_assets(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """What `zerostream verify` and the platform's checks ask: the app is up and which it is."""
        return {"status": "ok", "app": title, "version": __version__}

    return app


def mount_assets(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.mount("/map", StaticFiles(directory=str(resource_path("map"))), name="map")
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]


async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """A bad value says which and why in one line (FastAPI's default is a list of error objects)."""
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            problems.append("the body is not valid JSON")
            continue
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        message = error.get("msg", "invalid")
        problems.append(f"{where}: {message}" if where else message)
    return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, template, {"version": __version__, **context})
    response.headers["Cache-Control"] = "no-store"
    return response
