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
