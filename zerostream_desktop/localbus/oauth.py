"""OAuth like the service: local service principals, the workspace token endpoint, table-scoped tokens.

The official SDK's examples stream with OAuth client credentials: the SDK posts to
`<workspace URL>/oidc/v1/token` (HTTP Basic with the principal's client id and secret, a form with
grant_type=client_credentials and `authorization_details` naming the table and its privileges) and
sends the access token it gets on the gRPC stream. localbus answers that endpoint on a second
(HTTP, loopback) port, issuing short-lived tokens signed with a key that lives only in the running
server and scoped to the tables asked for; the gRPC endpoint accepts them, and refuses expired,
forged or wrongly scoped ones with the service's status codes.

Principals (`zerostream localbus principal create NAME`) are kept in `<data>/localbus/principals.json`
as a salted PBKDF2 hash of the secret only; the secret itself is shown once and kept in the keyring.
`ZEROSTREAM_LOCALBUS_CLIENT_ID` / `ZEROSTREAM_LOCALBUS_CLIENT_SECRET` define one more for scripts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from zerostream_desktop.core.paths import ensure_private_dir

log = logging.getLogger(__name__)

CLIENT_ID_ENV = "ZEROSTREAM_LOCALBUS_CLIENT_ID"
CLIENT_SECRET_ENV = "ZEROSTREAM_LOCALBUS_CLIENT_SECRET"
TOKEN_PREFIX = "zsl1."
DEFAULT_TTL_S = 3600
_ITERATIONS = 200_000


def principal_secret_key(client_id: str) -> str:
    return f"localbus-principal:{client_id}"


class TokenError(Exception):
    """A token the gRPC endpoint refuses: `code` is the gRPC status name the service would send."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _hash(secret: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, _ITERATIONS).hex()


class Principals:
    """Local service principals of one data folder: names and secret hashes, never the secrets."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str] = os.environ) -> None:
        self.path = Path(data_dir) / "localbus" / "principals.json"
        self.environ = environ
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        ensure_private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def create(self, name: str) -> tuple[str, str]:
        """A new principal: (client id, secret). The secret is not stored, only its hash."""
        client_id, secret = str(uuid.uuid4()), f"dose{secrets.token_hex(32)}"
        salt = secrets.token_bytes(16)
        with self._lock:
            data = self._load()
            data[client_id] = {"name": name, "salt": salt.hex(), "hash": _hash(secret, salt),
                               "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
            self._save(data)
        return client_id, secret

    def delete(self, client_id: str) -> bool:
        with self._lock:
            data = self._load()
            found = data.pop(client_id, None) is not None
            if found:
                self._save(data)
        return found

    def list(self) -> dict[str, dict[str, str]]:
        return {k: {"name": v["name"], "created": v.get("created", "")} for k, v in self._load().items()}

    def check(self, client_id: str, secret: str) -> bool:
        env_id, env_secret = self.environ.get(CLIENT_ID_ENV), self.environ.get(CLIENT_SECRET_ENV)
        if env_id and env_secret and hmac.compare_digest(client_id, env_id):
            return hmac.compare_digest(secret, env_secret)
        entry = self._load().get(client_id)
        if entry is None:
            return False
        return hmac.compare_digest(_hash(secret, bytes.fromhex(entry["salt"])), entry["hash"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenIssuer:
    """Signs and checks table-scoped tokens with a key that exists only in this process."""

    ttl_s: int = DEFAULT_TTL_S
    key: bytes = b""

    def __post_init__(self) -> None:
        self.key = self.key or secrets.token_bytes(32)

    def issue(self, client_id: str, tables: list[str]) -> str:
        payload = _b64(json.dumps({"sub": client_id, "tables": tables, "exp": int(time.time()) + self.ttl_s}).encode())
        signature = _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())
        return f"{TOKEN_PREFIX}{payload}.{signature}"

    def check(self, token: str, table: str | None = None) -> dict[str, Any]:
        """The claims of a valid token (sub, tables, exp); TokenError otherwise."""
        try:
            payload, signature = token.removeprefix(TOKEN_PREFIX).split(".")
        except ValueError:
            raise TokenError("UNAUTHENTICATED", "the access token is malformed") from None
        expected = _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            raise TokenError("UNAUTHENTICATED", "the access token is invalid (not issued by this endpoint)")
        claims = json.loads(_unb64(payload))
        if claims["exp"] < time.time():
            raise TokenError("UNAUTHENTICATED", "the access token has expired; ask the token endpoint for a new one")
        if table is not None and table not in claims["tables"]:
            raise TokenError("PERMISSION_DENIED",
                             f"the access token does not grant access to table {table}")  # fmt: skip
        return dict(claims)


def requested_tables(authorization_details: str) -> list[str]:
    """The tables the SDK asks to write to (TABLE entries of `authorization_details`)."""
    try:
        details = json.loads(authorization_details)
    except ValueError:
        return []
    return [d["object_full_path"] for d in details if isinstance(d, dict) and d.get("object_type") == "TABLE"]


class OAuthServer:
    """`POST /oidc/v1/token` and the discovery document, on loopback HTTP, in a thread."""

    def __init__(self, principals: Principals, issuer: TokenIssuer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.principals, self.issuer = principals, issuer
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.split("?")[0] != "/oidc/.well-known/oauth-authorization-server":
                    return self._reply(404, {"error": "not_found"})
                base = server.url
                self._reply(200, {"issuer": f"{base}/oidc", "authorization_endpoint": f"{base}/oidc/v1/authorize",
                                  "token_endpoint": f"{base}/oidc/v1/token"})  # fmt: skip

            def do_POST(self) -> None:  # noqa: N802
                if self.path.split("?")[0] != "/oidc/v1/token":
                    return self._reply(404, {"error": "not_found"})
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
                self._reply(*server.token(self.headers.get("Authorization", ""), body))

            def _reply(self, status: int, obj: dict[str, Any]) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, name="localbus-oauth", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def token(self, authorization: str, body: str) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        if authorization.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError:
                return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "only client_credentials"}
        if not self.principals.check(client_id, secret):
            log.warning("token refused for client %s: wrong client id or secret", client_id)
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        tables = requested_tables(form.get("authorization_details", ""))
        if not tables:
            return 400, {"error": "invalid_request", "error_description": "authorization_details names no table"}
        log.info("token for %s on %s", client_id, ", ".join(tables))
        return 200, {"access_token": self.issuer.issue(client_id, tables), "token_type": "Bearer",
                     "expires_in": self.issuer.ttl_s, "scope": form.get("scope", "all-apis")}  # fmt: skip
