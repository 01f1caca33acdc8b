"""The web apps' REST and WebSocket APIs: the simulator streams through localbus, the dashboard reads the table."""

from __future__ import annotations

import datetime as dt

import pytest
from deltalake import DeltaTable

from tests.webapps.conftest import wait_for
from zerostream_desktop import __version__
from zerostream_desktop.core.analytics import Window
from zerostream_desktop.core.analytics.local_delta import LocalDeltaAnalytics
from zerostream_desktop.core.paths import local_table_path

pytestmark = pytest.mark.integration


def test_configure_start_stream_and_the_dashboard_agrees_with_the_query_suite(mobile, dashboard, web_settings):
    for client, title in ((mobile, "ZeroStream mobile simulator"), (dashboard, "ZeroStream dashboard")):
        assert client.get("/healthz").json() == {"status": "ok", "app": title, "version": __version__}
    assert mobile.post("/api/devices", json={"count": 12}).json()["devices"] == 12
    started = mobile.post("/api/start", headers={"X-Forwarded-Email": "ann@example.com"})
    assert started.status_code == 200, started.text
    state = started.json()
    assert state["running"] and state["last_action"]["by"] == "ann@example.com"
    wait_for(lambda: mobile.get("/api/state").json()["acknowledged"] > 100, 60)

    with mobile.websocket_connect("/ws") as ws:
        ws.send_json({"device": 3})
        message = wait_for(lambda: (m := ws.receive_json()).get("device") and m, 10)
        assert message["device"]["index"] == 3 and message["state"]["running"]
        assert -90 <= message["device"]["latitude"] <= 90 and message["device"]["name"]

    stopped = mobile.post("/api/stop").json()
    assert not stopped["running"] and stopped["last_action"]["what"] == "stopped"
    done = wait_for(lambda: (s := mobile.get("/api/state").json())["spool_depth"] == 0
                    and s["in_flight"] == 0 and s["acknowledged"] >= s["generated"] and s, 60)  # fmt: skip
    generated = done["generated"]

    kpis = wait_for(lambda: (r := dashboard.get("/api/kpis")).status_code == 200
                    and r.json()["total_events"] == generated and r.json(), 30)  # fmt: skip
    table = local_table_path(web_settings.data_dir, web_settings.full_table_name)
    suite = LocalDeltaAnalytics(table).kpis(Window(dt.datetime.now(dt.UTC), 15, 300))
    assert kpis["total_events"] == suite.total_events == generated
    assert kpis["unique_clients"] == suite.unique_clients == 12
    assert kpis["bytes_ingested"] == suite.bytes_ingested
    clients = dashboard.get("/api/clients").json()["clients"]
    assert len(clients) == 12 and sum(c["events"] for c in clients) == generated

    with dashboard.websocket_connect("/ws") as ws:
        pushed = ws.receive_json()  # the latest update at once, then one a second
        assert pushed["kind"] == "data" and pushed["kpis"]["total_events"] == generated
        assert len(pushed["clients"]["id"]) == 12 and None not in pushed["clients"]["lat"]

    cid = clients[0]["id"]
    track = dashboard.get(f"/api/clients/{cid}/track").json()
    ids = DeltaTable(str(table)).to_pyarrow_table(columns=["connection_id", "event_id"]).to_pylist()
    assert track["total"] == len({r["event_id"] for r in ids if r["connection_id"] == cid}) == clients[0]["events"]
    assert len(track["points"]) == track["total"]  # under 5,000: not downsampled
    page = dashboard.get("/api/events", params={"client": cid, "limit": 7}).json()
    assert len(page["events"]) == 7 and {e["connection_id"] for e in page["events"]} == {cid}
    times = [e["event_timestamp"] for e in page["events"]]
    assert times == sorted(times, reverse=True)  # newest first
    older = dashboard.get("/api/events", params={"client": cid, "limit": 7, "offset": 7}).json()["events"]
    assert older[0]["event_timestamp"] <= times[-1]


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(mobile, dashboard):
    before = mobile.get("/api/state").json()
    for body in ({"count": 0}, {"count": 10_001}, {"count": "many"}, {}):
        r = mobile.post("/api/devices", json=body)
        assert r.status_code == 422 and "count" in r.json()["detail"], r.text
    r = mobile.post("/api/devices", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"] == "the body is not valid JSON"
    assert mobile.get("/api/state").json()["devices"] == before["devices"]
    r = mobile.get("/api/devices/99")
    assert r.status_code == 404 and "the fleet has 5 devices" in r.json()["detail"]

    with mobile.websocket_connect("/ws") as ws:
        ws.send_text("not json at all")
        ws.send_json(["a", "list"])
        assert "state" in ws.receive_json()  # the socket lives on
        assert "state" in ws.receive_json()

    mobile.post("/api/start")
    wait_for(lambda: (r := dashboard.get("/api/kpis")).status_code == 200 and r.json()["total_events"] > 0, 60)
    mobile.post("/api/stop")
    evil = "x' OR '1'='1"
    r = dashboard.get(f"/api/clients/{evil}/track")
    assert r.status_code == 404 and "no client" in r.json()["detail"]
    r = dashboard.get("/api/events", params={"client": evil})
    assert r.status_code == 200 and r.json()["events"] == []  # an id made of SQL is just an id
    assert dashboard.get("/api/clients/nobody").status_code == 404
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        r = dashboard.get("/api/events", params=params)
        assert r.status_code == 422 and r.json()["detail"].split(":")[0] in params, r.text
    assert dashboard.get("/api/kpis").json()["total_events"] > 0  # the table is intact


def test_the_access_token_guards_pages_api_and_sockets(web_settings):
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from zerostream_desktop.webapps.dashboard import create_dashboard_app

    with TestClient(create_dashboard_app(web_settings, access_token="s3cret"), follow_redirects=False) as client:
        assert client.get("/api/kpis").status_code == 401
        page = client.get("/")
        assert page.status_code == 401 and "access link" in page.text
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
            pass
        assert refused.value.code == 4401
        assert client.get("/api/kpis", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = client.get("/?token=s3cret&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/?x=1"  # the token leaves the address bar
        assert "httponly" in r.headers["set-cookie"].lower()
        assert client.get("/").status_code == 200  # the cookie now
        assert "Signed in as" in client.get("/").text
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["kind"] in ("opened", "data", "waiting", "error")


def test_device_faults_from_the_simulator_show_in_the_dashboards_data_quality(mobile, dashboard, web_settings):
    bad = mobile.post("/api/faults", json={"spec": "wobble=0.1"})
    assert bad.status_code == 422 and "unknown kind 'wobble'" in bad.text
    assert mobile.post("/api/faults", json={"spec": "x" * 501}).status_code == 422
    state = mobile.post("/api/faults", json={"spec": "dup=0.1,jump=0.05"}, headers={"X-Forwarded-Email": "bo@x.org"})
    assert state.status_code == 200, state.text
    assert state.json()["faults"]["spec"] == "jump=0.05,dup=0.1"
    assert state.json()["last_action"]["what"] == "set device faults to jump=0.05,dup=0.1"
    mobile.post("/api/devices", json={"count": 8})
    mobile.post("/api/start")
    wait_for(lambda: mobile.get("/api/state").json()["acknowledged"] > 400, 60)
    mobile.post("/api/stop")
    done = wait_for(lambda: (s := mobile.get("/api/state").json())["spool_depth"] == 0
                    and s["in_flight"] == 0 and s["acknowledged"] >= s["generated"] and s, 60)  # fmt: skip
    injected = done["faults"]["injected"]
    assert injected.get("dup", 0) > 0 and injected.get("jump", 0) > 0
    [log_file] = (web_settings.data_dir / "faults").glob("web-*.jsonl")
    assert sum(1 for _ in log_file.open()) == sum(injected.values())

    table = local_table_path(web_settings.data_dir, web_settings.full_table_name)
    suite = LocalDeltaAnalytics(table).quality()
    q = wait_for(lambda: (r := dashboard.get("/api/quality")).status_code == 200 and r.json(), 30)
    assert (q["duplicates"], q["jumps"], q["events"]) == (suite.duplicates, suite.jumps, suite.events)
    assert q["duplicates"] >= injected["dup"] and q["jumps"] > 0
    assert len(q["delay_buckets"]) == 6 and sum(q["delay_buckets"]) == q["events"]
    marked = 0
    for device in q["devices"]:
        marks = dashboard.get(f"/api/clients/{device['id']}/quality").json()
        assert marks["id"] == device["id"]
        marked += sum("jump" in m[3] for m in marks["marks"])
    assert marked == q["jumps"]
    assert dashboard.get("/api/clients/%01bad/quality").status_code == 422
