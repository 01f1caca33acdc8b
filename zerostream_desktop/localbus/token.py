"""The localbus bearer token: from the environment, else the OS keyring (no heavy imports: the desktop
process that only starts and checks on localbus loads this, not the server)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping

from zerostream_desktop.core.secrets import LOCALBUS_TOKEN, SecretStore

TOKEN_ENV = "ZEROSTREAM_LOCALBUS_TOKEN"


def token_fingerprint(token: str) -> str:
    """A short hash of the token, for telling whether two programs hold the same one (it does not reveal it)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def ensure_token(store: SecretStore | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """The token from ZEROSTREAM_LOCALBUS_TOKEN, else the keyring, else a new one kept in the keyring."""
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    if store is None:
        from zerostream_desktop.core.secrets import open_secret_store

        store = open_secret_store()
    token = store.get(LOCALBUS_TOKEN)
    if not token:
        token = secrets.token_urlsafe(32)
        store.set(LOCALBUS_TOKEN, token)
    return token
