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


def test_the_app_opens_more_streams_as_the_fleet_offers_more_and_every_event_lands(qtbot, tmp_path, monkeypatch,
                                                                                   qasync_loop):  # fmt: skip
    from tests.integration.localbus_helpers import LocalBusProcess
    from zerostream_desktop.core.fleet import Fleet

    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_TOKEN", "more-streams-token")
    loop = qasync_loop
    owner = QObject()
    background = Background(owner, max_workers=2)
    loop.set_default_executor(background.executor)  # as the app does: the streamers' disk reads on its workers
    stream = StreamController(background, owner)
    settings = load_settings({"data_dir": tmp_path}, environ={}, search_dirs=[])  # ZEROBUS_STREAMS=auto
    snaps = []
    stream.stats_changed.connect(snaps.append)
    task = loop.create_task(stream.open(settings))
    qtbot.waitUntil(task.done, timeout=30_000)
    fleet = Fleet(4, 60, interval_ms=1000)
    fleet.start(0.0)
    sent: list[str] = []
    try:
        assert stream.streamer is not None and len(stream.streamer) == 1
        stream.plan_for(500.0)  # one stream is plenty
        stream.plan_for(30_000.0)  # 10,000 devices at 3 Hz: three streams of at most 12,000/s
        qtbot.waitUntil(lambda: len(stream.streamer) == 3, timeout=10_000)
        stream.plan_for(500.0)  # never fewer while connected
        for k in range(1, 6):
            batch = fleet.advance(float(k))
            sent += batch.event_ids()
            stream.submit(batch)
        qtbot.waitUntil(lambda: stream.streamer.stats.acked == len(sent), timeout=30_000)
        assert len(stream.streamer) == 3 and all(s.stats.acked > 0 for s in stream.streamer.streamers)
        assert len({s.spool.path for s in stream.streamer.streamers}) == 3
        qtbot.waitUntil(lambda: snaps and snaps[-1].streams == 3, timeout=5_000)
        assert "· 3 streams ·" in snaps[-1].status_text("localbus")
    finally:
        closing = loop.create_task(stream.close(timeout=5))
        qtbot.waitUntil(closing.done, timeout=60_000)
        background.shutdown(wait=True)
    assert sorted(LocalBusProcess(tmp_path, 0).event_ids()) == sorted(sent)
