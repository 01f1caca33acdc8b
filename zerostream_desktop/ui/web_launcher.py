"""Tools > Open Web Dashboard: the web apps for this data folder, started once, opened in the browser.

Runs `zerostream webapps serve` as a child process on a free loopback port with a token of this
session (so the link the browser gets signs it in), logs to `<data>/logs/webapps.log`, and stops
it when the app closes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from zerostream_desktop.core.paths import zerostream_command
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.ui.background import Background

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebAppsLauncher(QObject):
    opened = Signal(str)  # the dashboard's address, token included
    failed = Signal(str)

    def __init__(
        self,
        settings: Settings,
        background: Background,
        parent: QObject | None = None,
        open_url: Callable[[str], object] = lambda url: QDesktopServices.openUrl(QUrl(url)),
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.background = background
        self.open_url = open_url
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self._token = secrets.token_urlsafe(24)

    @property
    def dashboard_url(self) -> str:
        return f"{self.base_url}dashboard/?token={self._token}"

    def open_dashboard(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._show()
            return
        self.background.run(self._start, lambda _: self._show(), lambda exc: self.failed.emit(str(exc)))

    def _start(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}/"
        log_file = Path(self.settings.data_dir) / "logs" / "webapps.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        folder = str(self.settings.data_dir)
        command = [*zerostream_command(), "--data-dir", folder, "webapps", "serve", "--port", str(port)]
        env = {**os.environ, "ZEROSTREAM_WEBAPPS_TOKEN": self._token}
        with log_file.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-5:])
                raise RuntimeError(f"the web apps exited with code {self.process.returncode}:\n{tail}")
            try:
                request = urllib.request.Request(self.base_url, headers={"Authorization": f"Bearer {self._token}"})
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (our own loopback server)
                    if response.status == 200:
                        log.info("web apps at %s (log: %s)", self.base_url, log_file)
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"the web apps did not answer within {START_TIMEOUT_S:.0f} s; see {log_file}")

    def _show(self) -> None:
        self.open_url(self.dashboard_url)
        self.opened.emit(self.dashboard_url)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the web apps (the simulator's fleet stops and its spool drains first). Blocks: call off the UI."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
