"""The app's log, live, in a dock: what the streamer, localbus supervisor and the rest report."""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

MAX_LINES = 5000
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Relay(QObject):
    line_logged = Signal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler that hands records to the UI thread through a queued signal."""

    def __init__(self) -> None:
        super().__init__()
        self.relay = _Relay()
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # the view is gone (app shutting down)
            self.relay.line_logged.emit(self.format(record), record.levelno)


class LogView(QPlainTextEdit):
    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        handler.relay.line_logged.connect(self.append_line, Qt.ConnectionType.QueuedConnection)

    def append_line(self, text: str, level: int) -> None:
        if level >= logging.ERROR:
            text = f"<span style='color:#c62828'>{_escape(text)}</span>"
        elif level >= logging.WARNING:
            text = f"<span style='color:#ef6c00'>{_escape(text)}</span>"
        else:
            text = _escape(text)
        self.appendHtml(f"<pre style='margin:0'>{text}</pre>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
