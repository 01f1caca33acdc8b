"""Serving a Workspace over HTTP on 127.0.0.1 (uvicorn in a thread), as a context manager."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tests.emulators.workspace.app import create_app
from tests.emulators.workspace.state import Workspace


@contextmanager
def serve_workspace(workspace: Workspace | None = None, port: int = 0) -> Iterator[Workspace]:
    ws = workspace or Workspace()
    scratch = None
    if not ws.apps_dir:
        scratch = tempfile.TemporaryDirectory(prefix="emulated-apps-")
        ws.apps_dir = scratch.name
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    ws.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(create_app(ws), log_level="warning", access_log=False, lifespan="off")
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
