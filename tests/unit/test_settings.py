"""Settings come from flags, environment, .env, generated_config.env and defaults, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerostream_desktop.core.settings import SettingsError, load_settings, resolve_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_follow_the_original_names(isolated_environment: Path):
    s = load_settings(environ={})
    assert s.table_name == "sensor_stream" and s.stream_interval_ms == 5000
    assert s.warehouse_name == "zerostream_warehouse"
    assert s.lakebase_instance == "zerostream-lakebase"
    assert s.zerobus_topic == "zerostream_sensor_stream_topic"
    assert s.full_table_name == "zerostream.sensors.sensor_stream"


def test_precedence_flags_env_dotenv_generated_defaults(isolated_environment: Path):
    work = isolated_environment
    write(
        work / "generated_config.env",
        "CATALOG=from_generated\nSCHEMA=gen_schema\nTABLE_NAME=gen_table\nDATABRICKS_WAREHOUSE_ID=abc123\n",
    )
    write(work / ".env", "CATALOG=from_dotenv\nSCHEMA=dotenv_schema\nINFRA_PREFIX=acme\n")
    environ = {"SCHEMA": "env_schema", "STREAM_INTERVAL_MS": "250"}
    s, sources = resolve_settings({"stream_interval_ms": 100}, environ=environ, search_dirs=[work])
    assert s.catalog == "from_dotenv" and sources["CATALOG"].source.endswith(".env")
    assert s.schema_name == "env_schema" and sources["SCHEMA"].source == "environment"
    assert s.table_name == "gen_table" and sources["TABLE_NAME"].source.endswith("generated_config.env")
    assert s.stream_interval_ms == 100 and sources["STREAM_INTERVAL_MS"].source == "command line"
    assert s.warehouse_id == "abc123"
    assert s.warehouse_name == "acme_warehouse"  # derived from the prefix, as the original did


def test_dotenv_interpolation_like_the_original(isolated_environment: Path):
    write(isolated_environment / ".env", "INFRA_PREFIX=demo\nLAKEBASE_INSTANCE=${INFRA_PREFIX}-pg\n")
    s = load_settings(environ={}, search_dirs=[isolated_environment])
    assert s.lakebase_instance == "demo-pg"


def test_bad_value_names_the_variable_and_its_file(isolated_environment: Path):
    env_file = write(isolated_environment / ".env", "STREAM_INTERVAL_MS=fast\n")
    with pytest.raises(SettingsError) as info:
        load_settings(environ={}, search_dirs=[isolated_environment])
    message = str(info.value)
    assert "STREAM_INTERVAL_MS='fast'" in message and str(env_file) in message and "integer" in message


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("DATABRICKS_HOST", "my-workspace", "https://"),
        ("DATABRICKS_HOST", "ftp://x.cloud.databricks.com", "https://"),
        ("STREAM_INTERVAL_MS", "0", "greater than or equal to 10"),
        ("SIM_DEVICES", "20000", "less than or equal to 10000"),
        ("CATALOG", "main; DROP TABLE x", "invalid identifier"),
        ("LAKEBASE_CAPACITY", "CU_3", "CU_1"),
        ("SIM_REGION", "Atlantis", "unknown city"),
        ("ZEROBUS_STREAMS", "0", "greater than or equal to 1"),
        ("ZEROBUS_STREAMS", "many", "'auto'"),
    ],
)
def test_bad_environment_values_are_reported_with_their_source(name: str, value: str, hint: str):
    with pytest.raises(SettingsError) as info:
        load_settings(environ={name: value}, search_dirs=[])
    assert f"{name}={value!r} from environment" in str(info.value)
    assert hint in str(info.value)


def test_host_is_normalised():
    s = load_settings(environ={"DATABRICKS_HOST": "https://adb-123.azuredatabricks.net/?o=123"}, search_dirs=[])
    assert s.databricks_host == "https://adb-123.azuredatabricks.net"


def test_unknown_profile_names_the_config_file(isolated_environment: Path):
    cfg = Path.home() / ".databrickscfg"
    cfg.write_text("[DEFAULT]\nhost = https://a.cloud.databricks.com\n\n[dev]\nhost = https://b.cloud.databricks.com\n")
    environ = {"DATABRICKS_CONFIG_PROFILE": "prod", "DATABRICKS_CONFIG_FILE": str(cfg)}
    with pytest.raises(SettingsError) as info:
        load_settings(environ=environ, search_dirs=[])
    message = str(info.value)
    assert "'prod' from environment" in message and str(cfg) in message and "dev" in message
    environ["DATABRICKS_CONFIG_PROFILE"] = "dev"
    assert load_settings(environ=environ, search_dirs=[]).databricks_profile == "dev"


@pytest.fixture
def workspace_stub():
    """A local HTTP server answering the SDK's host-metadata probe (no network here)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            body = json.dumps({"workspace_id": "1234567890"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_databricks_config_uses_the_sdk_unified_auth(isolated_environment: Path, workspace_stub):
    from zerostream_desktop.core.settings import databricks_config

    url, seen = workspace_stub
    cfg = Path.home() / ".databrickscfg"
    cfg.write_text(f"[dev]\nhost = {url}\ntoken = not-a-real-token\n")
    s = load_settings(environ={"DATABRICKS_CONFIG_PROFILE": "dev", "DATABRICKS_CONFIG_FILE": str(cfg)}, search_dirs=[])
    config = databricks_config(s)
    assert config.host == url
    assert config.profile == "dev" and config.auth_type == "pat"
    assert config.workspace_id == "1234567890"  # read from the workspace, as the SDK does
    assert "/.well-known/databricks-config" in seen


def test_unrelated_environment_is_ignored():
    s = load_settings(environ={"PATH": "/bin", "HOME": "/x", "SCHEMA": "iot"}, search_dirs=[])
    assert s.schema_name == "iot"
