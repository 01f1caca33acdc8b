"""Secrets (tokens, client secrets) live in the OS keyring, never in files the app writes.

Where no keyring backend exists (a headless Linux box without a Secret Service), secrets are kept
in memory for the session only and the store says why, so the UI can tell the user.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Protocol, runtime_checkable

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail

log = logging.getLogger(__name__)

SERVICE = "zerostream"
LOCALBUS_TOKEN = "localbus-token"
LOAD_JOB_SECRET_KEY = "zerobus-client-secret"  # in the workspace secret scope the load job reads (setup --load-job)
DATABRICKS_TOKEN = "databricks-token"


def databricks_token_key(host: str) -> str:
    """A personal access token for one workspace host."""
    return f"{DATABRICKS_TOKEN}:{host.rstrip('/')}"


def zerobus_client_secret_key(client_id: str) -> str:
    return f"zerobus-client-secret:{client_id}"


_SECRET_FIELDS = re.compile(
    r'("(?:secret|token|access_token|refresh_token|client_secret|password)"\s*:\s*)"[^"]*"', re.IGNORECASE
)


class RedactSecrets(logging.Filter):
    """Blanks secret values in JSON bodies that a library logs (databricks-sdk logs bodies at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_FIELDS.sub(r'\1"**REDACTED**"', message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_library_logs() -> None:
    """Install RedactSecrets on the loggers of libraries that log request and response bodies."""
    for name in ("databricks.sdk", "databricks"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class SecretStoreError(RuntimeError):
    """The keyring refused an operation; the message says how to fix it."""


@runtime_checkable
class SecretStore(Protocol):
    @property
    def persistent(self) -> bool:
        """True when secrets survive a restart of the app."""
        ...

    @property
    def description(self) -> str: ...

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class MemorySecretStore:
    """Secrets for this process only (tests, and machines without a keyring)."""

    def __init__(self, reason: str = "in-memory store (tests)") -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self._reason = reason

    @property
    def persistent(self) -> bool:
        return False

    @property
    def description(self) -> str:
        return self._reason

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        _check(key, value)
        with self._lock:
            self._values[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


def _backends(backend: keyring.backend.KeyringBackend) -> list[keyring.backend.KeyringBackend]:
    return list(backend.backends) if isinstance(backend, chainer.ChainerBackend) else [backend]


def plaintext_backend(backend: keyring.backend.KeyringBackend) -> str | None:
    """The name of a backend that keeps secrets in a plain file (keyrings.alt's PlaintextKeyring), else None."""
    for b in _backends(backend):
        name = f"{type(b).__module__}.{type(b).__name__}"
        if "plaintext" in type(b).__name__.lower():
            return name
    return None


class KeyringSecretStore:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker) via `keyring`.

    A backend chosen by the user that keeps secrets in a plain file (PYTHON_KEYRING_BACKEND set to
    keyrings.alt's PlaintextKeyring) works, but says so: `plaintext` names it, the description warns,
    and the setup refuses to put a service principal's secret there unless asked to.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None, service: str = SERVICE) -> None:
        self._backend = backend or keyring.get_keyring()
        self._service = service

    @property
    def persistent(self) -> bool:
        return True

    @property
    def plaintext(self) -> str | None:
        return plaintext_backend(self._backend)

    @property
    def description(self) -> str:
        name = f"{type(self._backend).__module__}.{type(self._backend).__name__}"
        if self.plaintext:
            return (f"a plain-text file keyring ({self.plaintext}): secrets stored there can be read by anyone "
                    "who can read your files")  # fmt: skip
        return f"OS keyring ({name})"

    def get(self, key: str) -> str | None:
        try:
            return self._backend.get_password(self._service, key)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(
                f"cannot read {key!r} from the OS keyring: {exc}. Unlock the keyring and retry."
            ) from exc

    def set(self, key: str, value: str) -> None:
        _check(key, value)
        try:
            self._backend.set_password(self._service, key, value)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(
                f"cannot store {key!r} in the OS keyring: {exc}. Unlock the keyring and retry."
            ) from exc

    def delete(self, key: str) -> None:
        try:
            self._backend.delete_password(self._service, key)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"cannot delete {key!r} from the OS keyring: {exc}") from exc


def _check(key: str, value: str) -> None:
    if not key:
        raise ValueError("secret key must not be empty")
    if not isinstance(value, str) or not value:
        raise ValueError(f"secret {key!r} must be a non-empty string")


NO_KEYRING_HELP = (
    "No OS keyring is available, so secrets are kept in memory for this session only and must be "
    "entered again after a restart. On Linux install and start a Secret Service (for example "
    "gnome-keyring or KeePassXC with Secret Service enabled) in your desktop session."
)


def keyring_available(backend: keyring.backend.KeyringBackend | None = None) -> bool:
    kr = backend or keyring.get_keyring()
    if isinstance(kr, fail.Keyring):
        return False
    if isinstance(kr, chainer.ChainerBackend):
        return bool(kr.backends)
    return True


_warned_plaintext = False


def open_secret_store() -> SecretStore:
    """The keyring when there is one, else a session-only store that explains itself."""
    global _warned_plaintext
    if keyring_available():
        store = KeyringSecretStore()
        if store.plaintext and not _warned_plaintext:
            _warned_plaintext = True
            log.warning("the keyring backend %s keeps secrets in a plain file; use an OS keyring (Secret Service, "
                        "Keychain, Credential Locker) to keep them encrypted", store.plaintext)  # fmt: skip
        return store
    log.warning(NO_KEYRING_HELP)
    return MemorySecretStore(reason=NO_KEYRING_HELP)
