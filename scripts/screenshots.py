"""Screenshots of the app for the README: runs it offscreen on a temporary data folder, streams
for a while, selects a device, then a client on the dashboard (its track on the map), opens the
Settings dialog, and saves PNGs of each.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--seconds 8]
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py --first-run [--out docs/screenshots]
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py --quality [--out docs/screenshots] [--seconds 40]

`--first-run` is what a newcomer sees: a fresh data folder and the default settings, the window before
Start, then ten seconds after Start (both tabs), then a device's track on the offline map at city zoom
(there are no map tiles here, which is also what a user without network sees).

`--quality` streams a fleet with the "chaos" device faults, then shows the dashboard's Data Quality
view with the worst device's track and its rings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("RUST_LOG", "error")
os.environ.setdefault("ZEROSTREAM_LOCALBUS_TOKEN", "screenshot-token")

from zerostream_desktop.ui.map_view import prepare_web_engine  # noqa: E402

prepare_web_engine()

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from zerostream_desktop.core.settings import load_settings  # noqa: E402
from zerostream_desktop.ui import app as zs_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long to stream before the shots")
    parser.add_argument("--first-run", action="store_true", help="the first-run set (default settings)")
    parser.add_argument("--quality", action="store_true", help="the data-quality view of a faulty fleet")
    args = parser.parse_args()
    if args.first_run:
        first_run(Path(args.out))
        return
    if args.quality:
        quality(Path(args.out), args.seconds)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="zerostream-shots-"))
    settings = load_settings(
        {
            "data_dir": data_dir,
            "sim_devices": 200,
            "stream_interval_ms": 1000,
            "sim_seed": 2026,
            "sim_region": "London",
        },  # fmt: skip
        environ={},
        search_dirs=[],
    )
    qapp = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # a fresh window state, the user's left untouched
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(data_dir / "qsettings"))

    def window():
        return next(w for w in qapp.topLevelWidgets() if hasattr(w, "simulator"))

    def select_and_shoot() -> None:
        win = window()
        win.resize(1400, 860)
        win.simulator.select_device(7)
        QTimer.singleShot(1500, shoot)

    def shoot() -> None:
        win = window()
        win.grab().save(str(out / "main-window.png"))
        win.simulator.detail.grab().save(str(out / "device-detail.png"))
        win.tabs.setCurrentWidget(win.dashboard)
        QTimer.singleShot(1500, shoot_dashboard)

    def shoot_dashboard() -> None:
        win = window()
        win.dashboard.map.track_drawn.connect(lambda info: QTimer.singleShot(1500, shoot_track))
        win.dashboard.table.selectRow(3)

    def shoot_track() -> None:
        win = window()
        if getattr(shoot_track, "done", False):
            return
        shoot_track.done = True  # type: ignore[attr-defined]
        win.grab().save(str(out / "dashboard.png"))
        win.dashboard.map.grab().save(str(out / "map.png"))
        dialog = win.open_settings_dialog()
        QTimer.singleShot(800, lambda: shoot_settings(dialog))

    def shoot_settings(dialog) -> None:
        dialog.grab().save(str(out / "settings.png"))
        dialog.reject()
        print(f"saved main-window.png, device-detail.png, dashboard.png, map.png and settings.png in {out}")
        window().close()

    QTimer.singleShot(int(args.seconds * 1000), select_and_shoot)
    try:
        zs_app.run_app(settings, start=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def first_run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="zerostream-first-run-"))
    settings = load_settings({"data_dir": data_dir, "sim_seed": 7}, environ={}, search_dirs=[])  # defaults otherwise
    qapp = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(data_dir / "qsettings"))

    def window():
        return next(w for w in qapp.topLevelWidgets() if hasattr(w, "simulator"))

    def before_start() -> None:
        win = window()
        win.resize(1400, 860)
        win.grab().save(str(out / "first-run-1-before-start.png"))
        win.tabs.setCurrentWidget(win.dashboard)
        QTimer.singleShot(800, dashboard_before)

    def dashboard_before() -> None:
        win = window()
        win.grab().save(str(out / "first-run-2-dashboard-before-start.png"))
        win.tabs.setCurrentWidget(win.simulator)
        win.start_action.trigger()  # Ctrl+R
        QTimer.singleShot(10_000, after_ten_seconds)

    def after_ten_seconds() -> None:
        win = window()
        win.grab().save(str(out / "first-run-3-ten-seconds-after-start.png"))
        win.tabs.setCurrentWidget(win.dashboard)
        win.dashboard.map.track_drawn.connect(lambda info: QTimer.singleShot(1500, city_zoom))
        QTimer.singleShot(1500, lambda: win.dashboard.table.selectRow(0))

    def city_zoom() -> None:
        if getattr(city_zoom, "done", False):
            return
        city_zoom.done = True  # type: ignore[attr-defined]
        win = window()
        win.grab().save(str(out / "first-run-4-dashboard-ten-seconds.png"))
        win.dashboard.map.page().runJavaScript("map.setZoom(11); 1")
        QTimer.singleShot(2000, shoot_map)

    def shoot_map() -> None:
        win = window()
        win.dashboard.map.grab().save(str(out / "first-run-5-offline-map-city-zoom.png"))
        print(f"saved the first-run set in {out}")
        win.close()

    QTimer.singleShot(3000, before_start)
    try:
        zs_app.run_app(settings, start=False)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def quality(out: Path, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="zerostream-shots-"))
    settings = load_settings(
        {"data_dir": data_dir, "sim_devices": 150, "stream_interval_ms": 1000, "sim_seed": 2026,
         "sim_region": "London"},  # fmt: skip
        environ={},
        search_dirs=[],
    )
    qapp = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(data_dir / "qsettings"))

    def window():
        return next(w for w in qapp.topLevelWidgets() if hasattr(w, "simulator"))

    def faults() -> None:
        window().simulator.faults_combo.setCurrentText("chaos")
        window().simulator.apply_faults("chaos")

    def open_view() -> None:
        win = window()
        win.resize(1400, 900)
        win.tabs.setCurrentWidget(win.dashboard)
        win.dashboard.views.setCurrentIndex(1)
        QTimer.singleShot(12_000, pick)

    def pick() -> None:
        win = window()
        win.dashboard.map.track_drawn.connect(lambda info: QTimer.singleShot(12_000, shoot))
        win.dashboard.quality.devices.selectRow(0)

    def shoot() -> None:
        if getattr(shoot, "done", False):
            return
        shoot.done = True  # type: ignore[attr-defined]
        win = window()
        win.grab().save(str(out / "data-quality.png"))
        print(f"saved data-quality.png in {out} (marks: {win.dashboard.map.last_marks})")
        win.close()

    QTimer.singleShot(50, faults)
    QTimer.singleShot(int(seconds * 1000), open_view)
    try:
        zs_app.run_app(settings, start=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
