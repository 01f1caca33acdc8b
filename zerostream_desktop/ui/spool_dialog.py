"""Tools > Spool: what waits to be sent and the records ZeroBus refused, with why; export, retry, discard.

The same operations as `zerostream spool` (core/ingest/spool_admin.py), run off the UI thread. A spool a
running producer holds (this app's own, while it streams) is listed but never changed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from zerostream_desktop.core.ingest import spool_admin
from zerostream_desktop.ui.background import Background

COLUMNS = ("Spool", "Waiting", "Oldest", "Dead letters", "Note")


class SpoolDialog(QDialog):
    def __init__(self, data_dir: Path, configured_target: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Spool: records waiting and dead letters")
        self.data_dir = Path(data_dir)
        self.configured_target = configured_target
        self.background = Background(self, name="spool")
        self.infos: list[spool_admin.SpoolInfo] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.reasons = QPlainTextEdit(readOnly=True)
        self.reasons.setPlaceholderText("The reasons ZeroBus gave for the records it refused appear here.")
        self.status = QLabel("Reading the spools…")
        self.refresh_button = QPushButton("&Refresh")
        self.export_button = QPushButton("&Export Dead Letters…")
        self.retry_button = QPushButton("Re&try Dead Letters")
        self.discard_button = QPushButton("&Discard Dead Letters…")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self.export_dead_letters)
        self.retry_button.clicked.connect(self.retry)
        self.discard_button.clicked.connect(self.discard)
        buttons = QHBoxLayout()
        for b in (self.refresh_button, self.export_button, self.retry_button, self.discard_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("Why records were refused:"))
        layout.addWidget(self.reasons, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addWidget(close)
        self.resize(900, 520)
        self.busy = False
        self.refresh()

    def _run(self, work: Any, then: Any) -> None:
        self.busy = True
        for b in (self.refresh_button, self.export_button, self.retry_button, self.discard_button):
            b.setEnabled(False)

        def done(result: Any) -> None:
            self.busy = False
            for b in (self.refresh_button, self.export_button, self.retry_button, self.discard_button):
                b.setEnabled(True)
            if isinstance(result, BaseException):
                self.status.setText(f"✘ {result}")
                return
            then(result)

        self.background.run(work, done, done)

    def refresh(self) -> None:
        self._run(lambda: (spool_admin.spool_infos(self.data_dir, self.configured_target),
                           spool_admin.damaged_spools(self.data_dir)), self._show)  # fmt: skip

    def _show(self, result: Any) -> None:
        infos, damaged = result
        self.infos = infos
        self.table.setRowCount(len(infos) + len(damaged))
        reasons: dict[str, int] = {}
        for row, info in enumerate(infos):
            notes = []
            if info.in_use:
                notes.append("in use by a running producer")
            if not info.configured:
                notes.append("for a target not configured now")
            oldest = (dt.datetime.fromtimestamp(info.oldest_us / 1e6).strftime("%Y-%m-%d %H:%M:%S")
                      if info.oldest_us else "–")  # fmt: skip
            for col, text in enumerate((info.path.name, f"{info.waiting:,}", oldest, f"{info.dead_letters:,}",
                                        "; ".join(notes))):  # fmt: skip
                self.table.setItem(row, col, QTableWidgetItem(text))
            for reason, n in info.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + n
        for i, path in enumerate(damaged, start=len(infos)):
            self.table.setItem(i, 0, QTableWidgetItem(path.name))
            self.table.setItem(i, 4, QTableWidgetItem("damaged, moved aside: what could be read was kept"))
        self.table.resizeColumnsToContents()
        self.reasons.setPlainText("\n".join(f"{n:>7,}  {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])))
        waiting = sum(i.waiting for i in infos)
        dead = sum(i.dead_letters for i in infos)
        self.status.setText(f"{waiting:,} records waiting to be sent; {dead:,} dead letters" if infos
                            else "Nothing waits to be sent.")  # fmt: skip

    def export_dead_letters(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export dead letters", "dead-letters.jsonl",
                                                  "JSON lines (*.jsonl)")  # fmt: skip
        if not path:
            return
        target = Path(path)

        def work() -> int:
            with target.open("w", encoding="utf-8") as out:
                return spool_admin.export(self.data_dir, out, dead_letters=True)

        self._run(work, lambda n: self.status.setText(f"✔ {n:,} dead letters written to {target}"))

    def retry(self) -> None:
        def then(result: Any) -> None:
            n, busy = result
            self.status.setText(f"✔ {n:,} dead letters put back to be sent"
                                + (f"; {len(busy)} spool(s) in use left alone" if busy else ""))  # fmt: skip
            self.refresh()

        self._run(lambda: spool_admin.retry_dead_letters(self.data_dir), then)

    def discard(self, confirm: bool = True) -> None:
        n = sum(i.dead_letters for i in self.infos if not i.in_use)
        if confirm and n and QMessageBox.question(
            self, "Discard dead letters", f"Delete {n:,} dead letters for good? They will never reach the table.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        ) != QMessageBox.StandardButton.Yes:  # fmt: skip
            return

        def then(result: Any) -> None:
            gone, busy = result
            self.status.setText(
                f"✔ {gone:,} dead letters deleted" + (f"; {len(busy)} in use left alone" if busy else "")
            )
            self.refresh()

        self._run(lambda: spool_admin.discard(self.data_dir, dead_letters=True), then)

    def done(self, result: int) -> None:  # noqa: D102 (QDialog)
        self.background.shutdown()
        super().done(result)
