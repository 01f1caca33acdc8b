"""The fleet's two clocks: the schedule, and the device's own clock that stamps events.

The schedule (when a device is due, how far it moved) runs on the monotonic clock, anchored to the
wall clock when the clock is made, so a step of the machine's clock (an NTP correction, a user
setting the time) neither stalls every device until the wall clock catches up nor fires them all
at once. Event timestamps come from the wall clock, as a phone stamps its readings, steps included:
what the table then shows is what a real fleet with a stepped clock sends.

`ZEROSTREAM_FAULT_CLOCK_JUMP="AT:SECONDS"` steps the devices' clock by SECONDS (negative: back) once
AT seconds have passed (the fault campaign's device clock jump).
"""

from __future__ import annotations

import os
import time

FAULT_CLOCK_JUMP_ENV = "ZEROSTREAM_FAULT_CLOCK_JUMP"


class DeviceClock:
    def __init__(self, fault: str | None = None) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()
        text = os.environ.get(FAULT_CLOCK_JUMP_ENV, "") if fault is None else fault
        at, _, step = text.partition(":")
        self._jump_at, self._jump_s = (float(at), float(step or 0)) if text else (float("inf"), 0.0)

    def elapsed(self) -> float:
        """Seconds since the clock was made, on the monotonic clock."""
        return time.monotonic() - self._mono0

    def schedule(self) -> float:
        """The time the fleet runs on: seconds since the epoch as they were at start, plus monotonic time."""
        return self._wall0 + self.elapsed()

    def wall(self) -> float:
        """The devices' clock (the machine's wall clock, plus the fault's step once it happened)."""
        return time.time() + (self._jump_s if self.elapsed() >= self._jump_at else 0.0)
