"""Every module the web apps can import loads on this Python (also run on 3.11, as Databricks Apps has)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# What the web apps stand on; the desktop UI and the command line are not deployed.
WEB_PACKAGES = ("zerostream_desktop.core", "zerostream_desktop.localbus", "zerostream_desktop.webapps")
WEB_MODULES = ("zerostream_desktop.stream_target",)
PROBE = """
import importlib, json, pkgutil, sys
names = list({modules!r})
for package in {packages!r}:
    names.append(package)
    names += [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
loaded = [importlib.import_module(n).__name__ for n in names]
qt = sorted(n for n in sys.modules if n.split(".")[0] in ("PySide6", "qasync", "pyqtgraph"))
print(json.dumps({{"loaded": loaded, "qt": qt, "python": list(sys.version_info[:2])}}))
"""


def test_every_module_the_web_apps_can_import_loads_without_qt():
    """In a fresh interpreter: the suite's own process has Qt loaded by the desktop tests."""
    code = PROBE.format(modules=WEB_MODULES, packages=WEB_PACKAGES)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "zerostream_desktop.webapps.dashboard" in report["loaded"] and len(report["loaded"]) > 40
    assert report["qt"] == []  # the web apps never pull in the desktop's Qt
    assert report["python"] == list(sys.version_info[:2])
