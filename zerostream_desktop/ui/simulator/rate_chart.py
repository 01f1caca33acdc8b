"""Sent and acknowledged events per second over the last minutes, from the streamer's counters."""

from __future__ import annotations

import os
import time
from collections import deque

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

WINDOW_S = 180.0
SMOOTH_S = 2.0


class RateChart(pg.PlotWidget):  # type: ignore[misc]
    """Feed it cumulative counters with `add(sent, acked)`; it plots their rates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background=None)
        self.setMinimumHeight(100)
        self.setMaximumHeight(260)
        self.setLabel("left", "events/s")
        self.setLabel("bottom", "seconds ago")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.addLegend(offset=(-10, 5))  # top right, clear of the early, lower part of the curves
        self.setMouseEnabled(x=False, y=False)
        self.sent_curve = self.plot(name="sent", pen=pg.mkPen("#1976d2", width=2))
        self.acked_curve = self.plot(name="acknowledged", pen=pg.mkPen("#2e7d32", width=2))
        self._points: deque[tuple[float, float, float]] = deque()  # (time, sent/s, acked/s)
        self._samples: deque[tuple[float, int, int]] = deque()  # raw counters for smoothing
        self.setLimits(yMin=0)

    def add(self, sent: int, acked: int, now: float | None = None) -> None:
        """A new reading of the cumulative counters; rates are taken over the last SMOOTH_S seconds."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, sent, acked))
        while len(self._samples) > 2 and now - self._samples[1][0] >= SMOOTH_S:
            self._samples.popleft()
        t0, s0, a0 = self._samples[0]
        if now > t0:
            self._points.append((now, max(0, sent - s0) / (now - t0), max(0, acked - a0) / (now - t0)))
        while self._points and now - self._points[0][0] > WINDOW_S:
            self._points.popleft()
        ages = [p[0] - now for p in self._points]
        self.sent_curve.setData(ages, [p[1] for p in self._points])
        self.acked_curve.setData(ages, [p[2] for p in self._points])
        top = max((max(p[1], p[2]) for p in self._points), default=1.0)
        self.setYRange(0, max(top, 1.0) * 1.15, padding=0)  # from zero: a dip looks like what it is

    def rates(self) -> tuple[float, float]:
        """The latest sent/s and acknowledged/s (0 before two samples)."""
        return (self._points[-1][1], self._points[-1][2]) if self._points else (0.0, 0.0)
