"""The state file of the localbus server running for a data folder: its endpoint, never a secret. The server
writes it; the desktop, the CLI and the watchdog read it without importing the server (gRPC, Delta)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STATE_FILE = "localbus.json"


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """Endpoint of the server running for `data_dir`, if one is (no secrets in it)."""
    path = Path(data_dir) / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state
