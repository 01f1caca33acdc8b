"""Runs a fleet on a device clock into a streamer: the headless producer loop (`zerostream stream`, the web simulator).

Every tick the fleet advances to now and the batch goes to the spool on a worker thread (disk
writes never block the event loop); then the streamer is woken. When the spool is full the fleet
waits (the tick is counted as throttled): nothing is dropped. The desktop app does the same with a
Qt timer in the simulator pane.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from zerostream_desktop.core.fleet import DeviceClock, Fleet, LoadShape
from zerostream_desktop.core.fleet.fleet import CATCH_UP_S
from zerostream_desktop.core.fleet.load_shape import ShapeFollower, StageRate
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState
from zerostream_desktop.core.ingest.streams import StreamGroup

TICK_S = 0.1


class FleetPump:
    def __init__(
        self,
        fleet: Fleet,
        streamer: Streamer | StreamGroup,
        tick_s: float = TICK_S,
        executor: Executor | None = None,
        clock: DeviceClock | None = None,
    ) -> None:
        self.fleet = fleet
        self.clock = clock or DeviceClock()  # the schedule ignores steps of the machine's clock
        self.streamer = streamer
        self.tick_s = tick_s
        self.throttled_ticks = 0
        self._executor = executor
        self._stores = ThreadPoolExecutor(1, thread_name_prefix="fleet-store")  # one: batches stored in order
        self._lock = asyncio.Lock()  # a tick and a change of the fleet (Apply) never interleave
        self._storing: asyncio.Future[int] | None = None  # the latest tick's events, on their way to the spool
        self.load: ShapeFollower | None = None

    def follow(self, shape: LoadShape) -> None:
        """From now on set the devices' interval each tick so the fleet offers the shape's rate."""
        self.load = ShapeFollower(shape, self.clock.elapsed(), min_interval_ms=self.tick_s * 1000)

    def stage_report(self) -> list[StageRate]:
        """Each stage of the shape run so far: the rate asked for, and generated and acknowledged."""
        s = self.streamer.stats
        return self.load.report(self.clock.elapsed(), s.generated, s.acked) if self.load is not None else []

    async def run(self, until: Callable[[], bool] = lambda: False, stop_on_pause: bool = True) -> None:
        """Tick until `until()` is true, or streaming pauses (wrong credentials, a missing table) if asked.

        Without `stop_on_pause` the fleet goes on into the spool until it is full, then waits. Each tick's
        events are generated while the previous tick's are still being stored (on two cores the two overlap),
        and stored in tick order.
        """
        storing: asyncio.Future[int] | None = None
        try:
            while not until():
                await asyncio.sleep(self.tick_s)
                if stop_on_pause and self.streamer.stats.state is StreamState.PAUSED:
                    return
                storing = await self._step(storing)
        finally:
            if storing is not None:
                await storing

    async def tick(self) -> int:
        """One step: how many events went to the spool (0 when the fleet is stopped or throttled)."""
        storing = await self._step(None)
        return 0 if storing is None else await storing

    async def _step(self, storing: asyncio.Future[int] | None) -> asyncio.Future[int] | None:
        """Generate this tick's events while `storing` (the last tick's) finishes; then start storing them."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            if self.streamer.held:  # the spool could not be written (a full disk): its events first
                await _done(storing)
                storing = None
                await loop.run_in_executor(self._executor, self.streamer.retry_held, 1.0)
            if not self.fleet.running:
                return storing
            if self.load is not None:
                s = self.streamer.stats
                interval = self.load.step(self.clock.elapsed(), len(self.fleet), s.generated, s.acked)
                if interval is not None:
                    self.fleet.set_interval(interval)
            rate = self.fleet.offered_per_s
            if isinstance(self.streamer, StreamGroup) and self.streamer.needs_more(rate):  # "auto": more streams
                await self.streamer.plan_for(rate)
            if not self.streamer.has_room(max(1, len(self.fleet))):
                self.throttled_ticks += 1  # backpressure: the fleet waits, nothing is dropped
                return storing
            batch = self.fleet.advance(self.clock.schedule(), self.clock.wall(), catch_up_s=CATCH_UP_S)
            await _done(storing)
            if not len(batch):
                return None
            stored = self._storing = loop.run_in_executor(self._stores, self.streamer.submit, batch)
        stored.add_done_callback(lambda _: self.streamer.notify())
        return stored

    async def change(self, action: Callable[[Fleet], None]) -> None:
        """Change the fleet (start, stop, a new device count) between ticks, once the last tick's events are
        stored: after a Stop, what the streamer counts as generated is final."""
        async with self._lock:
            await _done(self._storing)
            action(self.fleet)


async def _done(storing: asyncio.Future[int] | None) -> None:
    if storing is not None:
        await storing
