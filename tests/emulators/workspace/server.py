"""Serving a Workspace over HTTP on 127.0.0.1 (uvicorn in a thread), as a context manager."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from tests.emulators.workspace.app import create_app
from tests.emulators.workspace.state import Workspace


@contextmanager
def serve_workspace(workspace: Workspace | None = None, port: int = 0, tls: bool = False) -> Iterator[Workspace]:
    """The emulator on 127.0.0.1; with `tls`, HTTPS on https://localhost:<port> with a local CA (`ws.ca_file`)."""
    ws = workspace or Workspace()
    scratch = None
    if not ws.apps_dir:
        scratch = tempfile.TemporaryDirectory(prefix="emulated-apps-")
        ws.apps_dir = scratch.name
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    ssl: dict[str, str] = {}
    if tls:
        from zerostream_desktop.localbus.security import ensure_tls

        files = ensure_tls(Path(ws.apps_dir) / "tls")
        ssl = {"ssl_certfile": str(files.server_cert), "ssl_keyfile": str(files.server_key)}
        ws.ca_file = str(files.ca_cert)
        ws.base_url = f"https://localhost:{port}"
    else:
        ws.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(create_app(ws), log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1, **ssl)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the workspace emulator did not start")
        time.sleep(0.02)
    try:
        yield ws
    finally:
        ws.stop_apps()
        server.should_exit = True
        thread.join(10)
        sock.close()
        if scratch is not None:
            scratch.cleanup()
