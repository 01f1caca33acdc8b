"""One archive a user can attach to a bug report: versions, platform, the self-test, settings, recent logs.

Nothing secret goes in: settings are the non-secret values with their sources (secrets live in the
keyring and are never read here), and log lines have token-like values blanked (bearer tokens,
`dapi…` tokens, `"secret": …` fields, `token=` query parameters, the local endpoint's token).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from zerostream_desktop import __version__
from zerostream_desktop.core.paths import zerostream_command
from zerostream_desktop.core.settings import Settings, Sourced

PACKAGES = (
    "PySide6-Essentials", "databricks-zerobus-ingest-sdk", "databricks-sdk", "databricks-sql-connector",
    "deltalake", "duckdb", "pyarrow", "grpcio", "protobuf", "psycopg", "keyring", "fastapi", "uvicorn",
)  # fmt: skip
LOG_TAIL_BYTES = 2_000_000
_REDACTIONS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1**REDACTED**"),
    (re.compile(r"\bdapi[0-9a-f]{16,}\b"), "dapi**REDACTED**"),
    (re.compile(r'(?i)("(?:secret|token|access_token|refresh_token|client_secret|password)"\s*:\s*)"[^"]*"'),
     r'\1"**REDACTED**"'),
    (re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s\"']+"), r"\1**REDACTED**"),
)  # fmt: skip


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    for secret in secrets:
        if len(secret) >= 8:
            text = text.replace(secret, "**REDACTED**")
    return text


def versions() -> dict[str, str]:
    out = {"zerostream": __version__, "python": platform.python_version(), "platform": platform.platform(),
           "frozen": str(bool(getattr(sys, "frozen", False)))}  # fmt: skip
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def self_test_report(timeout: float = 120.0) -> str:
    """The self-test's own lines, run as a separate process (it starts a private localbus)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RUST_LOG": "error"}
    try:
        done = subprocess.run([*zerostream_command(), "self-test"], capture_output=True, text=True, env=env,
                              timeout=timeout)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the self-test did not finish: {exc}"
    return f"exit code {done.returncode}\n{done.stdout}"


def write_diagnostics(
    path: Path, settings: Settings, sources: dict[str, Sourced], self_test: str | None = None,
    known_secrets: tuple[str, ...] = (),
) -> Path:  # fmt: skip
    """Write the archive; `known_secrets` (e.g. the local endpoint's token) are blanked wherever they appear."""
    rows = {}
    for name, field in type(settings).model_fields.items():
        alias = field.alias or name
        value = getattr(settings, name)
        rows[alias] = {"value": None if value is None else str(value),
                       "source": sources[alias].source if alias in sources else "default"}  # fmt: skip
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("versions.json", json.dumps(versions(), indent=2))
        archive.writestr("settings.json", redact(json.dumps(rows, indent=2), known_secrets))
        archive.writestr("self-test.txt", self_test if self_test is not None else self_test_report())
        logs = Path(settings.data_dir) / "logs"
        for log_file in sorted(logs.glob("*.log*")) if logs.is_dir() else []:
            data = log_file.read_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
            archive.writestr(f"logs/{log_file.name}", redact(data, known_secrets))
    return path
