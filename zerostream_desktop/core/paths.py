"""Where things live: user data and config folders, and bundled resources."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "zerostream"


def zerostream_command() -> list[str]:
    """How to run `zerostream` again as a child process: from a checkout, a venv or a PyInstaller bundle."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "zerostream_desktop"]


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def local_table_path(data_dir: Path, full_name: str) -> Path:
    """Where localbus keeps the Delta table `catalog.schema.table` of a data folder."""
    from zerostream_desktop.core.schema import split_table_name

    catalog, schema_name, table = split_table_name(full_name)
    return Path(data_dir) / "tables" / catalog / schema_name / table


PRIVATE_UMASK = 0o077  # what ZeroStream creates is its user's alone (spool, logs, state, keys, tables)


def ensure_private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (0700): made so, or tightened (and said so) if it was not."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o700)
        logging.getLogger(__name__).warning(
            "%s was open to other users (mode %o); made it private (0700)", path, mode
        )
    return path


def resource_path(*parts: str) -> Path:
    """A file under `resources/`, from a source checkout, an installed wheel or a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = []
    if bundle:
        candidates.append(Path(bundle) / "resources")
    here = Path(__file__).resolve()
    candidates.append(here.parents[2] / "resources")  # source checkout / editable install
    candidates.append(here.parents[1] / "resources")  # packaged as zerostream_desktop/resources
    for base in candidates:
        path = base.joinpath(*parts)
        if path.exists():
            return path
    raise FileNotFoundError(f"resource {'/'.join(parts)} not found under {[str(c) for c in candidates]}")


def readme_path() -> Path | None:
    """The README (the user guide), from a source checkout or a PyInstaller bundle; None if not shipped."""
    bundle = getattr(sys, "_MEIPASS", None)
    here = Path(__file__).resolve()
    for candidate in ([Path(bundle) / "README.md"] if bundle else []) + [here.parents[2] / "README.md"]:
        if candidate.is_file():
            return candidate
    return None


def readme_section(heading: str) -> str | None:
    """The README's `## ` section whose title starts with `heading`, as Markdown; None when not found."""
    path = readme_path()
    if path is None:
        return None
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            if out:
                break
            if line[3:].startswith(heading):
                out.append(line)
            continue
        if out:
            out.append(line)
    return "\n".join(out) if out else None
