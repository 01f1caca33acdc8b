"""Sent and acknowledged events per second over the last minutes, from the streamer's counters."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtWidgets import QWidget

from zerostream_desktop.ui.charts import SeriesChart

SMOOTH_S = 2.0


class CounterRates:
    """Rates of cumulative counters, each taken over the last SMOOTH_S seconds of samples."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, tuple[int, ...]]] = deque()

    def rates(self, now: float, counters: tuple[int, ...]) -> tuple[float, ...] | None:
        self._samples.append((now, counters))
        while len(self._samples) > 2 and now - self._samples[1][0] >= SMOOTH_S:
            self._samples.popleft()
        t0, c0 = self._samples[0]
        if now <= t0:
            return None
        return tuple(max(0, c - b) / (now - t0) for c, b in zip(counters, c0, strict=True))


class RateChart(SeriesChart):
    """Feed it the streamer's cumulative counters with `add(sent, acked)`; it plots their rates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("events/s", {"sent": "#1976d2", "acknowledged": "#2e7d32"}, parent)
        self.sent_curve, self.acked_curve = self.curves["sent"], self.curves["acknowledged"]
        self._rates = CounterRates()

    def add(self, sent: int, acked: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        rates = self._rates.rates(now, (sent, acked))
        if rates is not None:
            self.add_point(now, {"sent": rates[0], "acknowledged": rates[1]})

    def rates(self) -> tuple[float, float]:
        """The latest sent/s and acknowledged/s (0 before two samples)."""
        return (self.latest("sent") or 0.0, self.latest("acknowledged") or 0.0)
