"""The workspace OAuth token endpoint (`POST /oidc/v1/token`, client credentials) as the ZeroBus SDK uses it.

The SDK sends HTTP Basic auth with the service principal's client id and secret and a form body
with grant_type=client_credentials, scope=all-apis, the ZeroBus resource of the workspace and
authorization_details naming the table privileges; `{"access_token", "token_type", "expires_in"}`
answers it. A wrong secret gets 401 with an OAuth error body, as the workspace answers.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class TokenRequest:
    client_id: str
    form: dict[str, str]


@dataclass
class OidcTokenEmulator:
    client_id: str
    client_secret: str
    access_token: str
    expires_in: int = 3600
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                auth = self.headers.get("Authorization", "")
                client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
                emulator.requests.append(TokenRequest(client_id, form))
                if self.path != "/oidc/v1/token":
                    return self._reply(404, {"error": "not_found"})
                if (client_id, secret) != (emulator.client_id, emulator.client_secret):
                    return self._reply(
                        401, {"error": "invalid_client", "error_description": "Client authentication failed"}
                    )
                if form.get("grant_type") != "client_credentials":
                    return self._reply(400, {"error": "unsupported_grant_type"})
                self._reply(200, {"access_token": emulator.access_token, "token_type": "Bearer",
                                  "expires_in": emulator.expires_in, "scope": form.get("scope", "")})  # fmt: skip

            def _reply(self, status: int, obj: dict[str, object]) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
