"""Qt tests run offscreen, with QSettings in a temporary folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from zerostream_desktop.ui.map_view import prepare_web_engine

prepare_web_engine()  # before pytest-qt creates the QApplication

from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path: Path, qapp):
    QCoreApplication.setOrganizationName("ZeroStreamTests")
    QCoreApplication.setApplicationName("ZeroStreamTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield
    QSettings().clear()


@pytest.fixture
def qasync_loop(qapp):
    """An asyncio loop over pytest-qt's running Qt loop, as the app has one (FIELD_NOTES: never stopped)."""
    from qasync import QEventLoop

    loop = QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.events._set_running_loop(None)  # qasync marks it running for good; later tests call asyncio.run
    asyncio.set_event_loop(None)


@pytest.fixture(scope="session", autouse=True)
def delete_widgets_before_exit(qapp):
    """Web views must be gone before the QApplication: a page outliving its profile segfaults at exit."""
    yield
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    for widget in QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
