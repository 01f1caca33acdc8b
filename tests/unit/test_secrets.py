"""Secrets go to the keyring; without one they stay in memory and the store says so."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backends import fail

from zerostream_desktop.core import secrets


def test_keyring_store_round_trip(memory_keyring):
    store = secrets.open_secret_store()
    assert isinstance(store, secrets.KeyringSecretStore) and store.persistent
    store.set(secrets.LOCALBUS_TOKEN, "t0k3n")
    assert memory_keyring.passwords[("zerostream", "localbus-token")] == "t0k3n"
    assert store.get(secrets.LOCALBUS_TOKEN) == "t0k3n"
    store.delete(secrets.LOCALBUS_TOKEN)
    store.delete(secrets.LOCALBUS_TOKEN)  # deleting twice is fine
    assert store.get(secrets.LOCALBUS_TOKEN) is None


def test_without_a_keyring_secrets_stay_in_memory_and_the_user_is_told(caplog, isolated_environment: Path):
    keyring.set_keyring(fail.Keyring())
    store = secrets.open_secret_store()
    assert not store.persistent
    assert "session only" in store.description and "Secret Service" in store.description
    assert "session only" in caplog.text
    store.set(secrets.DATABRICKS_TOKEN, "dapi-secret-value")
    assert store.get(secrets.DATABRICKS_TOKEN) == "dapi-secret-value"
    # nothing was written anywhere on disk
    home = Path.home()
    for path in [*home.rglob("*"), *isolated_environment.rglob("*")]:
        if path.is_file():
            assert b"dapi-secret-value" not in path.read_bytes()


def test_a_locked_keyring_is_a_clear_error():
    class Locked(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service, username):
            raise keyring.errors.KeyringLocked("collection is locked")

        def set_password(self, service, username, password):
            raise keyring.errors.KeyringLocked("collection is locked")

        def delete_password(self, service, username):
            raise keyring.errors.KeyringLocked("collection is locked")

    store = secrets.KeyringSecretStore(Locked())
    with pytest.raises(secrets.SecretStoreError, match="Unlock the keyring"):
        store.get("x")
    with pytest.raises(secrets.SecretStoreError, match="Unlock the keyring"):
        store.set("x", "y")


def test_empty_secrets_are_refused():
    with pytest.raises(ValueError):
        secrets.MemorySecretStore().set("k", "")
