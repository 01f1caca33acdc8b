"""Both web apps on one local server, behind one access token: what `zerostream webapps serve` runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

from zerostream_desktop.core.settings import Settings
from zerostream_desktop.webapps.access import require_token
from zerostream_desktop.webapps.dashboard import create_dashboard_app
from zerostream_desktop.webapps.mobile import create_mobile_app

Which = Literal["mobile", "dashboard", "both"]

INDEX = """<!doctype html><meta charset="utf-8"><title>ZeroStream web apps</title>
<link rel="stylesheet" href="dashboard/static/web.css">
<body class="app"><header><h1>ZeroStream web apps</h1></header>
<main style="padding: 16px"><ul>
<li><a href="mobile/">Mobile simulator</a>: a fleet of simulated phones streaming over ZeroBus</li>
<li><a href="dashboard/">Dashboard</a>: KPIs, clients, tracks and the raw stream from the table</li>
</ul></main></body>"""


def create_local_app(settings: Settings, which: Which = "both", access_token: str | None = None) -> FastAPI:
    """One app at the root, or both under /mobile/ and /dashboard/ with an index page."""
    if which == "mobile":
        return create_mobile_app(settings, access_token=access_token)
    if which == "dashboard":
        return create_dashboard_app(settings, access_token=access_token)
    mobile = create_mobile_app(settings, access_token=access_token)
    dashboard = create_dashboard_app(settings, access_token=access_token)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:  # mounted apps' own start-up and shutdown
            await stack.enter_async_context(mobile.router.lifespan_context(mobile))
            await stack.enter_async_context(dashboard.router.lifespan_context(dashboard))
            yield

    app = FastAPI(title="ZeroStream web apps", lifespan=lifespan)
    require_token(app, access_token)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return INDEX

    @app.get("/mobile", include_in_schema=False)
    def mobile_slash() -> RedirectResponse:
        return RedirectResponse("mobile/")

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_slash() -> RedirectResponse:
        return RedirectResponse("dashboard/")

    app.mount("/mobile", mobile)
    app.mount("/dashboard", dashboard)
    app.state.mobile, app.state.dashboard = mobile, dashboard
    return app
