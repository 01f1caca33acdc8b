"""The dashboard web app: KPIs, the client list, the map with tracks and the raw stream, from the query suite.

One refresh loop per server process (the core's `DashboardRefresher`, as on the desktop); each
result is encoded to JSON once and pushed to every WebSocket, so a hundred open pages cost one
query a second, not a hundred. A socket that cannot keep up gets the newest update, never a
backlog. Tracks and raw events are read on demand over REST (`/api/...`, also for scripts).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from zerostream_desktop.core.analytics import Analytics, AnalyticsError, NotReadyError
from zerostream_desktop.core.analytics.map_payload import finite, marks_payload, rounded, track_payload
from zerostream_desktop.core.analytics.model import (
    DEFAULT_TRACK_POINTS,
    Client,
    DeviceQuality,
    Kpis,
    Quality,
    QualityThresholds,
    SeriesPoint,
)
from zerostream_desktop.core.analytics.refresher import QUALITY_EVERY_S, DashboardRefresher, DashboardUpdate
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.webapps import pages
from zerostream_desktop.webapps.access import accept_socket, user_of

log = logging.getLogger(__name__)

MAX_TRACK_POINTS = 5_000
REACT_S = 0.1  # how often the local table is asked for new commits (an update follows one within ~0.5 s)
MAX_EVENTS_PAGE = 500
CONNECTION_ID_MAX = 200


def _ms(t: dt.datetime | None) -> int | None:
    return None if t is None else round(t.timestamp() * 1000)


def kpis_json(k: Kpis) -> dict[str, Any]:
    return {
        "total_events": k.total_events, "unique_clients": k.unique_clients, "bytes_ingested": k.bytes_ingested,
        "active_clients": k.active_clients, "events_per_s": k.events_per_s, "bytes_per_s": k.bytes_per_s,
        "send_delay_p50_s": k.send_delay_p50_s, "send_delay_p95_s": k.send_delay_p95_s,
        "last_data_ms": _ms(k.last_data),
    }  # fmt: skip


def clients_columns(clients: Sequence[Client]) -> dict[str, list[Any]]:
    """The client list as columns (10,000 clients: one list a field is a third of the size of objects)."""
    return {
        "id": [c.connection_id for c in clients], "name": [c.device_name for c in clients],
        "status": [c.status.value for c in clients], "events": [c.events for c in clients],
        "bytes": [c.bytes for c in clients], "first_seen_ms": [_ms(c.first_seen) for c in clients],
        "last_seen_ms": [_ms(c.last_seen) for c in clients], "lat": [rounded(c.latitude, 6) for c in clients],
        "lon": [rounded(c.longitude, 6) for c in clients], "battery": [c.battery_pct for c in clients],
        "signal": [c.signal_strength for c in clients], "speed": [rounded(c.speed_kmh, 1) for c in clients],
    }  # fmt: skip


def client_json(c: Client) -> dict[str, Any]:
    return {
        "id": c.connection_id, "name": c.device_name, "status": c.status.value, "events": c.events,
        "bytes": c.bytes, "first_seen_ms": _ms(c.first_seen), "last_seen_ms": _ms(c.last_seen),
        "lat": c.latitude, "lon": c.longitude, "battery": c.battery_pct, "signal": c.signal_strength,
        "speed": finite(c.speed_kmh),
    }  # fmt: skip


def series_json(series: list[SeriesPoint], now: dt.datetime) -> list[list[int]]:
    complete = [p for p in series if p.second + dt.timedelta(seconds=1) <= now]  # not the second still filling
    return [[_ms(p.second) or 0, p.events, p.bytes] for p in complete]


def quality_json(q: Quality, devices: list[DeviceQuality]) -> dict[str, Any]:
    t = QualityThresholds()
    return {
        "events": q.events, "late": q.late, "out_of_order": q.out_of_order, "jumps": q.jumps,
        "jump_devices": q.jump_devices, "stale": q.stale, "skewed_devices": q.skewed_devices,
        "delay_buckets": list(q.delay_buckets), "duplicates": q.duplicates,
        "thresholds": {"late_s": t.late_s, "jump_kmh": t.jump_kmh, "stale_kmh": t.stale_kmh, "skew_s": t.skew_s},
        "devices": [
            {"id": d.connection_id, "events": d.events, "late": d.late, "out_of_order": d.out_of_order,
             "jumps": d.jumps, "stale": d.stale, "skew_s": d.skew_s}
            for d in devices
        ],
    }  # fmt: skip


def update_json(u: DashboardUpdate) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": u.kind, "now_ms": _ms(u.now), "source": u.source, "message": u.message,
                           "elapsed_ms": round(u.elapsed_ms, 1)}  # fmt: skip
    if u.result is not None:
        out["kpis"] = kpis_json(u.result.kpis)
        out["clients"] = clients_columns(u.result.clients)  # the map's dots come from these columns too
        out["series"] = series_json(u.result.series, u.now)
    return out


class DashboardHub:
    """The process's one refresh loop and its sockets."""

    def __init__(self, refresher: DashboardRefresher) -> None:
        self.refresher = refresher
        self.queues: set[asyncio.Queue[str]] = set()
        self.last_message: str | None = None
        self.last_data: DashboardUpdate | None = None
        self.encode_ms = 0.0
        self._quality: tuple[float, dict[str, Any]] | None = None  # (monotonic time read, the answer)
        self._quality_lock = asyncio.Lock()  # pages asking at once share one read
        refresher.subscribe(self.broadcast)

    def start(self) -> None:
        self.refresher.start()

    async def stop(self) -> None:
        await self.refresher.stop()

    def broadcast(self, update: DashboardUpdate) -> None:
        started = time.perf_counter()
        payload = {"sent_at_ms": round(time.time() * 1000), **update_json(update)}  # first: cheap to find
        message = json.dumps(payload, separators=(",", ":"))
        self.encode_ms = (time.perf_counter() - started) * 1000
        if update.kind == "data":
            self.last_data = update
        self.last_message = message
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()  # a slow page gets the newest update, not a backlog
            queue.put_nowait(message)

    async def serve(self, socket: WebSocket) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self.queues.add(queue)
        try:
            if self.last_message is not None:
                await socket.send_text(self.last_message)
            receiver = asyncio.ensure_future(socket.receive_text())  # notices a closed page at once
            while True:
                sender = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    sender.cancel()
                    receiver.result()  # raises WebSocketDisconnect when the page went away
                    receiver = asyncio.ensure_future(socket.receive_text())
                    continue
                await socket.send_text(sender.result())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.queues.discard(queue)

    def client(self, connection_id: str) -> Client | None:
        """The client as the latest update listed it, or None."""
        result = self.last_data.result if self.last_data is not None else None
        return next((c for c in result.clients if c.connection_id == connection_id), None) if result else None

    async def quality(self) -> dict[str, Any]:
        """The data-quality summary and devices, read at most every QUALITY_EVERY_S (whole-table queries)."""
        async with self._quality_lock:
            if self._quality is not None and time.monotonic() - self._quality[0] < QUALITY_EVERY_S:
                return self._quality[1]
            backend = self.backend()
            started = time.perf_counter()
            summary = await _read(backend.quality)
            devices = await _read(backend.quality_devices)
            answer = {**quality_json(summary, devices), "read_at_ms": round(time.time() * 1000),
                      "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}  # fmt: skip
            self._quality = (time.monotonic(), answer)
            return answer

    def backend(self) -> Analytics:
        if self.refresher.backend is None:
            raise HTTPException(503, "the dashboard is still opening its data source; try again in a moment")
        return self.refresher.backend


def _check_client_id(connection_id: str) -> str:
    if not connection_id or len(connection_id) > CONNECTION_ID_MAX or any(ord(ch) < 32 for ch in connection_id):
        raise HTTPException(422, f"not a client id: {connection_id[:40]!r}")
    return connection_id


async def _read(fn: Callable[..., Any], *args: Any) -> Any:
    """A backend call off the event loop, its errors as HTTP errors a page or a script can show."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    except NotReadyError as exc:
        raise HTTPException(503, str(exc)) from exc
    except AnalyticsError as exc:
        raise HTTPException(502, str(exc)) from exc


def create_dashboard_app(
    settings: Settings,
    *,
    access_token: str | None = None,
    hosted: bool = False,
    refresher: DashboardRefresher | None = None,
) -> FastAPI:
    hub = DashboardHub(refresher or DashboardRefresher(settings, react_s=REACT_S))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.start()
        yield
        await hub.stop()

    app = pages.create_app("ZeroStream dashboard", lifespan, access_token)
    app.state.hub = hub

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        return pages.render(request, "dashboard.html", table=settings.full_table_name,
                            user=user_of(request.headers, hosted))  # fmt: skip

    @app.get("/api/kpis")
    def kpis() -> dict[str, Any]:
        update = _latest(hub)
        assert update.result is not None
        return {**kpis_json(update.result.kpis), "source": update.source, "elapsed_ms": update.elapsed_ms,
                "now_ms": _ms(update.now)}  # fmt: skip

    @app.get("/api/clients")
    def clients(q: str = Query("", max_length=200, description="filter by name or id")) -> dict[str, Any]:
        update = _latest(hub)
        assert update.result is not None
        rows = [client_json(c) for c in update.result.clients if _matches(c, q)]
        return {"clients": rows, "now_ms": _ms(update.now)}

    @app.get("/api/clients/{connection_id}")
    async def client(connection_id: str) -> dict[str, Any]:
        _check_client_id(connection_id)
        update = _latest(hub)
        assert update.result is not None
        found = hub.client(connection_id)
        if found is None:
            raise HTTPException(404, f"no client {connection_id!r} in {settings.full_table_name}")
        return client_json(found)

    @app.get("/api/clients/{connection_id}/track")
    async def track(connection_id: str, points: int = Query(DEFAULT_TRACK_POINTS, ge=2, le=MAX_TRACK_POINTS)) -> Any:
        _check_client_id(connection_id)
        backend = hub.backend()
        started = time.perf_counter()
        result = await _read(lambda: backend.track(connection_id, max_points=points))
        if not result.total_points and hub.client(connection_id) is None:
            raise HTTPException(404, f"no client {connection_id!r} in {settings.full_table_name}")
        payload = track_payload(result)
        payload["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return payload

    @app.get("/api/quality")
    async def quality() -> dict[str, Any]:
        """Late, out-of-order, duplicate events, position jumps, stale fixes, skewed clocks; devices worst first."""
        return await hub.quality()

    @app.get("/api/clients/{connection_id}/quality")
    async def client_quality(connection_id: str) -> dict[str, Any]:
        """One client's suspicious points, for rings on its track: [time ms, lat, lon, "jump,late,..."]."""
        _check_client_id(connection_id)
        backend = hub.backend()
        points = await _read(backend.quality_points, connection_id)
        return marks_payload(connection_id, points)

    @app.get("/api/events")
    async def events(
        client: str | None = Query(None, max_length=CONNECTION_ID_MAX),
        limit: int = Query(50, ge=1, le=MAX_EVENTS_PAGE),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        if client is not None:
            _check_client_id(client)
        backend = hub.backend()
        started = time.perf_counter()
        rows = await _read(backend.events, client, limit, offset)
        return {"events": rows, "limit": limit, "offset": offset, "client": client,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}  # fmt: skip

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        if not await accept_socket(ws, access_token):
            return
        await hub.serve(ws)

    return app


def _latest(hub: DashboardHub) -> DashboardUpdate:
    update = hub.last_data
    if update is None or update.result is None:
        last = hub.refresher.last
        why = last.message if last is not None and last.kind in ("waiting", "error") else "no refresh yet"
        raise HTTPException(503, f"no dashboard data yet: {why}")
    return update


def _matches(c: Client, q: str) -> bool:
    if not q:
        return True
    q = q.lower()
    return q in c.connection_id.lower() or q in (c.device_name or "").lower()
