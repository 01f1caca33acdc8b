"""`zerostream self-test` from a checkout: every check passes, one line each (the packaging test runs it frozen)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_self_test_passes_and_reports_each_check():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RUST_LOG": "error"}
    done = subprocess.run([sys.executable, "-m", "zerostream_desktop", "self-test"], capture_output=True, text=True,
                          env=env, timeout=180)  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert lines[0].startswith("ZeroStream ") and lines[-1] == "all checks passed"
    checks = [line.split()[1] for line in lines[1:-1]]
    assert checks == ["python", "native", "web", "local"]
    assert all(line.startswith("ok    ") for line in lines[1:-1])
    assert "1,000 read back from the Delta table" in lines[-2]


def test_a_failing_check_is_reported_and_exits_1(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RUST_LOG": "error", "PYTHONPATH": str(tmp_path)}
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['duckdb'] = None  # as if it were missing\n")
    done = subprocess.run([sys.executable, "-m", "zerostream_desktop", "self-test", "--skip-web-view"],
                          capture_output=True, text=True, env=env, timeout=180)  # fmt: skip
    assert done.returncode == 1
    assert any(line.startswith("FAIL  native modules") and "duckdb" in line for line in done.stdout.splitlines())
    assert done.stdout.splitlines()[-1] == "2 check(s) failed"  # the local stack reads back with DuckDB too
