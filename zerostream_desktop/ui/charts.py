"""Live line charts over the last few minutes (pyqtgraph), y axis from zero."""

from __future__ import annotations

import math
import os
from collections import deque

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

WINDOW_S = 180.0


class SeriesChart(pg.PlotWidget):  # type: ignore[misc]
    """Named series sampled over time; x is "seconds ago", points older than WINDOW_S drop off."""

    def __init__(self, y_label: str, series: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background=None)
        self.setMinimumHeight(80)
        self.setMaximumHeight(260)
        self.setLabel("left", y_label)
        self.setLabel("bottom", "seconds ago")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.addLegend(offset=(-10, 5))  # top right, clear of the early, lower part of the curves
        self.setMouseEnabled(x=False, y=False)
        self.setLimits(yMin=0)
        self.curves = {name: self.plot(name=name, pen=pg.mkPen(colour, width=2)) for name, colour in series.items()}
        self._points: deque[tuple[float, dict[str, float]]] = deque()
        # Fixed axes, changed only when the data outgrows them (or shrinks far below): repainting the
        # axes every second cost the UI thread tens of milliseconds per chart with 5,000 devices.
        self.disableAutoRange()
        self.setXRange(-WINDOW_S, 0, padding=0)
        self._top = 0.0

    def add_point(self, now: float, values: dict[str, float | None]) -> None:
        clean = {k: float(v) for k, v in values.items() if v is not None and not math.isnan(v)}
        self._points.append((now, clean))
        self._redraw(now)

    def set_series(self, now: float, name: str, points: list[tuple[float, float]]) -> None:
        """Replace the chart's points with a whole series (one named curve) computed elsewhere."""
        self._points = deque((t, {name: float(v)}) for t, v in points)
        self._redraw(now)

    def _redraw(self, now: float) -> None:
        while self._points and now - self._points[0][0] > WINDOW_S:
            self._points.popleft()
        top = 1.0
        for name, curve in self.curves.items():
            xs = [t - now for t, vals in self._points if name in vals]
            ys = [vals[name] for _, vals in self._points if name in vals]
            curve.setData(xs, ys)
            top = max([top, *ys])
        if top > self._top or top < self._top / 4:
            self._top = _nice_ceiling(top * 1.15)
            self.setYRange(0, self._top, padding=0)  # from zero: a dip looks like what it is

    def latest(self, name: str) -> float | None:
        for _, vals in reversed(self._points):
            if name in vals:
                return vals[name]
        return None


def _nice_ceiling(x: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above x."""
    if x <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(x))
    for step in (1, 2, 5, 10):
        if step * power >= x:
            return float(step * power)
    return float(10 * power)
