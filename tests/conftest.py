"""Every test runs isolated from the developer's own settings, keyring, data and Databricks config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from hypothesis import settings as hypothesis_settings

from tests.services.keyring import InMemoryKeyring

# CI explores the same examples every run (a red build is reproducible); developers' runs vary.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

# The platform test builds a Python 3.11 environment (minutes): `.ci/run` runs it after `make test`.
collect_ignore_glob = [] if os.environ.get("ZEROSTREAM_PLATFORM_TEST") == "1" else ["platform/*"]

_FOREIGN_PREFIXES = ("DATABRICKS_", "ZEROBUS_", "ZEROSTREAM_", "SIM_", "LAKEBASE_", "WAREHOUSE_")
_FOREIGN_NAMES = ("CATALOG", "SCHEMA", "TABLE_NAME", "INFRA_PREFIX", "STREAM_INTERVAL_MS", "ACTIVE_WINDOW_SECONDS",
                  "MOBILE_APP_NAME", "DASHBOARD_APP_NAME")  # fmt: skip


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(_FOREIGN_PREFIXES) or name in _FOREIGN_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    monkeypatch.setenv("ZEROSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOCAL_RETENTION_DAYS", "0")  # test data has fixed dates: no retention unless a test asks
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    previous = keyring.get_keyring()
    keyring.set_keyring(InMemoryKeyring())
    yield work
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> InMemoryKeyring:
    kr = keyring.get_keyring()
    assert isinstance(kr, InMemoryKeyring)
    return kr
