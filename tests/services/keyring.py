"""A keyring backend that keeps secrets in memory: tests never touch the real keyring, and the
wizard screenshot script keeps its demo secret the way a keyring would."""

from __future__ import annotations

import keyring.backend


class InMemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that forgets everything: tests never touch the real keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


class PlaintextKeyring(keyring.backend.KeyringBackend):
    """Keeps secrets in a plain INI file, as keyrings.alt's PlaintextKeyring does (which this project does not
    install: with no OS keyring, keyring would pick it on its own)."""

    priority = 0.5  # type: ignore[assignment]

    def __init__(self, path: str) -> None:
        super().__init__()
        import configparser

        self.path = path
        self._config = configparser.ConfigParser(interpolation=None)
        self._config.read(path)

    def _save(self) -> None:
        with open(self.path, "w", encoding="utf-8") as out:
            self._config.write(out)

    def get_password(self, service: str, username: str) -> str | None:
        return self._config.get(service, username, fallback=None)

    def set_password(self, service: str, username: str, password: str) -> None:
        if not self._config.has_section(service):
            self._config.add_section(service)
        self._config.set(service, username, password)
        self._save()

    def delete_password(self, service: str, username: str) -> None:
        if self._config.has_section(service):
            self._config.remove_option(service, username)
            self._save()


class SweepKeyring(keyring.backend.KeyringBackend):
    """The OS keyring as another process sees it, for the secrets sweep: `PYTHON_KEYRING_BACKEND` names
    this class and `ZEROSTREAM_TEST_KEYRING` the JSON file the test seeded (the file is the keyring's own
    storage, like the OS keyring's database: the sweep looks everywhere else)."""

    priority = 1  # type: ignore[assignment]

    def _load(self) -> dict[str, str]:
        import json
        import os

        with open(os.environ["ZEROSTREAM_TEST_KEYRING"], encoding="utf-8") as f:
            return dict(json.load(f))

    def _save(self, data: dict[str, str]) -> None:
        import json
        import os

        with open(os.environ["ZEROSTREAM_TEST_KEYRING"], "w", encoding="utf-8") as f:
            json.dump(data, f)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._save({**self._load(), f"{service}/{username}": password})

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}/{username}", None)
        self._save(data)
