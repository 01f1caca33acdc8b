"""One device, live: compass heading, attitude, motion sensors, battery, signal and position."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from zerostream_desktop.core.fleet import Mode

_MODE_NAMES = {m.value: m.name.capitalize() for m in Mode}


class CompassWidget(QWidget):
    """A compass rose whose needle points along the device's heading (0 = north, clockwise)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = 0.0
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_heading(self, degrees: float) -> None:
        self.heading = float(degrees) % 360.0
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        side = min(self.width(), self.height()) - 8
        center = QPointF(self.width() / 2, self.height() / 2)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(self.palette().mid().color(), 2))
        p.drawEllipse(QRectF(center.x() - side / 2, center.y() - side / 2, side, side))
        p.setPen(self.palette().text().color())
        for label, angle in (("N", 0), ("E", 90), ("S", 180), ("W", 270)):
            r = side / 2 - 12
            x = center.x() + r * math.sin(math.radians(angle)) - 5
            y = center.y() - r * math.cos(math.radians(angle)) + 5
            p.drawText(QPointF(x, y), label)
        rad = math.radians(self.heading)
        tip = QPointF(center.x() + (side / 2 - 22) * math.sin(rad), center.y() - (side / 2 - 22) * math.cos(rad))
        left = QPointF(center.x() + 7 * math.cos(rad), center.y() + 7 * math.sin(rad))
        right = QPointF(center.x() - 7 * math.cos(rad), center.y() - 7 * math.sin(rad))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#d32f2f"))
        p.drawPolygon(QPolygonF([tip, left, right]))
        p.end()


class DeviceDetail(QGroupBox):
    """Filled from a fleet snapshot row by `show_device`; clears itself with `clear_device`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("No device selected", parent)
        self.compass = CompassWidget()
        self.battery = QProgressBar(minimum=0, maximum=100, format="%v %")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.addRow("Battery", self.battery)
        for key, label in (
            ("mode", "Mode"),
            ("signal", "Signal"),
            ("speed", "Speed"),
            ("heading", "Heading"),
            ("attitude", "Pitch / roll"),
            ("accel", "Accel m/s²"),
            ("accel_mag", "|Accel|"),
            ("gyro", "Gyro °/s"),
            ("position", "Position"),
            ("altitude", "Altitude"),
        ):
            self.values[key] = QLabel("–", textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, self.values[key])
        layout = QVBoxLayout(self)
        layout.addWidget(self.compass)
        layout.addLayout(form)
        layout.addStretch(1)
        self.setMinimumWidth(280)

    def clear_device(self) -> None:
        self.setTitle("No device selected")
        for label in self.values.values():
            label.setText("–")
        self.battery.reset()  # empty, not a real-looking 0 %

    def show_device(self, name: str, snap: dict[str, np.ndarray], i: int) -> None:
        self.setTitle(name)
        charging = bool(snap["charging"][i])
        self.battery.setValue(round(float(snap["battery_pct"][i])))
        self.battery.setFormat("%v %  charging" if charging else "%v %")
        rssi = float(snap["signal_strength"][i])
        v = self.values
        v["mode"].setText(_MODE_NAMES.get(int(snap["mode"][i]), "?") + ("  (paused)" if snap["paused"][i] else ""))
        v["signal"].setText("–" if math.isnan(rssi) else f"{rssi:.0f} dBm ({_quality(rssi)})")
        v["speed"].setText(f"{snap['speed_kmh'][i]:.1f} km/h")
        heading = float(snap["heading_deg"][i])
        v["heading"].setText(f"{round(heading) % 360}° {_cardinal(heading)}")
        self.compass.set_heading(heading)
        v["attitude"].setText(f"{snap['pitch_deg'][i]:+.1f}° / {snap['roll_deg'][i]:+.1f}°")
        ax, ay, az = (float(snap[k][i]) for k in ("accel_x", "accel_y", "accel_z"))
        v["accel"].setText(f"x {ax:+.2f}  y {ay:+.2f}  z {az:+.2f}")
        v["accel_mag"].setText(f"{math.sqrt(ax * ax + ay * ay + az * az):.2f} m/s²")
        gx, gy, gz = (float(snap[k][i]) for k in ("gyro_x", "gyro_y", "gyro_z"))
        v["gyro"].setText(f"x {gx:+.1f}  y {gy:+.1f}  z {gz:+.1f}")
        v["position"].setText(f"{snap['latitude'][i]:.5f}, {snap['longitude'][i]:.5f}")
        v["altitude"].setText(f"{snap['altitude_m'][i]:.0f} m")


def _cardinal(heading: float) -> str:
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[round(heading / 45.0) % 8]


def _quality(rssi: float) -> str:
    return (
        "none"
        if rssi < -115
        else "poor"
        if rssi < -105
        else "fair"
        if rssi < -95
        else "good"
        if rssi < -85
        else "excellent"
    )
