"""Several ZeroBus streams fed by one fleet: a device always goes to the same stream (index modulo N).

The service takes about 15,000 records/s (and 100 MB/s) on one stream by default, so a fleet
offering more needs several. Each stream is a `Streamer` with its own spool file and its own
acknowledgements; a `StreamGroup` looks like one streamer to the producers (the pump, the live
view) and keeps the figures of each stream for the summary. A device's events stay in order:
they all go through the same stream.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from zerostream_desktop.core.fleet import EventBatch
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState, StreamStats, Target
from zerostream_desktop.core.settings import MAX_STREAMS

log = logging.getLogger(__name__)

PER_STREAM_RECORDS_S = 15_000  # ZeroBus's default limit per stream
AUTO_SHARE = 0.8  # "auto" plans each stream at this share of the limit, leaving room for resends

_WORST_FIRST = (StreamState.PAUSED, StreamState.RECONNECTING, StreamState.CONNECTING, StreamState.STREAMING)


def streams_for_rate(events_per_s: float) -> int:
    """How many streams "auto" opens for an offered rate: each planned at 80 % of the service's limit."""
    if not math.isfinite(events_per_s) or events_per_s <= 0:
        return 1
    return max(1, min(MAX_STREAMS, math.ceil(events_per_s / (PER_STREAM_RECORDS_S * AUTO_SHARE))))


def parse_streams(text: str) -> int | None:
    """`auto` (None: decided from the offered rate) or a count from 1 to MAX_STREAMS."""
    if text.strip().lower() == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"'{text}' is neither 'auto' nor a number of streams") from None
    if not 1 <= n <= MAX_STREAMS:
        raise ValueError(f"{n} streams: allowed 1 to {MAX_STREAMS}, or 'auto'")
    return n


def worst_state(states: Sequence[StreamState]) -> StreamState:
    """The state to show for several streams: the one needing attention most (paused, then reconnecting...)."""
    for state in _WORST_FIRST:
        if state in states:
            return state
    return StreamState.STOPPED


@dataclass(frozen=True)
class StreamFigures:
    """One stream's part of a run, for the summary."""

    stream: int
    spool: str
    state: str
    generated: int
    acknowledged: int
    resent: int
    rejected: int
    spool_depth: int
    ack_p95_ms: float


def _split(batch: EventBatch, n: int) -> list[EventBatch]:
    """The batch split by stream (device index modulo n), each part in the batch's order."""
    if n == 1:
        return [batch]
    lane = batch.device_index % n
    return [batch.take(np.flatnonzero(lane == k)) for k in range(n)]


class _Spools:
    """The group's spools seen as one (the figures the producers and the summary read)."""

    def __init__(self, streamers: Sequence[Streamer]) -> None:
        self._streamers = streamers

    @property
    def depth(self) -> int:
        return sum(s.spool.depth for s in self._streamers)

    def dead_letter_count(self) -> int:
        return sum(s.spool.dead_letter_count() for s in self._streamers)


class StreamGroup:
    """N streamers behind the interface of one (submit, has_room, stats, run, stop...).

    With `grow` (a maker of one more streamer, with its own spool; it may block), `plan_for(rate)` opens
    more streams as the offered rate needs them ("auto"): never fewer while running, so a device's
    events stay on one stream but for the moment it moves to a new one.
    """

    def __init__(self, streamers: Sequence[Streamer], grow: Callable[[], Streamer] | None = None) -> None:
        if not streamers:
            raise ValueError("a stream group needs at least one stream")
        self.streamers = list(streamers)
        self.spool = _Spools(self.streamers)
        self._runners: list[asyncio.Task[None]] | None = None
        self._grow = grow
        self._growing = False
        self.grow_error = ""  # why another stream could not be opened (the last time)

    def __len__(self) -> int:
        return len(self.streamers)

    @property
    def target(self) -> Target:
        return self.streamers[0].target

    def add(self, streamer: Streamer) -> None:
        """One more stream (call on the loop): from the next batch on, devices are spread over one more; a
        device moving to the new stream may have events still waiting on its old one, sent from there."""
        self.streamers = [*self.streamers, streamer]
        self.spool = _Spools(self.streamers)
        if self._runners is not None:  # running: the new one streams at once
            self._runners.append(asyncio.get_running_loop().create_task(streamer.run()))

    def needs_more(self, events_per_s: float) -> bool:
        """Whether `plan_for(events_per_s)` would open streams (with `grow`, and none opening now)."""
        return self._grow is not None and not self._growing and streams_for_rate(events_per_s) > len(self.streamers)

    async def plan_for(self, events_per_s: float) -> int:
        """Open streams until there are enough for `events_per_s` (with `grow`); how many there are now."""
        need, grow = streams_for_rate(events_per_s), self._grow
        if grow is None or not self.needs_more(events_per_s):
            return len(self.streamers)
        self._growing = True
        try:
            while len(self.streamers) < need:
                self.add(await asyncio.to_thread(grow))
            log.info("streaming over %d streams (%.0f events/s offered)", len(self.streamers), events_per_s)
        except Exception as exc:  # a spool that cannot be claimed, a full disk: go on with what there is
            self.grow_error = str(exc)
            log.error("cannot open another stream (%s); going on with %d", exc, len(self.streamers))
        finally:
            self._growing = False
        return len(self.streamers)

    # --- producers ----------------------------------------------------------------------

    def submit(self, batch: EventBatch, timeout: float | None = None) -> int:
        """Spool each device's events with its stream; events stored. Thread-safe; call off the loop."""
        lanes = self.streamers  # replaced, never changed in place, by add(): one list for the whole batch
        return sum(s.submit(part, timeout) for s, part in zip(lanes, _split(batch, len(lanes)), strict=True))

    def retry_held(self, timeout: float | None = None) -> int:
        return sum(s.retry_held(timeout) for s in self.streamers)

    @property
    def held(self) -> int:
        return sum(s.held for s in self.streamers)

    def has_room(self, n: int = 1) -> bool:
        share = math.ceil(n / len(self.streamers))
        return all(s.has_room(share) for s in self.streamers)

    def notify(self) -> None:
        for s in self.streamers:
            s.notify()

    @property
    def on_spooled(self) -> Callable[[EventBatch], None] | None:
        return self.streamers[0].on_spooled

    @on_spooled.setter
    def on_spooled(self, callback: Callable[[EventBatch], None] | None) -> None:
        for s in self.streamers:
            s.on_spooled = callback

    @property
    def in_flight(self) -> int:
        return sum(s.in_flight for s in self.streamers)

    # --- figures ------------------------------------------------------------------------

    @property
    def stats(self) -> StreamStats:
        """The streams' figures added up (a new object each time; latencies of all streams together)."""
        parts = [s.stats for s in self.streamers]
        if len(parts) == 1:
            return parts[0]
        total = StreamStats(
            generated=sum(p.generated for p in parts),
            sent=sum(p.sent for p in parts),
            acked=sum(p.acked for p in parts),
            resent=sum(p.resent for p in parts),
            rejected=sum(p.rejected for p in parts),
            bytes_acked=sum(p.bytes_acked for p in parts),
            state=worst_state([p.state for p in parts]),
            last_error=next((f"stream {i + 1}: {p.last_error}" for i, p in enumerate(parts) if p.last_error), ""),
            spool_error=next((p.spool_error for p in parts if p.spool_error), ""),
            last_progress=max(p.last_progress for p in parts),
        )
        keep = (total.latencies_ms.maxlen or 20_000) // len(parts)  # the latest of each stream, so none crowds out
        for p in parts:  # the others (the merged deque keeps only its maxlen, the last stream's if taken whole)
            total.latencies_ms.extend(itertools.islice(p.latencies_ms, max(0, len(p.latencies_ms) - keep), None))
        return total

    def visible_state(self) -> StreamState:
        return worst_state([s.visible_state() for s in self.streamers])

    def figures(self) -> list[StreamFigures]:
        return [
            StreamFigures(
                i + 1,
                s.spool.path.name,
                str(s.visible_state()),
                s.stats.generated,
                s.stats.acked,
                s.stats.resent,
                s.stats.rejected,
                s.spool.depth,
                s.stats.latency(95),
            )  # fmt: skip
            for i, s in enumerate(self.streamers)
        ]

    # --- control ------------------------------------------------------------------------

    def resume(self) -> None:
        for s in self.streamers:
            s.resume()

    async def run(self) -> None:
        """Stream on every stream (those added meanwhile too) until stop()."""
        loop = asyncio.get_running_loop()
        self._runners = [loop.create_task(s.run()) for s in self.streamers]
        try:
            while not all(t.done() for t in self._runners):
                await asyncio.gather(*self._runners)
        finally:
            for task in self._runners:
                task.cancel()
            self._runners = None

    async def stop(self, timeout: float = 10.0, through_reconnects: bool = False) -> None:
        await asyncio.gather(*(s.stop(timeout, through_reconnects) for s in self.streamers))
