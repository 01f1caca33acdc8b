"""`zerostream stream` and the desktop app open their stream target through the same code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PySide6.QtCore import QObject

from zerostream_desktop import cli, stream_target
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.background import Background
from zerostream_desktop.ui.streaming import StreamController

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def test_the_command_line_and_the_app_open_the_target_with_one_function(qtbot, tmp_path, monkeypatch, qasync_loop):
    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_TOKEN", "shared-opener-token")
    real = stream_target.open_stream_target
    opened: list[tuple[str, stream_target.StreamConnection]] = []

    def spy(settings, **kwargs):
        connection = real(settings, **kwargs)
        opened.append((settings.endpoint, connection))
        return connection

    monkeypatch.setattr(stream_target, "open_stream_target", spy)

    # the command line, in this process; on a thread of its own, as the qasync loop owns this one
    argv = ["--data-dir", str(tmp_path), "stream", "--devices", "5", "--duration", "1", "--quiet", "--json"]
    with ThreadPoolExecutor(1) as pool:
        rc = pool.submit(cli.main, argv).result(timeout=120)
    assert rc == 0 and len(opened) == 1
    cli_kind, cli_connection = opened[0]
    assert cli_kind == "local" and cli_connection.target.kind == "local"
    assert cli_connection.stack is not None and not cli_connection.stack.running()  # stopped at the end

    # the app's stream controller, on the qasync loop
    loop = qasync_loop
    owner = QObject()
    stream = StreamController(Background(owner, max_workers=2), owner)
    settings = load_settings({"data_dir": tmp_path}, environ={}, search_dirs=[])
    task = loop.create_task(stream.open(settings))
    qtbot.waitUntil(task.done, timeout=30_000)
    try:
        assert task.result() is opened[1][1] and len(opened) == 2
        app_connection = opened[1][1]
        assert app_connection.target.table == cli_connection.target.table == settings.full_table_name
        assert app_connection.stack is not None and app_connection.stack.running()
        assert stream.streamer is not None and stream.streamer.target is app_connection.target
    finally:
        closing = loop.create_task(stream.close(timeout=5))
        qtbot.waitUntil(closing.done, timeout=60_000)
    assert not app_connection.stack.running()
