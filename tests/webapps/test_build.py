"""`zerostream webapps build`: self-contained, deterministic Databricks App folders with no secret in them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.webapps import build

ROOT = Path(__file__).resolve().parents[2]
PLANTED = {  # secrets a user could have around; none may reach a generated file
    "DATABRICKS_TOKEN": "dapi-planted-token-0123456789",
    "DATABRICKS_CLIENT_SECRET": "planted-client-secret-abcdef",
    "ZEROBUS_CLIENT_SECRET": "planted-zerobus-secret-987654",
    "ZEROSTREAM_LOCALBUS_TOKEN": "planted-localbus-token-55555",
}
ENV = {
    "DATABRICKS_HOST": "https://adb-1234.5.azuredatabricks.net", "CATALOG": "lake", "SCHEMA": "iot",
    "TABLE_NAME": "events", "INFRA_PREFIX": "acme",
    "ZEROBUS_SERVER_ENDPOINT": "1234.zerobus.westus.azuredatabricks.net", "ZEROBUS_CLIENT_ID": "zb-principal",
    "DATABRICKS_WAREHOUSE_ID": "wh-42", **PLANTED,
}  # fmt: skip


def settings(**extra: str):
    return load_settings({}, environ={**ENV, **extra}, search_dirs=[], check_profile=False)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_inputs_give_the_same_bytes(tmp_path):
    first = build.build(settings(), tmp_path / "a", lakebase=True, warehouse_id="wh-42")
    second = build.build(settings(), tmp_path / "b", lakebase=True, warehouse_id="wh-42")
    again = build.build(settings(), tmp_path / "a", lakebase=True, warehouse_id="wh-42")  # over an earlier build
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert [b.digest for b in first] == [b.digest for b in second] == [b.digest for b in again]
    for b in first:
        assert set(b.files) == set(tree(b.folder))  # the manifest lists every file
    assert first[0].digest != build.build(settings(CATALOG="other"), tmp_path / "c")[0].digest


def test_no_secret_reaches_a_generated_file(tmp_path, monkeypatch):
    from zerostream_desktop.core.secrets import databricks_token_key, open_secret_store, zerobus_client_secret_key

    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    store = open_secret_store()  # the tests' in-memory keyring
    kept = {databricks_token_key(ENV["DATABRICKS_HOST"]): "dapi-kept-in-the-keyring-111",
            zerobus_client_secret_key("zb-principal"): "kept-zerobus-secret-222"}  # fmt: skip
    for key, value in kept.items():
        store.set(key, value)
    build.build(settings(), tmp_path, lakebase=True, warehouse_id="wh-42", shards=2)
    assert (tmp_path / "loadgen" / "run_shard.py").is_file()  # the load job's folder is swept too
    for path, data in tree(tmp_path).items():
        for secret in [*PLANTED.values(), *kept.values()]:
            assert secret.encode() not in data, f"{secret} in {path}"


def test_each_folder_is_the_hosted_app_and_only_what_it_imports(tmp_path):
    (mobile, dashboard) = build.build(settings(), tmp_path)
    files = set(mobile.files)
    assert {"app.py", "app.yaml", "requirements.txt", build.MANIFEST} <= files
    assert "zerostream_desktop/webapps/hosted.py" in files and "resources/map/map.html" in files
    assert "zerostream_desktop/webapps/templates/dashboard.html" in files
    assert not any(f.startswith(("zerostream_desktop/ui/", "zerostream_desktop/commands/")) for f in files)
    for rel in files:
        if rel.endswith(".py"):
            text = (mobile.folder / rel).read_text()
            assert "PySide6" not in text and "qasync" not in text, rel
    assert (mobile.folder / "requirements.txt").read_bytes() == build.LOCK.read_bytes()
    assert set(mobile.files) - {"app.py", "app.yaml", build.MANIFEST} == set(dashboard.files) - {
        "app.py", "app.yaml", build.MANIFEST}  # fmt: skip


def test_app_yaml_takes_workspace_values_from_resources_and_the_port_from_the_platform(tmp_path):
    (mobile, dashboard) = build.build(settings(), tmp_path, lakebase=True)
    for b in (mobile, dashboard):
        spec = yaml.safe_load((b.folder / "app.yaml").read_text())
        assert spec["command"] == ["python", "app.py", b.kind, "--port", "$DATABRICKS_APP_PORT"]
        env = {e["name"]: e for e in spec["env"]}
        assert env["DATABRICKS_WAREHOUSE_ID"] == {"name": "DATABRICKS_WAREHOUSE_ID", "valueFrom": "sql-warehouse"}
        assert env["CATALOG"]["value"] == "lake" and env["ZEROSTREAM_ANALYTICS"]["value"] == "lakebase"
        assert env["ZEROBUS_SERVER_ENDPOINT"]["value"] == ENV["ZEROBUS_SERVER_ENDPOINT"]
        assert "ZEROBUS_CLIENT_ID" not in env  # the app streams as its own principal
        assert not {"DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "PGHOST"} & set(env)  # the platform sets these
    assert b.name == "acme-dashboard-app"


def test_the_bundle_fits_the_databricks_bundles_models(tmp_path):
    from databricks.bundles.apps import App

    build.build(settings(), tmp_path, lakebase=True, warehouse_id="wh-42")
    bundle = yaml.safe_load((tmp_path / "databricks.yml").read_text())
    assert set(bundle) == {"bundle", "variables", "resources"}
    assert bundle["variables"]["warehouse_id"]["default"] == "wh-42"
    apps = bundle["resources"]["apps"]
    assert {a["name"] for a in apps.values()} == {"acme-mobile-app", "acme-dashboard-app"}
    for spec in apps.values():
        assert App.from_dict(spec).as_dict() == spec  # every field known to the models, none dropped
        assert (tmp_path / spec["source_code_path"]).is_dir()
        assert {r["name"] for r in spec["resources"]} == {"sql-warehouse", "database"}
    with pytest.raises(ValueError, match="Unexpected field"):
        App.from_dict({**spec, "sourcecode_path": "x"})  # the check can fail


def test_the_committed_lock_satisfies_the_projects_web_requirements():
    sys.path.insert(0, str(ROOT / "scripts"))
    from web_requirements import web_requirements

    pins = {}
    for line in build.LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.replace("_", "-").replace(".", "-")] = version
    for text in web_requirements():
        req = Requirement(text)
        name = req.name.lower().replace("_", "-").replace(".", "-")
        assert name in pins, f"{req.name} is not in the lock: run `python3.11 scripts/lock_webapps.py`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req} but the lock pins {pins[name]}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("PySide6") for d in project["dependencies"])  # the filter had something to drop


def cli_build(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "zerostream_desktop", "webapps", "build", "--out", str(out)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def test_the_command_line_builds_and_refuses_a_folder_that_is_not_a_build(tmp_path):
    env = {**os.environ, "ZEROSTREAM_DATA_DIR": str(tmp_path / "data")}
    run = cli_build(tmp_path / "o", env)
    assert run.returncode == 0, run.stderr
    assert "mobile" in run.stdout and "databricks.yml" in run.stdout
    (tmp_path / "mine" / "zerostream-mobile-app").mkdir(parents=True)
    (tmp_path / "mine" / "zerostream-mobile-app" / "notes.txt").write_text("keep me")
    run = cli_build(tmp_path / "mine", env)
    assert run.returncode != 0 and "is not a ZeroStream app build" in run.stderr
    assert (tmp_path / "mine" / "zerostream-mobile-app" / "notes.txt").read_text() == "keep me"


def test_the_load_job_runs_one_shard_per_single_node_cluster_and_fits_the_bundle_models(tmp_path):
    from databricks.bundles.jobs import Job

    build.build(settings(), tmp_path, shards=3)
    bundle = yaml.safe_load((tmp_path / "databricks.yml").read_text())
    job = bundle["resources"]["jobs"]["zerostream_load"]
    assert Job.from_dict(job).as_dict() == job  # every field known to the models, none dropped
    assert {"shard_node_type", "shard_secret_scope"} <= set(bundle["variables"])
    tasks = job["tasks"]
    assert [t["spark_python_task"]["parameters"][:2] for t in tasks] == [["--shard", f"{i}/3"] for i in (1, 2, 3)]
    assert {p["name"] for p in job["parameters"]} == {"devices", "seed", "interval_ms", "duration_s", "streams"}
    defaults = {p["name"]: p["default"] for p in job["parameters"]}
    assert defaults["devices"] == "30000"  # as many as three processes run: every shard at most 10,000
    for task in tasks:
        assert (tmp_path / task["spark_python_task"]["python_file"]).is_file()
        assert (tmp_path / task["libraries"][0]["requirements"]).read_bytes() == build.LOCK.read_bytes()
        cluster = task["new_cluster"]
        assert cluster["num_workers"] == 0 and cluster["spark_version"].startswith("15.4.")  # Python 3.11
        env = cluster["spark_env_vars"]
        assert env["ZEROBUS_CLIENT_SECRET"] == "{{secrets/${var.shard_secret_scope}/zerobus-client-secret}}"
        assert env["ZEROSTREAM_ENDPOINT"] == "databricks" and env["ZEROBUS_CLIENT_ID"] == "zb-principal"
    with pytest.raises(ValueError, match="Unexpected field"):
        Job.from_dict({**job, "task": []})  # the check can fail
    build.build(settings(), tmp_path, shards=2)  # an earlier build is replaced...
    (tmp_path / "elsewhere" / "loadgen").mkdir(parents=True)
    (tmp_path / "elsewhere" / "loadgen" / "mine.txt").write_text("not a build")
    with pytest.raises(build.BuildError, match="not a ZeroStream app build"):  # ...anything else is left alone
        build.build(settings(), tmp_path / "elsewhere", apps=(), shards=2)
    assert (tmp_path / "elsewhere" / "loadgen" / "mine.txt").read_text() == "not a build"


def test_the_load_jobs_shard_runs_on_python_311_with_only_what_stream_needs(tmp_path):
    """The folder the job installs: no Qt, no desktop; one shard of a fleet streams from it on Python 3.11."""
    from tests.integration.localbus_helpers import TOKEN, LocalBusProcess, free_port
    from zerostream_desktop.core.fleet import Fleet

    build.build(settings(), tmp_path / "out", shards=2)
    loadgen = tmp_path / "out" / "loadgen"
    modules = {p.relative_to(loadgen).as_posix() for p in loadgen.rglob("*.py")}
    assert "zerostream_desktop/commands/stream_cmd.py" in modules
    assert not any(m.startswith(("zerostream_desktop/ui/", "zerostream_desktop/webapps/")) for m in modules)
    python311 = ROOT / ".venv311" / "bin" / "python"
    if not python311.exists():
        pytest.skip("no .venv311 (scripts/bootstrap.sh test makes it)")
    data = tmp_path / "data"
    bus = LocalBusProcess(data, free_port()).start()  # started by this environment: the folder only streams
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ZEROSTREAM_", "VIRTUAL_ENV"))}
        env |= {"ZEROSTREAM_LOCALBUS_TOKEN": TOKEN, "ZEROSTREAM_DATA_DIR": str(data), "ZEROSTREAM_ENDPOINT": "local"}
        run = subprocess.run([str(python311), "-I", str(loadgen / "run_shard.py"), "--shard", "2/2", "--devices", "20",
                              "--seed", "5", "--interval-ms", "500", "--duration", "2", "--quiet", "--json"],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        summary = json.loads(run.stdout.splitlines()[-1])
        landed = {r["connection_id"] for r in bus.rows("connection_id")}
    finally:
        bus.terminate()
    assert summary["shard"] == {"shard": "2/2", "fleet_devices": 20, "first_device": 10, "devices": 10}
    assert summary["generated"] == summary["acknowledged"] > 10
    assert landed == set(Fleet(5, 20).identities.connection_ids[10:])  # the second half of the fleet
