"""The desktop's raw stream view (the web dashboard's query) and Tools > Open Web Dashboard."""

from __future__ import annotations

import urllib.request

import pytest
from deltalake import write_deltalake
from PySide6.QtCore import QObject

from tests.analytics import dataset
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.background import Background
from zerostream_desktop.ui.raw_stream import PAGE, RawStreamView
from zerostream_desktop.ui.web_launcher import WebAppsLauncher

pytestmark = pytest.mark.ui


def test_the_raw_stream_pages_through_the_rows_as_they_landed(qtbot, tmp_path):
    rows = dataset.rows()
    write_deltalake(str(tmp_path / "t"), dataset.arrow(rows), partition_by=["event_date"])
    backend = LocalDeltaAnalytics(tmp_path / "t")
    view = RawStreamView(lambda: backend)
    qtbot.addWidget(view)
    view.first_page()
    qtbot.waitUntil(lambda: view.model.rowCount() == PAGE, timeout=10_000)
    newest = dataset.expected_events(rows, None, PAGE, 0, one_per_event=False)
    assert [r["event_id"] for r in view.model.rows] == [r["event_id"] for r in newest]
    assert view.page_label.text() == "page 1" and not view.newer.isEnabled()
    view.older.click()
    qtbot.waitUntil(lambda: view.page_label.text() == "page 2", timeout=10_000)
    assert view.model.rows[0]["event_id"] == dataset.expected_events(rows, None, 1, PAGE, False)[0]["event_id"]
    view.client.setText(dataset.EVIL)
    view.client.returnPressed.emit()
    qtbot.waitUntil(lambda: view.page_label.text() == "page 1", timeout=10_000)
    assert {r["connection_id"] for r in view.model.rows} == {dataset.EVIL}
    assert view.model.data(view.model.index(0, 2)) == dataset.EVIL  # shown as text, never run as SQL
    assert "rows in" in view.info.text()


def test_the_raw_stream_says_so_while_the_dashboard_is_still_opening(qtbot):
    view = RawStreamView(lambda: None)
    qtbot.addWidget(view)
    view.first_page()
    assert "still opening" in view.info.text() and view.model.rowCount() == 0


@pytest.mark.integration
def test_open_web_dashboard_starts_the_web_apps_once_and_opens_a_signed_in_link(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_TOKEN", "launcher-bus")
    settings = load_settings({"data_dir": tmp_path}, environ={}, search_dirs=[])
    owner = QObject()
    opened: list[str] = []
    launcher = WebAppsLauncher(settings, Background(owner), owner, open_url=opened.append)
    try:
        launcher.open_dashboard()
        qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
        url = opened[0]
        assert url.startswith("http://127.0.0.1:") and "/dashboard/?token=" in url
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # keeps the cookie, as a browser
        with browser.open(url, timeout=10) as page:
            assert page.status == 200 and "ZeroStream dashboard" in page.read().decode()
        first = launcher.process
        launcher.open_dashboard()  # again: the same server, the browser opened once more
        qtbot.waitUntil(lambda: len(opened) == 2, timeout=5_000)
        assert launcher.process is first and opened[1] == url
    finally:
        process = launcher.process
        launcher.stop()
    assert process is not None and process.poll() is not None
