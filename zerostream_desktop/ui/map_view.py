"""The map: a QWebEngineView showing `resources/map/map.html` (Leaflet, vendored), and its bridge.

Python talks to the page through `MapBridge` over QWebChannel: signals carry JSON strings to the
page (one string is much faster than a Python list over the channel), and the page calls the
bridge's slots back: a device clicked, and reports (`ready`, `basemap`, `trackDrawn`, `popup`,
`error`) that Python turns into signals, so tests and the rest of the app see what the page drew.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal, SignalInstance, Slot
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineSettings
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QWidget

from zerostream_desktop.core.analytics.map_payload import DevicesJson, devices_json, marks_payload, track_payload
from zerostream_desktop.core.analytics.model import Client, QualityPoint, Track
from zerostream_desktop.core.paths import resource_path

log = logging.getLogger(__name__)


MAP_GPU_ENV = "ZEROSTREAM_MAP_GPU"  # 1: let Chromium use the GPU for the map; 0: never; unset: not offscreen


def map_uses_gpu(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the map's Chromium may use the GPU. The map is 2D canvas drawing; with no screen (offscreen)
    Chromium's GPU path runs on Mesa's software GL (llvmpipe: about 55 MiB of LLVM in the app's memory) to
    draw what its own software compositor draws as well."""
    choice = environ.get(MAP_GPU_ENV, "").strip().lower()
    if choice in ("1", "on", "yes", "true"):
        return True
    if choice in ("0", "off", "no", "false"):
        return False
    return environ.get("QT_QPA_PLATFORM", "") != "offscreen"


def prepare_web_engine() -> None:
    """Call before the QApplication exists: Chromium refuses to run as root with its sandbox on."""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "QTWEBENGINE_DISABLE_SANDBOX" not in os.environ:
        log.info("running as root: QtWebEngine's sandbox is turned off (Chromium refuses to start with it)")
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    wanted = ["--disable-background-networking"] + ([] if map_uses_gpu() else ["--disable-gpu"])
    if not any(f.startswith("--js-flags") for f in flags):  # the user's own V8 flags stand (the last one counts)
        wanted.append("--js-flags=--expose-gc")  # the map page collects its garbage itself (map.js, collectGarbage)
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags + [f for f in wanted if f not in flags])
    import PySide6.QtWebEngineWidgets  # noqa: F401  (must be imported before the QApplication)


class MapBridge(QObject):
    """The object the page sees as `bridge`."""

    devicesChanged = Signal(str)  # noqa: N815  (names the page uses)
    trackChanged = Signal(str)  # noqa: N815
    selectionChanged = Signal(str)  # noqa: N815
    marksChanged = Signal(str)  # noqa: N815

    clicked = Signal(str)
    reported = Signal(str, dict)

    @Slot(str)
    def deviceClicked(self, connection_id: str) -> None:  # noqa: N802
        self.clicked.emit(connection_id)

    @Slot(str, str)
    def report(self, kind: str, payload: str) -> None:
        try:
            data = json.loads(payload) if payload else {}
        except json.JSONDecodeError:
            data = {"raw": payload}
        if kind == "error":
            log.warning("map page: %s", data)
        self.reported.emit(kind, data)


class _Page(QWebEnginePage):
    def javaScriptConsoleMessage(self, level: Any, message: str, line: int, source: str) -> None:  # noqa: N802
        log.debug("map page console (%s:%d): %s", source, line, message)


class MapView(QWebEngineView):
    """Device positions and one selected device's track."""

    ready = Signal()
    device_clicked = Signal(str)
    track_drawn = Signal(dict)
    basemap_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.is_ready = False
        self.basemap = "pending"
        self.last_track: dict[str, Any] | None = None
        self.last_marks: dict[str, Any] | None = None
        self._pending: list[tuple[SignalInstance, tuple[Any, ...]]] = []
        self._page_ids: str | None = None  # the JSON of the ids the page holds (sent again only when they change)
        self.bridge = MapBridge(self)
        self.bridge.clicked.connect(self.device_clicked)
        self.bridge.reported.connect(self._on_report)
        page = _Page(self)
        self.setPage(page)
        settings = page.settings()
        settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, True)  # tiles
        settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)  # basemap
        self.channel = QWebChannel(page)
        self.channel.registerObject("bridge", self.bridge)
        page.setWebChannel(self.channel)
        self.setMinimumSize(200, 140)
        self.load(QUrl.fromLocalFile(str(resource_path("map", "map.html"))))

    def _on_report(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "ready":
            log.info("map page ready")
            self.is_ready = True
            self._page_ids = None  # a page (re)loaded holds none
            for signal, args in self._pending:
                signal.emit(*args)
            self._pending.clear()
            self.ready.emit()
        elif kind == "basemap":
            self.basemap = str(data.get("kind"))
            log.info("map basemap: %s%s", self.basemap, f" ({data['reason']})" if data.get("reason") else "")
            self.basemap_changed.emit(self.basemap)
        elif kind == "marksDrawn":
            self.last_marks = data
        elif kind == "trackDrawn":
            self.last_track = data
            self.track_drawn.emit(data)

    def _send(self, signal: SignalInstance, *args: Any) -> None:
        if self.is_ready:
            signal.emit(*args)
        else:  # before the page is up: keep only the latest of each kind
            self._pending = [(s, a) for s, a in self._pending if s is not signal] + [(signal, args)]

    def show_devices(self, clients: Sequence[Client], prepared: DevicesJson | None = None) -> None:
        """Every client's latest position, coloured by status (`prepared`: their JSON, made elsewhere)."""
        devices = prepared or devices_json(clients)
        if self.is_ready and devices.ids == self._page_ids:  # the page holds these ids (10,000: half the bytes)
            text = devices.rest
        else:
            if self.is_ready:
                self._page_ids = devices.ids
            text = devices.whole()
        self._send(self.bridge.devicesChanged, text)

    def show_track(self, track: Track, name: str | None = None, fit: bool = False, follow: bool = False) -> None:
        self._send(self.bridge.trackChanged, json.dumps(track_payload(track, name, fit, follow)))

    def show_marks(self, connection_id: str, points: list[QualityPoint]) -> None:
        """Rings on the track where its points look wrong (a jump, a stale fix, late, out of order, twice)."""
        self._send(self.bridge.marksChanged, json.dumps(marks_payload(connection_id, points), separators=(",", ":")))

    def select(self, connection_id: str | None) -> None:
        self._send(self.bridge.selectionChanged, connection_id or "")
