"""A Databricks Job that streams one fleet from inside the workspace: N shard tasks, one machine each.

`zerostream webapps build` writes it into its bundle (`resources.jobs.zerostream_load`) with a
`loadgen/` folder: the package modules `zerostream stream` needs (found as the apps' are, from the
imports: no Qt, no hand-kept copy), `run_shard.py` and the Python 3.11 `requirements.txt`. Each task
runs `run_shard.py --shard i/N` on a single-node cluster of Databricks Runtime 15.4 LTS (Python
3.11); the whole fleet's size, seed, interval and duration are job parameters, so one run of the
job streams one fleet, every device in exactly one task. The ZeroBus service principal's OAuth
secret is read from a secret scope into the cluster's environment (`{{secrets/scope/key}}`); no
secret is written into any file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from zerostream_desktop.core.fleet import MAX_DEVICES, MAX_FLEET_DEVICES
from zerostream_desktop.core.secrets import LOAD_JOB_SECRET_KEY as SECRET_KEY
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.webapps.build import LOCK, _module_file, _prepare, _q, module_closure, package_dir, write_files

FOLDER = "loadgen"
ENTRY = "zerostream_desktop.commands.shard_job"
JOB_KEY = "zerostream_load"
SPARK_VERSION = "15.4.x-scala2.12"  # LTS, Python 3.11 (what the lock is resolved for)
DEFAULT_SHARDS = 4
RUN_SHARD = '''"""One shard of a ZeroStream fleet (a Databricks job task runs this file); the arguments are those
of `zerostream stream`, e.g. --shard 2/4 --devices 40000 --seed 7 --duration 600."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zerostream_desktop.commands.shard_job import entry  # noqa: E402

entry()
'''


def node_type_for(host: str | None) -> str:
    """A 4-core node on the workspace's cloud (AWS, Azure or GCP, told by the host name)."""
    name = (urlsplit(host or "").hostname or "").lower()
    if name.endswith("azuredatabricks.net"):
        return "Standard_D4ds_v5"
    if name.endswith("gcp.databricks.com"):
        return "n2-standard-4"
    return "m5d.xlarge"


def loadgen_files() -> list[tuple[str, bytes]]:
    """(path inside loadgen/, bytes) for the headless closure of the shard entry, its script and its pins."""
    files = []
    for name in module_closure(ENTRY):
        source = _module_file(name)
        assert source is not None
        files.append((source.relative_to(package_dir().parent).as_posix(), source.read_bytes()))
    files += [("run_shard.py", RUN_SHARD.encode()), ("requirements.txt", LOCK.read_bytes())]
    return files


def write_loadgen(out: Path) -> dict[str, str]:
    """`out/loadgen`, replacing an earlier build there (anything else there is refused, as for the apps)."""
    folder = out / FOLDER
    _prepare(folder)
    return write_files(folder, loadgen_files())


def cluster_env(settings: Settings) -> dict[str, str]:
    """The shard's settings on the cluster (plain values) and its OAuth secret (from the secret scope)."""
    env = {
        "ZEROSTREAM_ENDPOINT": "databricks",
        "DATABRICKS_HOST": settings.databricks_host or "",
        "ZEROBUS_SERVER_ENDPOINT": settings.zerobus_server_endpoint or "",
        "ZEROBUS_CLIENT_ID": settings.zerobus_client_id or "",
        "ZEROBUS_CLIENT_SECRET": "{{secrets/${var.shard_secret_scope}/" + SECRET_KEY + "}}",
        "CATALOG": settings.catalog,
        "SCHEMA": settings.schema_name,
        "TABLE_NAME": settings.table_name,
        "ZEROBUS_TOPIC": settings.zerobus_topic,
        "SIM_REGION": settings.sim_region,
        "ZEROSTREAM_DATA_DIR": "/local_disk0/zerostream",
        "RUST_LOG": "warn",
    }
    return dict(sorted((k, v) for k, v in env.items() if v))  # unset ones are left to the defaults


def job_yaml(settings: Settings, shards: int = DEFAULT_SHARDS) -> tuple[list[str], list[str]]:
    """(lines under `variables:`, lines under `resources:`) of the bundle for the load job."""
    variables = [
        "  shard_node_type:",
        f"    description: {_q('The node type of each shard task (one single-node cluster per shard)')}",
        f"    default: {_q(node_type_for(settings.databricks_host))}",
        "  shard_secret_scope:",
        f"    description: {_q(f'The secret scope holding the ZeroBus principal secret as {SECRET_KEY}')}",
        f"    default: {_q(settings.infra_prefix)}",
    ]
    resources = [
        "  jobs:",
        f"    {JOB_KEY}:",
        f"      name: {_q(settings.infra_prefix + '-load')}",
        f"      description: {_q(f'ZeroStream: one simulated fleet streamed to ZeroBus by {shards} shards')}",
        "      max_concurrent_runs: 1",
        "      parameters:",
    ]
    devices = str(min(MAX_FLEET_DEVICES, MAX_DEVICES * shards))  # each shard at most what one process runs
    for name, default in (("devices", devices), ("seed", "1"), ("interval_ms", str(settings.stream_interval_ms)),
                          ("duration_s", "600"), ("streams", "auto")):  # fmt: skip
        resources += [f"        - name: {_q(name)}", f"          default: {_q(default)}"]
    resources += ["      tasks:"]
    env = cluster_env(settings)
    for i in range(1, shards + 1):
        params = ["--shard", f"{i}/{shards}", "--devices", "{{job.parameters.devices}}", "--seed",
                  "{{job.parameters.seed}}", "--interval-ms", "{{job.parameters.interval_ms}}", "--duration",
                  "{{job.parameters.duration_s}}", "--streams", "{{job.parameters.streams}}", "--quiet"]  # fmt: skip
        resources += [
            f"        - task_key: {_q(f'shard_{i}')}",
            "          spark_python_task:",
            f"            python_file: {_q(f'./{FOLDER}/run_shard.py')}",
            f"            parameters: [{', '.join(_q(p) for p in params)}]",
            "          libraries:",
            f"            - requirements: {_q(f'./{FOLDER}/requirements.txt')}",
            "          new_cluster:",
            f"            spark_version: {_q(SPARK_VERSION)}",
            f"            node_type_id: {_q('${var.shard_node_type}')}",
            "            num_workers: 0",
            "            spark_conf:",
            f"              {_q('spark.databricks.cluster.profile')}: {_q('singleNode')}",
            f"              {_q('spark.master')}: {_q('local[*]')}",
            "            custom_tags:",
            f"              {_q('ResourceClass')}: {_q('SingleNode')}",
            "            spark_env_vars:",
            *(f"              {_q(k)}: {_q(v)}" for k, v in env.items()),
        ]
    return variables, resources
