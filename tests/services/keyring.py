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
