"""The setup tests' emulated workspace, signed in through the environment as a user's shell would be."""

from __future__ import annotations

import pytest

from tests.emulators.workspace import serve_workspace


@pytest.fixture
def ws(monkeypatch):
    with serve_workspace() as w:
        monkeypatch.setenv("DATABRICKS_HOST", w.base_url)
        monkeypatch.setenv("DATABRICKS_TOKEN", w.token)
        monkeypatch.setenv("INFRA_PREFIX", "zs")
        yield w
