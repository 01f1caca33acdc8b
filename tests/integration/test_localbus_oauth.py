"""Existing ZeroBus code pointed at localbus: the official SDK's examples, OAuth client credentials and all.

The SDK's example programs are not installed with the package, so the test writes out the same calls
(sync JSON, sync proto, async proto; an AirQuality table of one's own) and runs each as its own
program with nothing but the variables the examples read: ZEROBUS_SERVER_ENDPOINT,
DATABRICKS_WORKSPACE_URL, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET, ZEROBUS_TABLE_NAME.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.integration.localbus_helpers import TABLE, LocalBusProcess, free_port, headers_provider
from tests.integration.test_localbus_any_table import AIR, COLUMNS, rows, zerostream
from zerostream_desktop.localbus.state import read_state

pytestmark = pytest.mark.integration

RECORD = """
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_fdp = descriptor_pb2.FileDescriptorProto(name="record.proto", syntax="proto2")
_msg = _fdp.message_type.add(name="AirQuality")
for _n, (_name, _kind) in enumerate((("device_name", "STRING"), ("temp", "INT32"), ("humidity", "INT64")), 1):
    _msg.field.add(name=_name, number=_n, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                   type=getattr(descriptor_pb2.FieldDescriptorProto, "TYPE_" + _kind))
_pool = descriptor_pool.DescriptorPool()
_pool.Add(_fdp)
AirQuality = message_factory.GetMessageClass(_pool.FindMessageTypeByName("AirQuality"))
"""
COMMON = """
import asyncio, json, os
SERVER_ENDPOINT = os.environ["ZEROBUS_SERVER_ENDPOINT"]
UNITY_CATALOG_ENDPOINT = os.environ["DATABRICKS_WORKSPACE_URL"]
TABLE_NAME = os.environ["ZEROBUS_TABLE_NAME"]
CLIENT_ID = os.environ["DATABRICKS_CLIENT_ID"]
CLIENT_SECRET = os.environ["DATABRICKS_CLIENT_SECRET"]
def record(i, tag):
    return {"device_name": f"{tag}-{i % 10}", "temp": 20 + i % 15, "humidity": 50 + i % 40}
"""
EXAMPLES = {
    "sync_example_json.py": """
from zerobus.sdk.shared import RecordType, StreamConfigurationOptions, TableProperties
from zerobus.sdk.sync import ZerobusSdk
sdk = ZerobusSdk(SERVER_ENDPOINT, UNITY_CATALOG_ENDPOINT)
options = StreamConfigurationOptions(record_type=RecordType.JSON, max_inflight_records=1000, recovery=True)
stream = sdk.create_stream(CLIENT_ID, CLIENT_SECRET, TableProperties(TABLE_NAME), options)
for i in range(10):
    stream.ingest_record_offset(record(i, "json"))
stream.ingest_records_offset([json.dumps(record(i, "json")) for i in range(10, 30)])
stream.ingest_records_nowait([record(i, "json") for i in range(30, 40)])
stream.flush()
stream.close()
print("ingested 40")
""",
    "sync_example_proto.py": """
from record_pb2 import AirQuality
from zerobus.sdk.shared import StreamConfigurationOptions, TableProperties
from zerobus.sdk.sync import ZerobusSdk
sdk = ZerobusSdk(SERVER_ENDPOINT, UNITY_CATALOG_ENDPOINT)
stream = sdk.create_stream(CLIENT_ID, CLIENT_SECRET, TableProperties(TABLE_NAME, AirQuality.DESCRIPTOR),
                           StreamConfigurationOptions())
for i in range(25):
    stream.ingest_record_offset(AirQuality(**record(i, "proto")))
stream.flush()
stream.close()
print("ingested 25")
""",
    "async_example_proto.py": """
from record_pb2 import AirQuality
from zerobus.sdk.aio import ZerobusSdk
from zerobus.sdk.shared import StreamConfigurationOptions, TableProperties
async def main():
    sdk = ZerobusSdk(SERVER_ENDPOINT, UNITY_CATALOG_ENDPOINT)
    stream = await sdk.create_stream(CLIENT_ID, CLIENT_SECRET, TableProperties(TABLE_NAME, AirQuality.DESCRIPTOR),
                                     StreamConfigurationOptions())
    last = await stream.ingest_records_offset([AirQuality(**record(i, "async")) for i in range(15)])
    await stream.wait_for_offset(last)
    await stream.close()
    # The SDK's aio client segfaults (rc -11) about half the time when the interpreter tears down
    # while its closed stream's tasks are still winding down; letting them finish avoids it.
    del stream, sdk
    await asyncio.sleep(0.5)
asyncio.run(main())
print("ingested 15")
""",
}


@pytest.fixture
def served(tmp_path):
    assert zerostream(tmp_path, "localbus", "create-table", AIR, "--columns", COLUMNS).returncode == 0
    made = zerostream(tmp_path, "localbus", "principal", "create", "examples")
    assert made.returncode == 0, made.stderr
    creds = dict(line.strip().split("=", 1) for line in made.stdout.splitlines() if line.strip().startswith("DATA"))
    bus = LocalBusProcess(tmp_path, free_port()).start("--token-ttl", "3")
    try:
        yield bus, creds, read_state(tmp_path)["workspace_url"]
    finally:
        bus.terminate()


def run_example(folder: Path, name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (folder / "record_pb2.py").write_text(RECORD)
    (folder / name).write_text(textwrap.dedent(COMMON) + EXAMPLES[name])
    clean = {"PATH": os.environ["PATH"], "RUST_LOG": "error", **env}  # only what the examples read
    return subprocess.run([sys.executable, name], cwd=folder, env=clean, capture_output=True, text=True, timeout=120)


def test_the_sdk_examples_stream_with_oauth_client_credentials(served, tmp_path):
    bus, creds, workspace_url = served
    env = {"ZEROBUS_SERVER_ENDPOINT": bus.endpoint, "DATABRICKS_WORKSPACE_URL": workspace_url,
           "ZEROBUS_TABLE_NAME": AIR, **creds}  # fmt: skip
    for name, n in (("sync_example_json.py", 40), ("sync_example_proto.py", 25), ("async_example_proto.py", 15)):
        done = run_example(tmp_path, name, env)
        assert done.returncode == 0 and f"ingested {n}" in done.stdout, (name, done.stderr[-2000:])
    landed = rows(bus.data_dir)
    assert len(landed) == 80
    assert sum(r["device_name"].startswith("json-") for r in landed) == 40
    assert {r["device_name"].split("-")[0] for r in landed} == {"json", "proto", "async"}

    wrong = run_example(tmp_path, "sync_example_proto.py", {**env, "DATABRICKS_CLIENT_SECRET": "dose-wrong"})
    assert wrong.returncode != 0 and ("invalid_client" in wrong.stderr or "401" in wrong.stderr)
    assert len(rows(bus.data_dir)) == 80


def token_for(workspace_url: str, creds: dict[str, str], table: str) -> str:
    details = json.dumps([{"type": "unity_catalog_privileges", "object_type": "TABLE", "object_full_path": table,
                           "privileges": ["SELECT", "MODIFY"]}])  # fmt: skip
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "all-apis",
                                   "authorization_details": details}).encode()  # fmt: skip
    basic = base64.b64encode(f"{creds['DATABRICKS_CLIENT_ID']}:{creds['DATABRICKS_CLIENT_SECRET']}".encode()).decode()
    request = urllib.request.Request(f"{workspace_url}/oidc/v1/token", data=body,
                                     headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 (loopback)
        return json.loads(r.read())["access_token"]


def open_stream(bus: LocalBusProcess, table: str, token: str) -> None:
    from zerobus.sdk.shared import RecordType, StreamConfigurationOptions, TableProperties
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    options = StreamConfigurationOptions(record_type=RecordType.JSON, recovery=False)
    stream = sdk.create_stream(table_properties=TableProperties(table), options=options,
                               headers_provider=headers_provider(token))  # fmt: skip
    stream.ingest_record_offset({"device_name": "x"} if table == AIR else {})
    stream.flush()
    stream.close()


def test_forged_expired_and_other_table_tokens_are_refused(served):
    bus, creds, workspace_url = served
    token = token_for(workspace_url, creds, AIR)
    open_stream(bus, AIR, token)  # the right table: accepted
    with pytest.raises(Exception, match="does not grant access to table"):
        open_stream(bus, TABLE, token)  # scoped to AIR, used on the sensor table
    head, payload, _ = token.split(".")
    forged = f"{head}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).decode().rstrip('=')}"
    with pytest.raises(Exception, match="not issued by this endpoint"):
        open_stream(bus, AIR, forged)
    time.sleep(3.5)  # the server was started with --token-ttl 3
    with pytest.raises(Exception, match="expired"):
        open_stream(bus, AIR, token)
    with pytest.raises(urllib.error.HTTPError) as refused:
        token_for(workspace_url, {**creds, "DATABRICKS_CLIENT_SECRET": "dose-guess"}, AIR)
    assert refused.value.code == 401
    assert len(rows(bus.data_dir)) == 1


def test_principals_keep_only_a_hash_and_scripts_can_define_one_in_the_environment(served, tmp_path):
    bus, creds, workspace_url = served
    on_disk = (tmp_path / "localbus" / "principals.json").read_text()
    assert creds["DATABRICKS_CLIENT_ID"] in on_disk and creds["DATABRICKS_CLIENT_SECRET"] not in on_disk
    listed = zerostream(tmp_path, "localbus", "principal", "list")
    assert "examples" in listed.stdout and creds["DATABRICKS_CLIENT_ID"] in listed.stdout
    assert token_for(workspace_url, creds, AIR).startswith("zsl1.")
    bus2 = LocalBusProcess(tmp_path / "other", free_port())
    os.environ["ZEROSTREAM_LOCALBUS_CLIENT_ID"], os.environ["ZEROSTREAM_LOCALBUS_CLIENT_SECRET"] = "ci-bot", "s3cret"
    try:
        bus2.start()
        url = read_state(tmp_path / "other")["workspace_url"]
        ci = {"DATABRICKS_CLIENT_ID": "ci-bot", "DATABRICKS_CLIENT_SECRET": "s3cret"}
        assert token_for(url, ci, TABLE).startswith("zsl1.")
    finally:
        del os.environ["ZEROSTREAM_LOCALBUS_CLIENT_ID"], os.environ["ZEROSTREAM_LOCALBUS_CLIENT_SECRET"]
        bus2.terminate()
