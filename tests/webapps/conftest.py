"""The web apps against a real localbus and a local Delta table, through FastAPI's test client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from zerostream_desktop.core.settings import Settings, load_settings
from zerostream_desktop.webapps.dashboard import create_dashboard_app
from zerostream_desktop.webapps.mobile import create_mobile_app


def wait_for(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


@pytest.fixture
def web_settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("ZEROSTREAM_LOCALBUS_TOKEN", "web-test-token")
    env = {"ZEROSTREAM_DATA_DIR": str(tmp_path), "SIM_DEVICES": "5", "SIM_SEED": "21", "STREAM_INTERVAL_MS": "200"}
    return load_settings(environ=env, search_dirs=[])


@pytest.fixture
def mobile(web_settings) -> Iterator[TestClient]:
    with TestClient(create_mobile_app(web_settings)) as client:
        wait_for(lambda: client.get("/api/state").json()["stream"] not in ("opening",), 60)
        yield client


@pytest.fixture
def dashboard(web_settings) -> Iterator[TestClient]:
    with TestClient(create_dashboard_app(web_settings)) as client:
        yield client
