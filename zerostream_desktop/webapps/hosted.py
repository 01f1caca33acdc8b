"""Run one web app as Databricks Apps runs it: configured by the platform's environment, on its port.

The platform provides `DATABRICKS_APP_PORT` (listen on 0.0.0.0 there), `DATABRICKS_HOST`, the app
service principal's `DATABRICKS_CLIENT_ID` / `DATABRICKS_CLIENT_SECRET`, and resource values through
`valueFrom` (the SQL warehouse id, Lakebase's `PG*` variables); the rest are plain settings with the
original variable names. The mobile app streams to ZeroBus as the app's own service principal, so no
ZeroBus secret is ever handed to it. TLS and sign-in happen at the platform's proxy, which forwards
who the user is (`X-Forwarded-Email`); there is no access token. On SIGTERM the app has 15 s: the
fleet stops and the spool drains for up to 10 s.

    python -m zerostream_desktop.webapps.hosted mobile|dashboard [--port N]
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping

from zerostream_desktop.core.paths import PRIVATE_UMASK
from zerostream_desktop.core.settings import Settings, load_settings

log = logging.getLogger(__name__)
APPS = ("mobile", "dashboard")
SHUTDOWN_S = 12  # the platform kills the app 15 s after SIGTERM; the drain takes up to 10 s of this


def hosted_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the environment only: there is no user folder or keyring on the platform."""
    flags: dict[str, object] = {}
    if environ.get("DATABRICKS_CLIENT_ID") and not environ.get("ZEROBUS_CLIENT_ID"):
        flags["zerobus_client_id"] = environ["DATABRICKS_CLIENT_ID"]  # stream as the app's own principal
    return load_settings(flags, environ=environ, search_dirs=[], check_profile=False)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from zerostream_desktop.core.ingest.targets import CLIENT_SECRET_ENV
    from zerostream_desktop.webapps.dashboard import create_dashboard_app
    from zerostream_desktop.webapps.mobile import create_mobile_app

    os.umask(PRIVATE_UMASK)  # the spool and logs: the app's alone
    args = sys.argv[1:] if argv is None else argv
    port = int(os.environ.get("DATABRICKS_APP_PORT", "8000"))
    if len(args) == 3 and args[1] == "--port" and args[2].isdigit():  # app.yaml: "--port", "$DATABRICKS_APP_PORT"
        port, args = int(args[2]), args[:1]
    if len(args) != 1 or args[0] not in APPS:
        print(f"usage: python -m zerostream_desktop.webapps.hosted {'|'.join(APPS)} [--port N]", file=sys.stderr)  # noqa: T201
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("DATABRICKS_CLIENT_SECRET") and not os.environ.get(CLIENT_SECRET_ENV):
        os.environ[CLIENT_SECRET_ENV] = os.environ["DATABRICKS_CLIENT_SECRET"]  # in this process only
    settings = hosted_settings()
    factory = create_mobile_app if args[0] == "mobile" else create_dashboard_app
    app = factory(settings, hosted=True)
    log.info("ZeroStream %s app on 0.0.0.0:%d for %s (%s)", args[0], port, settings.full_table_name, settings.endpoint)
    # uvicorn shuts down gracefully on SIGTERM, then sends it to itself again: exit 0 instead of dying of it
    signal.signal(signal.SIGTERM, lambda *_: log.info("stopped on SIGTERM"))
    # no per-message deflate: it compresses the same second's update once per socket
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_S,  # noqa: S104
                ws_per_message_deflate=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
