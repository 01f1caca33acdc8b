"""Both web apps in a real Chromium against `zerostream webapps serve` (a real server, localbus, a Delta table)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.integration.localbus_helpers import free_port
from tests.webapps import browser
from tests.webapps.conftest import wait_for
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.paths import local_table_path

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not browser.available() and not os.environ.get("CI"), reason="needs chromium and its driver"),
]
TOKEN = "browser-test-token"
TABLE = "zerostream.sensors.sensor_stream"


@dataclass
class Server:
    data_dir: Path
    port: int
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Server:
        env = {**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": "browser-bus", "ZEROSTREAM_WEBAPPS_TOKEN": TOKEN,
               "SIM_DEVICES": "6", "SIM_SEED": "5", "STREAM_INTERVAL_MS": "250", "RUST_LOG": "error"}  # fmt: skip
        cmd = [sys.executable, "-m", "zerostream_desktop", "--data-dir", str(self.data_dir), "webapps", "serve",
               "--port", str(self.port)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
        assert self.proc.stdout is not None
        lines = [self.proc.stdout.readline() for _ in range(3)]
        assert any("dashboard:" in line for line in lines), lines
        self.urls = {}
        for line in lines:
            found = re.search(r"(mobile|dashboard)[a-z ]*:\s+(\S+)", line)
            if found:
                self.urls[found.group(1)] = found.group(2)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    s = Server(tmp_path, free_port()).start()
    yield s
    s.stop()


@pytest.fixture
def chrome():
    with browser.chromium() as driver:
        yield driver


def js(driver, code: str):
    return driver.execute_script(f"return {code};")


def number(text: str) -> int:
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else 0


def test_simulator_page_resize_start_counts_rise_and_a_device_lives(server, chrome):
    chrome.get(server.urls["mobile"])
    assert "token=" not in chrome.current_url  # the token went into a cookie
    wait_for(lambda: js(chrome, "window.zsMobile.link") == "live", 30)
    slider = chrome.find_element(By.ID, "count-slider")
    chrome.execute_script("arguments[0].value = 9; arguments[0].dispatchEvent(new Event('input'));", slider)
    assert chrome.find_element(By.ID, "count").get_attribute("value") == "9"
    chrome.find_element(By.ID, "apply").click()
    wait_for(lambda: len(chrome.find_elements(By.CSS_SELECTOR, "#devices tr")) == 9, 15)
    chrome.find_element(By.ID, "start").click()
    wait_for(lambda: number(chrome.find_element(By.ID, "acknowledged").text) > 50, 60)
    published = number(chrome.find_element(By.ID, "published").text)
    wait_for(lambda: number(chrome.find_element(By.ID, "published").text) > published, 10)  # still rising
    assert "started by" in chrome.find_element(By.ID, "action").text
    chrome.find_elements(By.CSS_SELECTOR, "#devices tr")[4].click()
    wait_for(lambda: chrome.find_element(By.ID, "device-name").text.endswith("(#4)"), 10)
    first = chrome.find_element(By.ID, "v-position").text
    wait_for(lambda: chrome.find_element(By.ID, "v-position").text != first, 15)  # it moves
    assert re.fullmatch(r"\d+ %( charging)?", chrome.find_element(By.ID, "v-battery").text)
    assert js(chrome, "window.zsMobile.map_ready") is not None  # the shared map page answered on the page
    chrome.find_element(By.ID, "stop").click()
    wait_for(lambda: chrome.find_element(By.ID, "start").is_displayed(), 10)


def test_dashboard_tiles_clients_track_raw_view_and_reconnect(server, chrome, tmp_path):
    chrome.get(server.urls["mobile"])  # start streaming from the simulator page
    wait_for(lambda: js(chrome, "window.zsMobile.link") == "live", 30)
    chrome.find_element(By.ID, "start").click()
    chrome.get(server.urls["dashboard"])
    wait_for(lambda: number(chrome.find_element(By.CSS_SELECTOR, "[data-kpi=total_events] .value").text) > 0, 60)
    first = number(chrome.find_element(By.CSS_SELECTOR, "[data-kpi=total_events] .value").text)
    wait_for(lambda: number(chrome.find_element(By.CSS_SELECTOR, "[data-kpi=total_events] .value").text) > first, 15)
    wait_for(lambda: number(chrome.find_element(By.CSS_SELECTOR, "[data-kpi=total_events] .value").text) > 150, 30)
    wait_for(lambda: len(chrome.find_elements(By.CSS_SELECTOR, ".client-row")) == 6, 15)
    assert chrome.find_element(By.CSS_SELECTOR, "[data-kpi=unique_clients] .value").text == "6"

    # stop streaming so the track stops growing, then click a client: its track as the query suite has it
    chrome.execute_script("fetch('../mobile/api/stop', {method: 'POST'})")
    row = chrome.find_elements(By.CSS_SELECTOR, ".client-row")[2]
    cid = row.get_attribute("data-id")
    chrome.execute_script("document.getElementById('follow').checked = false")
    time.sleep(3)  # what was in flight lands
    chrome.find_element(By.CSS_SELECTOR, f'.client-row[data-id="{cid}"]').click()
    drawn = wait_for(lambda: (d := js(chrome, "window.zsDashboard.map_trackDrawn")) and d["id"] == cid and d, 20)
    want = LocalDeltaAnalytics(local_table_path(tmp_path, TABLE)).track(cid)
    assert drawn["points"] == len(want.points) and drawn["total"] == want.total_points > 0
    assert drawn["start"] == pytest.approx([want.points[0].latitude, want.points[0].longitude])
    assert drawn["end"] == pytest.approx([want.points[-1].latitude, want.points[-1].longitude])
    assert len(chrome.find_elements(By.CSS_SELECTOR, ".endpoint.start")) == 1
    assert chrome.find_element(By.CSS_SELECTOR, ".endpoint.end").text == "E"
    assert f"{len(want.points):,} points" in chrome.find_element(By.ID, "d-track").text
    chrome.find_element(By.ID, "step-first").click()
    assert chrome.find_element(By.ID, "step-at").text == f"point 1 of {len(want.points)}"
    assert "point 1 of" in chrome.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text

    # the raw stream pages
    chrome.find_element(By.CSS_SELECTOR, "button[data-tab=raw]").click()
    wait_for(lambda: len(chrome.find_elements(By.CSS_SELECTOR, "#raw-table tbody tr")) == 50, 15)
    top = chrome.find_element(By.CSS_SELECTOR, "#raw-table tbody tr td:last-child").text
    chrome.find_element(By.ID, "raw-older").click()
    wait_for(lambda: chrome.find_element(By.ID, "raw-page").text == "page 2", 10)
    assert chrome.find_element(By.CSS_SELECTOR, "#raw-table tbody tr td:last-child").text != top
    assert re.search(r"\d+ rows in \d+ ms", chrome.find_element(By.ID, "raw-info").text)

    # the server goes away and comes back: the page reconnects by itself
    server.stop()
    wait_for(lambda: js(chrome, "window.zsDashboard.link") == "reconnecting", 20)
    server.start()
    wait_for(lambda: js(chrome, "window.zsDashboard.link") == "live", 60)
    assert chrome.find_element(By.ID, "link").text == "● live"


def test_faults_set_on_the_simulator_page_show_in_the_dashboards_data_quality(server, chrome):
    chrome.get(server.urls["mobile"])
    wait_for(lambda: js(chrome, "window.zsMobile.link") == "live", 30)
    chrome.find_element(By.ID, "faults").send_keys("jump=0.05,dup=0.1,<b>x")
    chrome.find_element(By.ID, "apply-faults").click()
    refused = lambda: ("unknown kind" in chrome.find_element(By.ID, "error").text  # noqa: E731
                       or "write kind" in chrome.find_element(By.ID, "error").text)  # fmt: skip
    wait_for(refused, 30)
    time.sleep(2.5)  # the state pushed meanwhile (every second) leaves the reason on the page
    assert refused() and chrome.find_element(By.ID, "error").is_displayed()
    field = chrome.find_element(By.ID, "faults")
    field.clear()
    field.send_keys("jump=0.05,dup=0.1")
    chrome.find_element(By.ID, "apply-faults").click()
    wait_for(lambda: chrome.find_element(By.ID, "faults-state").text.startswith("jump=0.05,dup=0.1"), 30)
    chrome.find_element(By.ID, "start").click()
    wait_for(lambda: "dup" in chrome.find_element(By.ID, "faults-state").text, 30)
    wait_for(lambda: js(chrome, "window.zsMobile.state.acknowledged") > 300, 60)
    chrome.find_element(By.ID, "stop").click()
    time.sleep(2)

    chrome.get(server.urls["dashboard"])
    wait_for(lambda: number(chrome.find_element(By.CSS_SELECTOR, "[data-kpi=total_events] .value").text) > 0, 60)
    chrome.find_element(By.CSS_SELECTOR, "button[data-tab=quality]").click()
    wait_for(lambda: number(chrome.find_element(By.CSS_SELECTOR, "[data-q=duplicates] .value").text) > 0, 30)
    time.sleep(2.5)  # the KPIs pushed every second meanwhile leave the Data quality tiles alone (they blanked them)
    assert number(chrome.find_element(By.CSS_SELECTOR, "[data-q=duplicates] .value").text) > 0
    jumps = chrome.find_element(By.CSS_SELECTOR, "[data-q=jumps] .value").text
    assert number(jumps.split(" ")[0]) > 0 and "devices" in jumps
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#q-buckets .bucket")) == 6
    rows = chrome.find_elements(By.CSS_SELECTOR, "#q-devices tbody tr")
    assert rows and re.search(r"[\d,]+ events read in \d+ ms", chrome.find_element(By.ID, "q-info").text)
    worst = rows[0].get_attribute("data-id")
    rows[0].click()  # to the map: its track, with rings where its points look wrong
    drawn = wait_for(lambda: (d := js(chrome, "window.zsDashboard.map_marksDrawn")) and d["id"] == worst and d, 20)
    assert drawn["marks"] > 0 and not chrome.find_element(By.ID, "overview").get_attribute("hidden")
    assert js(chrome, "window.zerostream.state().marks") == drawn["marks"]
