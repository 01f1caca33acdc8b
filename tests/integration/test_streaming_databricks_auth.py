"""The Databricks path (OAuth client credentials of the ZeroBus service principal), end to end.

Only the endpoint and the credentials differ from localbus, so localbus stands in for the ZeroBus
service and an emulator of the workspace token endpoint answers the SDK's OAuth requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.emulators.oidc_token import OidcTokenEmulator
from tests.integration.localbus_helpers import TABLE, TOKEN, LocalBusProcess, free_port
from zerostream_desktop.core.fleet import Fleet
from zerostream_desktop.core.ingest.spool import Spool
from zerostream_desktop.core.ingest.streamer import Streamer, StreamState, Target

pytestmark = pytest.mark.integration


def stream(target: Target, spool: Spool, seconds: float) -> tuple[Streamer, list[str]]:
    async def run() -> tuple[Streamer, list[str]]:
        streamer = Streamer(target, spool)
        runner = asyncio.create_task(streamer.run())
        fleet = Fleet(8, 50, interval_ms=250)
        fleet.start(0.0)
        ids: list[str] = []
        for k in range(1, int(seconds / 0.1) + 1):
            batch = fleet.advance(k * 0.1)
            ids += batch.event_ids()
            streamer.submit(batch)
            streamer.notify()
            await asyncio.sleep(0.1)
            if streamer.stats.state is StreamState.PAUSED:
                break
        await streamer.stop(20)
        await runner
        return streamer, ids

    return asyncio.run(run())


@pytest.fixture
def oidc():
    emulator = OidcTokenEmulator("zerobus-sp-app-id", "s3cret", access_token=TOKEN, expires_in=3600)
    yield emulator
    emulator.close()


def test_oauth_client_credentials_stream_lands_everything(tmp_path: Path, oidc: OidcTokenEmulator):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        target = Target("databricks", bus.endpoint, TABLE, oidc.url, client_id=oidc.client_id, client_secret="s3cret")
        streamer, ids = stream(target, Spool(tmp_path / "spool" / "db.sqlite"), 2.0)
        assert sorted(bus.event_ids()) == sorted(ids)
        first = oidc.requests[0]
        assert first.client_id == "zerobus-sp-app-id"
        assert first.form["grant_type"] == "client_credentials" and first.form["scope"] == "all-apis"
        assert first.form["resource"].endswith("/zerobusDirectWriteApi")
        assert TABLE.split(".")[0] in first.form["authorization_details"]
    finally:
        bus.terminate()


def test_new_streams_mint_fresh_tokens(tmp_path: Path, oidc: OidcTokenEmulator):
    """The service closes streams periodically so clients refresh tokens; each new stream asks anew."""
    oidc.expires_in = 1
    bus = LocalBusProcess(tmp_path, free_port()).start("--stream-lifetime", "1")
    try:
        target = Target("databricks", bus.endpoint, TABLE, oidc.url, client_id=oidc.client_id, client_secret="s3cret")
        streamer, ids = stream(target, Spool(tmp_path / "spool" / "db.sqlite"), 4.0)
        assert set(bus.event_ids()) == set(ids)
        assert len([r for r in oidc.requests if r.form.get("grant_type") == "client_credentials"]) >= 2
    finally:
        bus.terminate()


def test_a_wrong_client_secret_pauses_with_the_reason_and_keeps_records(tmp_path: Path, oidc: OidcTokenEmulator):
    bus = LocalBusProcess(tmp_path, free_port()).start()
    try:
        target = Target("databricks", bus.endpoint, TABLE, oidc.url, client_id=oidc.client_id, client_secret="nope")
        spool = Spool(tmp_path / "spool" / "db.sqlite")
        streamer, ids = stream(target, spool, 3.0)
        assert streamer.stats.state is StreamState.PAUSED
        assert "401" in streamer.stats.last_error or "invalid_client" in streamer.stats.last_error
        assert spool.depth == len(ids) > 0 and bus.event_ids() == []
    finally:
        bus.terminate()
