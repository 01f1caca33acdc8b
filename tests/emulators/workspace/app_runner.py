"""Running a deployed app as Databricks Apps runs it (when the emulator is asked to: `Workspace.run_apps`).

The deployment's files are written to a folder of their own; `app.yaml`'s command runs there with
`$DATABRICKS_APP_PORT` substituted (the one variable the platform substitutes), its `env` entries
resolved (`value`, or `valueFrom` a resource of the app: the warehouse id, the database name), and the
platform's variables: DATABRICKS_HOST (this emulator), the app principal's DATABRICKS_CLIENT_ID and
DATABRICKS_CLIENT_SECRET, DATABRICKS_APP_NAME and DATABRICKS_APP_PORT. Nothing else of the caller's
environment leaks in. `python` is `Workspace.app_python`: the platform installs requirements.txt
into its own environment; here the interpreter given must already hold them (the platform test
gives it a fresh one made from the generated requirements.txt, wheels only).

The deployment succeeds once `/healthz` answers, and fails with the app's last output lines if the
process exits first or does not answer within `app_ready_seconds`; a later crash shows as CRASHED.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from databricks.sdk.service import apps


@dataclass
class RunningApp:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _resolve(entry: dict[str, Any], app: apps.App) -> str:
    if "value" in entry:
        return str(entry["value"])
    key = entry.get("valueFrom")
    for r in app.resources or []:
        if r.name == key:
            if r.sql_warehouse:
                return r.sql_warehouse.id or ""
            if r.database:
                return r.database.database_name or ""
            if r.secret:
                raise ValueError(f"valueFrom {key}: secret resources are not emulated")
    raise ValueError(f"env {entry.get('name')}: valueFrom {key!r} names no resource of app {app.name}")


def start(ws: Any, app: apps.App, files: dict[str, bytes], deployment_id: str) -> RunningApp:
    """Write the deployed files and start the app; raises ValueError for an app.yaml the platform refuses."""
    folder = Path(ws.apps_dir) / (app.name or "app") / deployment_id
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    spec = yaml.safe_load(files.get("app.yaml", b"") or b"{}") or {}
    port = _free_port()
    home = folder / ".home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "RUST_LOG": "warn", "PYTHONUNBUFFERED": "1",
        "DATABRICKS_HOST": ws.base_url, "DATABRICKS_WORKSPACE_ID": ws.workspace_id,
        "DATABRICKS_APP_NAME": app.name or "", "DATABRICKS_APP_PORT": str(port),
        "DATABRICKS_CLIENT_ID": app.service_principal_client_id or "",
        "DATABRICKS_CLIENT_SECRET": ws.app_secrets.get(app.service_principal_client_id or "", ""),
        **ws.app_env,
    }  # fmt: skip
    for entry in spec.get("env") or []:
        env[str(entry["name"])] = _resolve(entry, app)
    command = [str(c).replace("$DATABRICKS_APP_PORT", str(port)) for c in spec.get("command") or ["python", "app.py"]]
    if command[0] == "python":
        command[0] = ws.app_python
    log = folder / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    return RunningApp(process, port, log)


def watch_ready(running: RunningApp, timeout_s: float, done: Any) -> None:
    """Call done(None) once /healthz answers, or done(message) when the app exits or stays silent."""

    def run() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                done(f"the app exited with code {running.process.returncode}:\n{running.tail()}")
                return
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        done(None)
                        return
            except OSError:
                pass
            time.sleep(0.3)
        done(f"the app did not answer on its port within {timeout_s:.0f} s:\n{running.tail()}")

    threading.Thread(target=run, daemon=True, name="emulated-app-ready").start()
