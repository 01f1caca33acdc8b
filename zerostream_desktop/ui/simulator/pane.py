"""Simulator pane: choose the fleet size, run the simulation, see every device's live values."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import (
    QByteArray,
    QModelIndex,
    QSettings,
    QSignalBlocker,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from zerostream_desktop.core.fleet import (
    FAULT_PRESETS,
    MAX_DEVICES,
    WORLD_CITIES,
    DeviceClock,
    EventBatch,
    FaultLog,
    FaultSpec,
    FaultSpecError,
    Fleet,
    LoadShapeError,
    ModeMix,
    Region,
    TraceError,
    load_trace,
    parse_load_shape,
)
from zerostream_desktop.core.fleet.fleet import CATCH_UP_S
from zerostream_desktop.core.fleet.load_shape import ShapeFollower
from zerostream_desktop.ui.simulator.device_detail import DeviceDetail
from zerostream_desktop.ui.simulator.device_table_model import SORT_ROLE, DeviceTableModel
from zerostream_desktop.ui.simulator.rate_chart import RateChart

TICK_MS = 100
FAULTS_HELP = (
    "Device faults on top of the simulation: a preset, or kind=rate[:duration] items separated by commas,\n"
    "e.g. dropout=0.02,jump=0.005,offline=0.01:120s,dup=0.01. Kinds: dropout (stale GPS), jump (a fix far off),\n"
    "skew (a share of devices with a wrong clock), offline (events kept, uploaded late), dead (a share of devices\n"
    "whose battery dies), dup (sent twice), spike (sensor spikes). Each fault is logged in the data folder's faults/."
)
VIEW_REFRESH_S = 1.0
BY_INTERVAL = "by interval"
LOAD_PRESETS = (BY_INTERVAL, "constant:2k", "ramp:100-10k/60s", "steps:1k,5k,10k,20k/30s", "spike:1k,10k@20s+10s/60s")
LOAD_HELP = (
    "A target rate over time, met by setting every device's interval (a device sends at most 10 events/s):\n"
    "constant:RATE[/LENGTH], ramp:FROM-TO/LENGTH, steps:R1,R2,.../STEP or spike:BASE,PEAK@AT+LEN[/LENGTH];\n"
    "rates in events/s (50k = 50,000), lengths in s, m or h. It starts with Start; after its end the last\n"
    "rate stays. 'by interval' sends at the Interval. The rate reached in each stage is in the summary's tooltip."
)


log = logging.getLogger(__name__)


class SimulatorPane(QWidget):
    """The fleet advances on a thread of its own (10,000 devices: 7-14 ms a tick here, ten ticks a second, which
    held the UI thread that long); the UI thread touches the fleet only between two advances (see `settle`)."""

    simulation_started = Signal()
    simulation_stopped = Signal()
    events_generated = Signal(object)  # an EventBatch
    fleet_replaced = Signal(object)  # the new Fleet
    rate_offered = Signal(float)  # events/s the running fleet asks for (each second, and when it changes)
    _advanced = Signal(object)  # from the fleet's thread: the Future of a batch that is ready

    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fleet = fleet
        self.clock = DeviceClock()  # the schedule ignores steps of the machine's clock; stamps follow it
        self.fault_log_dir: Path | None = None  # where device faults are logged (the data folder's faults/)
        self.fault_log: FaultLog | None = None
        self.model = DeviceTableModel(self)
        self._generated = 0
        self._counts: tuple[int, int] | None = None  # (generated, acknowledged) from the streamer's latest snapshot
        self._throttled = False
        self._last_view = 0.0
        self._selected: int | None = None
        self._snapshot: dict[str, np.ndarray] = fleet.snapshot()
        self._in_front = True
        self.can_generate: Callable[[int], bool] = lambda n: True  # backpressure from the spool
        self.load_shape_text = BY_INTERVAL
        self.load: ShapeFollower | None = None  # following a load shape (while running)
        self._own_interval_ms = round(fleet.default_interval_s * 1000)  # the Interval set before a shape took over
        self._timer = QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._generating = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet")
        self._advancing: Future[EventBatch] | None = None  # the batch being made on the fleet's thread
        self._advanced.connect(self._take_batch, Qt.ConnectionType.QueuedConnection)
        self.summary = QLabel()
        self.detail = DeviceDetail()
        self.rate_chart = RateChart()
        layout = QVBoxLayout(self)
        layout.addLayout(self._fleet_controls())
        layout.addLayout(self._fleet_options())
        layout.addLayout(self._motion_controls())
        layout.addWidget(self._panels(), 1)
        layout.addWidget(self.summary)
        self._refresh_view()

    def _fleet_controls(self) -> QHBoxLayout:
        self.count_slider = QSlider(Qt.Orientation.Horizontal)
        self.count_slider.setRange(1, MAX_DEVICES)
        self.count_spin = QSpinBox(minimum=1, maximum=MAX_DEVICES, value=max(1, len(self.fleet)))
        self.count_slider.setValue(self.count_spin.value())
        self.count_slider.valueChanged.connect(self.count_spin.setValue)
        self.count_spin.valueChanged.connect(self.count_slider.setValue)
        self.apply_button = QPushButton("&Apply")
        self.apply_button.setToolTip("Resize the fleet; existing devices are kept")
        self.apply_button.clicked.connect(self.apply_count)
        self.new_fleet_button = QPushButton("&New Fleet")
        self.new_fleet_button.setToolTip("Replace the fleet with new devices from the region, seed and mode mix below")
        self.new_fleet_button.clicked.connect(self._new_fleet_clicked)
        self.start_button = QPushButton("&Start")
        self.start_button.setCheckable(True)
        self.start_button.toggled.connect(self._toggle)
        self.load_combo = _spec_combo(LOAD_PRESETS, LOAD_HELP, 22, self.apply_load)
        load_label = QLabel("&Load")
        load_label.setBuddy(self.load_combo)
        row = QHBoxLayout()
        row.addWidget(QLabel("Devices"))
        row.addWidget(self.count_slider, 1)
        row.addWidget(self.count_spin)
        row.addWidget(load_label)
        row.addWidget(self.load_combo)
        row.addWidget(self.apply_button)
        row.addWidget(self.new_fleet_button)
        row.addWidget(self.start_button)
        return row

    def _fleet_options(self) -> QHBoxLayout:
        """Region, seed and mode mix: a new fleet (new devices) is built from them on New Fleet."""
        self.region_combo = QComboBox(editable=True, minimumContentsLength=6)
        self.region_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.region_combo.addItems(["world", *(c.name for c in WORLD_CITIES)])
        self.region_combo.setCurrentText(_region_text(self.fleet.region))
        self.region_combo.setToolTip(
            "Where devices start: world, city names separated by commas (London,Berlin), "
            "or a box south,west,north,east in degrees"
        )
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=self.fleet.seed % 2**31)
        self.seed_spin.setToolTip("The same seed gives the same devices and the same events")
        self.random_seed_button = QToolButton()
        self.random_seed_button.setText("Random")
        self.random_seed_button.setToolTip("Pick a new random seed")
        self.random_seed_button.clicked.connect(
            lambda: self.seed_spin.setValue(int(np.random.default_rng().integers(2**31)))
        )
        probs = self.fleet.mode_mix.probabilities
        self.mode_spins: dict[str, QSpinBox] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Region"))
        row.addWidget(self.region_combo, 1)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_spin)
        row.addWidget(self.random_seed_button)
        for name, share in zip(("walking", "cycling", "driving"), probs, strict=True):
            spin = QSpinBox(minimum=0, maximum=100, value=round(share * 100), suffix="%")
            spin.setToolTip(f"Share of new devices {name}")
            self.mode_spins[name] = spin
            label = QLabel({"walking": "Walk", "cycling": "Cycle", "driving": "Drive"}[name])
            label.setToolTip(f"Share of new devices {name}")
            row.addWidget(label)
            row.addWidget(spin)
        return row

    def new_fleet(self) -> str | None:
        """Build a fleet of the current size from the region, seed and mode mix; an error message or None."""
        try:
            region = Region.parse(self.region_combo.currentText())
            mix = ModeMix(**{name: float(spin.value()) for name, spin in self.mode_spins.items()})
        except ValueError as exc:
            return str(exc)
        running = self.running
        if running:
            self.stop()
        self.settle()
        self.fleet = Fleet(self.seed_spin.value(), self.count_spin.value(), region=region, mode_mix=mix,
                           interval_ms=self.interval_spin.value(), topic=self.fleet.topic)  # fmt: skip
        self.apply_faults(self.faults_combo.currentText())  # the new devices get the same faults
        self._selected = None
        self.fleet_replaced.emit(self.fleet)
        self._refresh_view()
        if running:
            self.start()
        return None

    def apply_faults(self, text: str) -> str | None:
        """Device faults from now on: a preset or a spec (see FAULTS_HELP); an error message or None."""
        try:
            spec = FaultSpec.parse(text)
        except FaultSpecError as exc:
            return _mark(self.faults_combo, FAULTS_HELP, str(exc))
        _mark(self.faults_combo, FAULTS_HELP, None)
        self.settle()
        if self.fault_log is not None:
            self.fault_log.close()
            self.fault_log = None
        if spec.active and self.fault_log_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            self.fault_log = FaultLog(self.fault_log_dir / f"app-{stamp}-{os.getpid()}.jsonl")
        self.fleet.set_faults(spec, self.fault_log)
        self._refresh_view()
        return None

    def apply_load(self, text: str) -> str | None:
        """A load shape (or 'by interval'); it starts now if the fleet runs, else with Start. An error or None."""
        text = text.strip() or BY_INTERVAL
        if text != BY_INTERVAL:
            try:
                parse_load_shape(text)
            except LoadShapeError as exc:
                return _mark(self.load_combo, LOAD_HELP, str(exc))
        _mark(self.load_combo, LOAD_HELP, None)
        self.load_shape_text = text
        self._start_load()
        self._refresh_view()
        return None

    def _start_load(self) -> None:
        """Begin following the chosen shape from now (or go back to the Interval)."""
        if self.load_shape_text == BY_INTERVAL or not self.running:
            if self.load is not None:
                self.interval_spin.setValue(self._own_interval_ms)  # the user's interval again
                self.settle()
                self.fleet.set_interval(self._own_interval_ms)
            self.load = None
            return
        if self.load is None:
            self._own_interval_ms = self.interval_spin.value()
        self.load = ShapeFollower(parse_load_shape(self.load_shape_text), self.clock.elapsed(), TICK_MS)

    def stage_rates(self) -> str:
        """The rate reached in each stage of the shape, as lines of text (the summary's tooltip)."""
        if self.load is None:
            return ""
        rates = self.load.report(self.clock.elapsed(), *self._load_counts())
        lines = [f"load {self.load.shape.text}: events/s asked, generated, acknowledged"]
        lines += [f"{r.stage}: {r.target_per_s:,.0f}, {r.generated_per_s:,.0f}, {r.acknowledged_per_s:,.0f}"
                  for r in rates]  # fmt: skip
        return "\n".join(lines)

    def _load_counts(self) -> tuple[int, int]:
        return self._generated, self._counts[1] if self._counts is not None else 0

    def _new_fleet_clicked(self) -> None:
        error = self.new_fleet()
        if error:
            QMessageBox.warning(self, "New fleet", error)

    def _motion_controls(self) -> QHBoxLayout:
        self.interval_spin = QSpinBox(minimum=10, maximum=3_600_000, singleStep=100, suffix=" ms")
        self.interval_spin.setValue(round(self.fleet.default_interval_s * 1000))
        self.interval_spin.setToolTip("How often each device sends an event")
        self.interval_spin.valueChanged.connect(self._set_interval)  # the current fleet
        self.time_scale_spin = QDoubleSpinBox(minimum=0.1, maximum=1000.0, value=1.0, suffix=" x", decimals=1)
        self.time_scale_spin.setToolTip("Replay speed of imported tracks")
        self.trace_button = QPushButton("Import &Trace…")
        self.trace_button.setToolTip("Replay a GPX, GeoJSON or CSV track on the selected device (or all devices)")
        self.trace_button.clicked.connect(self._choose_trace)
        self.faults_combo = _spec_combo(list(FAULT_PRESETS), FAULTS_HELP, 14, self.apply_faults)
        faults_label = QLabel("Fa&ults")
        faults_label.setBuddy(self.faults_combo)
        row = QHBoxLayout()
        row.addWidget(QLabel("Interval"))
        row.addWidget(self.interval_spin)
        row.addWidget(faults_label)
        row.addWidget(self.faults_combo, 1)
        row.addStretch(1)
        row.addWidget(QLabel("Track speed"))
        row.addWidget(self.time_scale_spin)
        row.addWidget(self.trace_button)
        return row

    def _panels(self) -> QSplitter:
        self.proxy = proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.model)
        proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(sortingEnabled=True)
        self.table.setAlternatingRowColors(True)
        self.table.setModel(proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.selectionModel().currentRowChanged.connect(self._row_selected)
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(50)  # size columns from 50 rows, not all 10,000
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().hide()
        detail_scroll = QScrollArea(widgetResizable=True)
        detail_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        detail_scroll.setMinimumWidth(300)
        detail_scroll.setWidget(self.detail)  # scrolls on small screens instead of forcing a tall window
        columns = QSplitter()
        columns.addWidget(self.table)
        columns.addWidget(detail_scroll)
        columns.setStretchFactor(0, 3)
        columns.setStretchFactor(1, 1)
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(columns)
        rows.addWidget(self.rate_chart)
        rows.setStretchFactor(0, 4)
        rows.setStretchFactor(1, 1)
        self._splitters = {"simulator/columns": columns, "simulator/rows": rows}
        return rows

    def import_trace(self, path: str) -> str | None:
        """Replay the track at `path` on the selected device, or on all; returns an error message or None."""
        try:
            trace = load_trace(path)
        except TraceError as exc:
            return str(exc)
        devices = np.array([self._selected]) if self._selected is not None else np.arange(len(self.fleet))
        self.settle()
        self.fleet.assign_trace(trace, devices, self.clock.schedule(), self.time_scale_spin.value())
        self._refresh_view()
        return None

    def _choose_trace(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import Track", "", "Tracks (*.gpx *.geojson *.json *.csv)")
        if path and (error := self.import_trace(path)):
            QMessageBox.warning(self, "Cannot import the track", error)

    def save_layout(self, qs: QSettings) -> None:
        for key, splitter in self._splitters.items():
            qs.setValue(key, splitter.saveState())

    def restore_layout(self, qs: QSettings) -> None:
        for key, splitter in self._splitters.items():
            state = qs.value(key)
            if isinstance(state, QByteArray):
                splitter.restoreState(state)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def apply_count(self) -> None:
        self.settle()
        self.fleet.apply(self.count_spin.value())
        self._refresh_view()

    def start(self) -> None:
        self.start_button.setChecked(True)

    def stop(self) -> None:
        self.start_button.setChecked(False)

    def _toggle(self, on: bool) -> None:
        self.start_button.setText("&Stop" if on else "&Start")
        self.settle()
        if on:
            self.fleet.start(self.clock.schedule())
            self._timer.start()
            self._start_load()
            self.simulation_started.emit()
        else:
            self._timer.stop()
            self.fleet.stop()
            self.simulation_stopped.emit()
        self._refresh_view()

    def _set_interval(self, ms: int) -> None:
        self.settle()
        self.fleet.set_interval(ms)

    def settle(self) -> None:
        """Wait for the batch being made (at most one tick's work) and pass it on: the fleet is the UI thread's
        until the next tick. Everything that changes or reads the fleet off the tick calls this first."""
        if self._advancing is not None:
            self._take_batch(self._advancing)

    def _tick(self) -> None:
        if self._advancing is not None:
            return  # the last tick's batch is not made yet (a busy machine): the next advance catches up
        self._throttled = not self.can_generate(len(self.fleet))
        if self._throttled:
            return  # the spool is full: devices wait, nothing is dropped
        if self.load is not None:
            interval = self.load.step(self.clock.elapsed(), len(self.fleet), *self._load_counts())
            if interval is not None:
                self.fleet.set_interval(interval)
                with QSignalBlocker(self.interval_spin):  # shows what the shape set, without setting it again
                    self.interval_spin.setValue(interval)
        advance = self.fleet.advance
        self._advancing = future = self._generating.submit(
            advance, self.clock.schedule(), self.clock.wall(), catch_up_s=CATCH_UP_S
        )
        future.add_done_callback(self._advanced.emit)

    def _take_batch(self, future: Future[EventBatch]) -> None:
        """The batch of the last tick, on the UI thread: to the stream, then the view (once a second)."""
        if future is not self._advancing:  # taken already (by `settle`)
            return
        self._advancing = None
        try:
            batch = future.result()
        except Exception:
            log.exception("the fleet could not advance")
            return
        if len(batch):
            self._generated += len(batch)
            self.events_generated.emit(batch)
        if self.running and time.monotonic() - self._last_view >= VIEW_REFRESH_S:
            self._refresh_view()

    def select_device(self, index: int) -> None:
        """Select a device by its fleet index (as a click on its row does)."""
        proxy_index = self.proxy.mapFromSource(self.model.index(index, 0))
        self.table.setCurrentIndex(proxy_index)
        self.table.scrollTo(proxy_index, QTableView.ScrollHint.PositionAtCenter)

    def _row_selected(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._selected = self.proxy.mapToSource(current).row() if current.isValid() else None
        self._show_detail(self._snapshot)  # the values the table shows, so both agree

    def _show_detail(self, snapshot: dict[str, np.ndarray]) -> None:
        i = self._selected
        if i is None or i >= len(self.fleet):
            self._selected = None
            self.detail.clear_device()
            return
        self.detail.show_device(self.fleet.identities.names[i], snapshot, i)

    def offered_rate(self) -> float:
        """Events/s the fleet asks for now: its devices at their intervals, or the load shape's peak."""
        rate = self.fleet.offered_per_s
        if self.load is not None:
            rate = max(rate, self.load.shape.peak_rate)
        return rate

    def _refresh_view(self) -> None:
        self.settle()
        if self.running:
            self.rate_offered.emit(self.offered_rate())
        self._last_view = time.monotonic()
        if self._in_front:  # behind the Dashboard tab the device table waits (10,000 rows: up to 30 ms a second)
            self._snapshot = snapshot = self.fleet.snapshot()
            self.model.set_rows(self.fleet.identities.names, snapshot)
            self._show_detail(snapshot)
        self._show_summary()

    def set_in_front(self, in_front: bool) -> None:
        """Whether this pane is the tab in front (the main window says so as tabs change)."""
        self._in_front = in_front
        if in_front:
            self._refresh_view()  # what changed while another tab was in front

    def show_counts(self, generated: int, acknowledged: int) -> None:
        """The streamer's counts, read at one moment (the status bar shows the same snapshot)."""
        self._counts = (generated, acknowledged)
        self._show_summary()

    def _show_summary(self) -> None:
        state = ("waiting for the spool" if self._throttled else "running") if self.running else "stopped"
        if self._counts is None:
            counts = f"{self._generated:,} events generated"
        else:
            counts = f"{self._counts[0]:,} events generated, {self._counts[1]:,} acknowledged"
        faults = self.fleet.faults
        if faults is not None:
            injected = ", ".join(f"{k} {v:,}" for k, v in sorted(faults.log.counts().items()))
            counts += f"; faults {faults.spec}" + (f": {injected}" if injected else "")
        if self.load is not None and self.load.stage is not None:
            rate = self.load.shape.rate_at(self.clock.elapsed() - self.load.start_s)
            counts += f"; load {self.load.shape.text}: {self.load.stage.name}, asking {rate:,.0f}/s"
            counts += " (more than the devices can send)" if self.load.capped else ""
        self.summary.setText(f"{len(self.fleet)} devices, {state}, {counts}")
        self.summary.setToolTip(self.stage_rates())


def _spec_combo(items: Sequence[str], help_text: str, chars: int, apply: Callable[[str], object]) -> QComboBox:
    """An editable box of presets whose text is applied when one is picked or Enter is pressed."""
    combo = QComboBox(editable=True, minimumContentsLength=chars)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.addItems(list(items))
    combo.setToolTip(help_text)
    combo.activated.connect(lambda _i: apply(combo.currentText()))
    line = combo.lineEdit()
    assert line is not None
    line.editingFinished.connect(lambda: apply(combo.currentText()))
    return combo


def _mark(combo: QComboBox, help_text: str, error: str | None) -> str | None:
    """A red border and the reason in the tooltip for a text that was refused; plain again otherwise."""
    combo.setStyleSheet("QComboBox { border: 2px solid #d32f2f; }" if error else "")
    combo.setToolTip(f"{error}\n\n{help_text}" if error else help_text)
    return error


def _region_text(region: Region) -> str:
    if region.box is not None:
        b = region.box
        return f"{b.south},{b.west},{b.north},{b.east}"
    if region.cities == WORLD_CITIES:
        return "world"
    return ",".join(c.name for c in region.cities)
