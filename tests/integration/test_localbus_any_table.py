"""localbus serves any table, as the service does: made with `create-table`, streamed to as the SDK's examples do."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tests.integration.localbus_helpers import TOKEN, LocalBusProcess, free_port, headers_provider
from zerostream_desktop.localbus.tables import TableCatalog

pytestmark = pytest.mark.integration
AIR = "main.default.air_quality"
COLUMNS = "device_name STRING NOT NULL, temp INT, humidity BIGINT"


def zerostream(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerostream_desktop", "--data-dir", str(data_dir), *args],
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": TOKEN})  # fmt: skip


def air_quality_class():  # type: ignore[no-untyped-def]
    """The examples' record_pb2.AirQuality, built from the same proto2 definition."""
    fdp = descriptor_pb2.FileDescriptorProto(name="record.proto", syntax="proto2")
    msg = fdp.message_type.add(name="AirQuality")
    for number, (name, kind) in enumerate((("device_name", "STRING"), ("temp", "INT32"), ("humidity", "INT64")), 1):
        msg.field.add(name=name, number=number, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                      type=getattr(descriptor_pb2.FieldDescriptorProto, f"TYPE_{kind}"))  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("AirQuality"))


def rows(data_dir: Path) -> list[dict]:
    return DeltaTable(str(TableCatalog(data_dir).path(AIR))).to_pyarrow_table().to_pylist()


@pytest.fixture
def bus(tmp_path):
    made = zerostream(tmp_path, "localbus", "create-table", AIR, "--columns", COLUMNS)
    assert made.returncode == 0 and f"created table {AIR}" in made.stdout, made.stderr
    lb = LocalBusProcess(tmp_path, free_port()).start()
    yield lb
    lb.terminate()


def test_create_table_lists_and_refuses_what_localbus_cannot_write(tmp_path):
    assert zerostream(tmp_path, "localbus", "create-table", AIR, "--columns", COLUMNS).returncode == 0
    again = zerostream(tmp_path, "localbus", "create-table", AIR, "--columns", "x INT")
    assert again.returncode == 1 and "already exists (it is never replaced)" in again.stderr
    bad = zerostream(tmp_path, "localbus", "create-table", "main.default.b", "--columns", "x FLOAT")
    assert bad.returncode == 2 and "cannot write FLOAT columns; it writes STRING, TIMESTAMP, DATE, DOUBLE" in bad.stderr
    listed = zerostream(tmp_path, "localbus", "tables", "--columns")
    assert AIR in listed.stdout and "device_name STRING NOT NULL" in listed.stdout
    assert "humidity BIGINT" in listed.stdout
    kept = zerostream(tmp_path, "localbus", "drop-table", AIR, stdin="n\n")
    assert kept.returncode == 1 and TableCatalog(tmp_path).exists(AIR)
    dropped = zerostream(tmp_path, "localbus", "drop-table", AIR, "--yes")
    assert dropped.returncode == 0 and not TableCatalog(tmp_path).exists(AIR)


def test_json_dicts_and_proto_records_land_in_a_table_of_ones_own(bus):
    from zerobus.sdk.shared import RecordType, StreamConfigurationOptions, TableProperties
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    stream = sdk.create_stream(table_properties=TableProperties(AIR),
                               options=StreamConfigurationOptions(record_type=RecordType.JSON),
                               headers_provider=headers_provider())  # fmt: skip
    sent = [{"device_name": f"sensor-{i % 10}", "temp": 20 + i % 15, "humidity": 50 + i % 40} for i in range(30)]
    for record in sent[:10]:
        stream.ingest_record_offset(record)  # a dict, as the examples send
    stream.ingest_records_offset([json.dumps(r) for r in sent[10:20]])
    stream.flush()
    stream.close()

    air = air_quality_class()

    async def proto() -> None:
        from zerobus.sdk.aio import ZerobusSdk as AsyncSdk

        s = await AsyncSdk(bus.endpoint, "http://127.0.0.1:9").create_stream(
            table_properties=TableProperties(AIR, air.DESCRIPTOR), headers_provider=headers_provider()
        )
        last = await s.ingest_records_offset([air(**r).SerializeToString() for r in sent[20:]])
        await s.wait_for_offset(last)
        await s.close()

    asyncio.run(proto())
    assert sorted(rows(bus.data_dir), key=lambda r: (r["device_name"], r["temp"], r["humidity"])) == sorted(
        sent, key=lambda r: (r["device_name"], r["temp"], r["humidity"])
    )


def test_a_record_without_a_not_null_column_or_with_a_foreign_field_is_refused(bus):
    from zerobus.sdk.shared import RecordType, StreamConfigurationOptions, TableProperties
    from zerobus.sdk.sync import ZerobusSdk

    sdk = ZerobusSdk(bus.endpoint, "http://127.0.0.1:9")
    options = StreamConfigurationOptions(record_type=RecordType.JSON, recovery=False)
    refused = (({"temp": 3}, "device_name is NOT NULL"), ({"device_name": "a", "pm25": 3}, "pm25 does not exist"))
    for bad, why in refused:
        stream = sdk.create_stream(table_properties=TableProperties(AIR), options=options,
                                   headers_provider=headers_provider())  # fmt: skip
        with pytest.raises(Exception, match=why):
            stream.ingest_record_offset(bad)
            stream.flush()
        stream.close()
    assert rows(bus.data_dir) == []
