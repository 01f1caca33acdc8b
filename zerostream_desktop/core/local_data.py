"""File > Clear Local Data: the local tables and the spool deleted at the next start, when nothing holds them.

The app cannot delete them while it runs (localbus has the tables open, the stream its spool), so the
request is a marker file in the data folder; the next start deletes `tables/` and `spool/` before it
starts anything, then removes the marker. Settings, the keyring, logs and local principals stay.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)
MARKER = "clear-local-data-on-start"
CLEARED = ("tables", "spool")


def request_clear(data_dir: Path) -> Path:
    marker = Path(data_dir) / MARKER
    marker.write_text("the next start deletes tables/ and spool/ in this folder\n", encoding="utf-8")
    return marker


def clear_requested(data_dir: Path) -> bool:
    return (Path(data_dir) / MARKER).exists()


def clear_now(data_dir: Path) -> list[str]:
    """Delete what the request names (the caller made sure nothing holds it); returns what went."""
    gone = []
    for name in CLEARED:
        folder = Path(data_dir) / name
        if folder.exists():
            shutil.rmtree(folder)
            gone.append(str(folder))
    (Path(data_dir) / MARKER).unlink(missing_ok=True)
    log.warning("cleared the local data as asked: %s", ", ".join(gone) or "nothing was there")
    return gone
