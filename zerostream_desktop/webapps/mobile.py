"""The mobile simulator web app: one fleet per server process, streamed through the official SDK via the spool.

Every browser sees and drives the same fleet (as on Databricks Apps, where many users open one
app), and the page says who started or stopped it. The fleet runs on the core's `FleetPump`, the
records go through the same durable spool and `Streamer` as the desktop's, to localbus or to
Databricks ZeroBus as the settings say. Live state reaches pages over a WebSocket twice a second.
On shutdown (SIGTERM on Databricks Apps) the fleet stops and the spool drains for up to 10 s;
what is left is logged, and picked up by the next producer on this disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from zerostream_desktop import stream_target
from zerostream_desktop.core.analytics.map_payload import rounded
from zerostream_desktop.core.configured_fleet import fleet_from_settings
from zerostream_desktop.core.fleet import MAX_DEVICES, FaultLog, FaultSpec, FaultSpecError, Fleet, Mode
from zerostream_desktop.core.ingest.pump import FleetPump
from zerostream_desktop.core.ingest.streams import StreamGroup
from zerostream_desktop.core.paths import ensure_private_dir
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.stream_target import StreamConnection, StreamTargetError
from zerostream_desktop.webapps import pages
from zerostream_desktop.webapps.access import accept_socket, user_of

log = logging.getLogger(__name__)

DRAIN_S = 10.0
PUSH_S = 0.5
SNAPSHOT_S = 0.1  # the pump's tick: a newer copy would show nothing new
MODE_NAMES = {Mode.WALKING: "walking", Mode.CYCLING: "cycling", Mode.DRIVING: "driving"}


class DeviceCount(BaseModel):
    count: int = Field(ge=1, le=MAX_DEVICES, description="devices in the fleet")


class Faults(BaseModel):
    spec: str = Field(max_length=500, description="a preset (clean, urban-phones, bad-network, chaos) or "
                      "kind=rate[:duration],... e.g. dropout=0.02,jump=0.005,offline=0.01:120s,dup=0.01")  # fmt: skip


@dataclass
class Action:
    what: str  # "started", "stopped", "resized to N"
    by: str
    at: dt.datetime


class FleetService:
    """The fleet, its streamer and the spool, and who did what to them."""

    def __init__(
        self,
        settings: Settings,
        *,
        opener: Callable[..., StreamConnection] | None = None,
        producer: str = "web",
    ) -> None:
        self.settings = settings
        self.fleet: Fleet = fleet_from_settings(settings, min_devices=1)
        self.connection: StreamConnection | None = None
        self.streamer: StreamGroup | None = None
        self.pump: FleetPump | None = None
        self.error = ""
        self.last_action: Action | None = None
        self._opener = opener or stream_target.open_stream_target
        self._producer = producer
        self._tasks: list[asyncio.Task[None]] = []
        self._snap: dict[str, np.ndarray] | None = None
        self._snap_at = 0.0

    async def open(self) -> None:
        try:
            self.connection = await asyncio.to_thread(self._opener, self.settings, producer=self._producer)
        except StreamTargetError as exc:
            self.error = f"cannot stream: {exc}"
            log.error("%s", self.error)
            return
        self.streamer = self.connection.group(auto=self.settings.zerobus_streams == "auto")
        self.pump = FleetPump(self.fleet, self.streamer)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.streamer.run()), loop.create_task(self.pump.run(stop_on_pause=False))]
        if self.connection.watchdog is not None:
            self._tasks.append(loop.create_task(self.connection.watchdog.run()))

    async def start(self, user: str) -> None:
        self._need_stream()
        assert self.pump is not None
        clock = self.pump.clock
        await self.pump.change(lambda fleet: None if fleet.running else fleet.start(clock.schedule()))
        self.last_action = Action("started", user, dt.datetime.now(dt.UTC))
        log.info("fleet of %d started by %s", len(self.fleet), user)

    async def stop(self, user: str) -> None:
        if self.pump is not None:
            await self.pump.change(lambda fleet: fleet.stop())
        else:
            self.fleet.stop()
        self.last_action = Action("stopped", user, dt.datetime.now(dt.UTC))
        log.info("fleet stopped by %s", user)

    async def resize(self, count: int, user: str) -> None:
        """Grow or shrink the fleet; the devices it keeps keep their identity and state."""
        if self.pump is not None:
            await self.pump.change(lambda fleet: fleet.apply(count))
        else:
            self.fleet.apply(count)
        self.last_action = Action(f"resized to {count:,} devices", user, dt.datetime.now(dt.UTC))

    async def set_faults(self, text: str, user: str) -> None:
        """Device faults from now on (422 with the reason for a bad spec); logged to the data folder's faults/."""
        try:
            spec = FaultSpec.parse(text)
        except FaultSpecError as exc:
            raise HTTPException(422, str(exc)) from None
        log_file = None
        if spec.active:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            folder = ensure_private_dir(self.settings.data_dir / "faults")
            log_file = FaultLog(folder / f"web-{stamp}-{os.getpid()}.jsonl")

        def apply(fleet: Fleet) -> None:
            fleet.set_faults(spec, log_file)

        if self.pump is not None:
            await self.pump.change(apply)
        else:
            apply(self.fleet)
        self.last_action = Action(f"set device faults to {spec}", user, dt.datetime.now(dt.UTC))
        log.info("device faults set to %s by %s", spec, user)

    def _need_stream(self) -> None:
        if self.pump is None:
            raise HTTPException(503, self.error or "the stream is still opening; try again in a moment")

    def state(self) -> dict[str, Any]:
        s = self.streamer
        stats = s.stats if s is not None else None
        action = self.last_action
        return {
            "running": self.fleet.running,
            "devices": len(self.fleet),
            "max_devices": MAX_DEVICES,
            "stream": str(s.visible_state()) if s is not None else ("error" if self.error else "opening"),
            "error": self.error or (stats.last_error if stats else ""),
            "generated": stats.generated if stats else 0,
            "published": stats.sent if stats else 0,
            "acknowledged": stats.acked if stats else 0,
            "in_flight": s.in_flight if s is not None else 0,
            "spool_depth": s.spool.depth if s is not None else 0,
            "rejected": stats.rejected if stats else 0,
            "ack_p95_ms": rounded(stats.latency(95), 6) if stats else None,
            "endpoint": self.connection.target.endpoint if self.connection else None,
            "table": self.settings.full_table_name,
            "faults": None if self.fleet.faults is None else
            {"spec": str(self.fleet.faults.spec), "injected": self.fleet.faults.log.counts()},
            "last_action": None if action is None else
            {"what": action.what, "by": action.by, "at_ms": round(action.at.timestamp() * 1000)},
        }  # fmt: skip

    def _snapshot(self) -> dict[str, np.ndarray]:
        """The fleet's values, copied at most every SNAPSHOT_S: every open page asks twice a second."""
        now = time.monotonic()
        if self._snap is None or now - self._snap_at >= SNAPSHOT_S or len(self._snap["mode"]) != len(self.fleet):
            self._snap, self._snap_at = self.fleet.snapshot(), now
        return self._snap

    def device_list(self) -> list[dict[str, Any]]:
        snap = self._snapshot()
        names = self.fleet.identities.names
        return [
            {"index": i, "name": names[i], "mode": MODE_NAMES.get(Mode(int(m)), "?"), "speed_kmh": rounded(v, 6),
             "battery_pct": rounded(b, 6)}
            for i, (m, v, b) in enumerate(zip(snap["mode"].tolist(), snap["speed_kmh"].tolist(),
                                              snap["battery_pct"].tolist(), strict=True))
        ]  # fmt: skip

    def device(self, index: int) -> dict[str, Any]:
        n = len(self.fleet)
        if not 0 <= index < n:
            raise HTTPException(404, f"no device {index}: the fleet has {n:,} devices (0 to {n - 1})")
        snap = self._snapshot()
        values = {k: (rounded(float(v[index]), 6) if np.issubdtype(v.dtype, np.floating) else v[index].item())
                  for k, v in snap.items()}  # fmt: skip
        values["mode"] = MODE_NAMES.get(Mode(int(snap["mode"][index])), "?")
        accel = (float(snap[k][index]) for k in ("accel_x", "accel_y", "accel_z"))
        values["accel_magnitude"] = rounded(math.sqrt(sum(a * a for a in accel)), 6)
        return {"index": index, "name": self.fleet.identities.names[index],
                "connection_id": self.fleet.identities.connection_ids[index], **values}  # fmt: skip

    async def close(self, drain_s: float = DRAIN_S) -> None:
        """Stop the fleet, drain the spool for up to `drain_s`, say what is left; stop what we started."""
        self.fleet.stop()
        if self.streamer is not None:
            await self.streamer.stop(drain_s)
            left = self.streamer.spool.depth
            if left:
                log.warning("%d records left in the spool at shutdown (sent first by the next producer)", left)
            else:
                log.info("spool drained at shutdown")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.connection is not None:
            await asyncio.to_thread(self.connection.close)


def create_mobile_app(
    settings: Settings,
    *,
    access_token: str | None = None,
    hosted: bool = False,
    service: FleetService | None = None,
) -> FastAPI:
    fleet = service or FleetService(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await fleet.open()
        yield
        await fleet.close()

    app = pages.create_app("ZeroStream mobile simulator", lifespan, access_token)
    app.state.fleet = fleet

    def who(request: Request) -> str:
        return user_of(request.headers, hosted)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        return pages.render(request, "mobile.html", table=settings.full_table_name, user=who(request),
                            max_devices=MAX_DEVICES)  # fmt: skip

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return fleet.state()

    @app.post("/api/start")
    async def start(request: Request) -> dict[str, Any]:
        await fleet.start(who(request))
        return fleet.state()

    @app.post("/api/stop")
    async def stop(request: Request) -> dict[str, Any]:
        await fleet.stop(who(request))
        return fleet.state()

    @app.post("/api/devices")
    async def resize(body: DeviceCount, request: Request) -> dict[str, Any]:
        await fleet.resize(body.count, who(request))
        return fleet.state()

    @app.post("/api/faults")
    async def faults(body: Faults, request: Request) -> dict[str, Any]:
        await fleet.set_faults(body.spec, who(request))
        return fleet.state()

    @app.get("/api/devices")
    def devices() -> dict[str, Any]:
        return {"devices": fleet.device_list()}

    @app.get("/api/devices/{index}")
    def device(index: int) -> dict[str, Any]:
        return fleet.device(index)

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        """State twice a second, with the device the page follows (it sends {"device": i})."""
        if not await accept_socket(ws, access_token):
            return
        following: list[int | None] = [None]

        async def listen() -> None:
            while True:
                try:
                    wanted = json.loads(await ws.receive_text()).get("device")
                except (ValueError, AttributeError):
                    continue  # not JSON, or not an object: ignore it, keep the socket
                following[0] = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) else None

        listener = asyncio.ensure_future(listen())
        try:
            while not listener.done():
                message: dict[str, Any] = {"state": fleet.state()}
                i = following[0]
                if i is not None and 0 <= i < len(fleet.fleet):
                    message["device"] = fleet.device(i)
                await ws.send_text(json.dumps(message, separators=(",", ":")))
                await asyncio.wait({listener}, timeout=PUSH_S)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            listener.cancel()

    return app
