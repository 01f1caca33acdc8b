"""Databricks App source folders for the two web apps (`zerostream webapps build`).

Each folder is self-contained: a thin `app.py`, the package modules the hosted entry imports (found by
reading the imports of every module it reaches, function-level ones included, and copied from this
package: never a hand-kept copy), the templates, static files and the vendored map,
`requirements.txt` (the committed Python 3.11 lock, `requirements-py311.lock`), `app.yaml` and a
manifest of every file's SHA-256 that deploy compares with what the workspace holds.

`app.yaml` holds no secret: the warehouse id comes from the app's `sql-warehouse` resource
(`valueFrom`), Lakebase's connection from the `PG*` variables the platform sets for a `database`
resource, the app's own OAuth client from the platform (`DATABRICKS_CLIENT_ID/SECRET`), and the
rest are the plain, non-secret settings under their original names. The same inputs give the same
bytes: nothing depends on the time, the machine or the order files are found in.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from zerostream_desktop import __version__
from zerostream_desktop.core.paths import resource_path
from zerostream_desktop.core.settings import Settings

APPS = ("mobile", "dashboard")
ENTRY = "zerostream_desktop.webapps.hosted"
PACKAGE = "zerostream_desktop"
LOCK = Path(__file__).with_name("requirements-py311.lock")
MANIFEST = "zerostream-manifest.json"
WAREHOUSE_RESOURCE = "sql-warehouse"
DATABASE_RESOURCE = "database"
_DATA = (("webapps/templates", "*.html"), ("webapps/static", "*"))
DESCRIPTIONS = {
    "mobile": "ZeroStream mobile simulator: a fleet of simulated devices streaming to ZeroBus",
    "dashboard": "ZeroStream dashboard: KPIs, clients and tracks of the sensor table",
}


class BuildError(RuntimeError):
    """The build cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class BuiltApp:
    kind: str  # mobile | dashboard
    name: str  # the Databricks App's name
    folder: Path
    files: Mapping[str, str]  # path inside the folder (POSIX) -> SHA-256, the manifest included

    @property
    def digest(self) -> str:
        """One hash of the whole build (of its manifest)."""
        return self.files[MANIFEST]


def app_names(settings: Settings) -> dict[str, str]:
    return {"mobile": settings.mobile_app_name, "dashboard": settings.dashboard_app_name}


# --- what goes in --------------------------------------------------------------------------


def package_dir() -> Path:
    return Path(sys.modules[PACKAGE].__file__ or "").parent


def _module_file(name: str) -> Path | None:
    base = package_dir().parent.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                if path.name != "__init__.py":
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def module_closure(entry: str = ENTRY) -> list[str]:
    """The package's modules `entry` can reach (sorted), each with the packages that contain it."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith(PACKAGE):
            continue
        path = _module_file(name)
        if path is None:
            continue  # `from pkg.module import Class`: the name of a class, not a module
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += [m for m in _imports(path, name) if m.startswith(PACKAGE)]
    return sorted(seen)


def source_files() -> list[tuple[Path, str]]:
    """(source, path inside the app folder) for every file both apps carry except the generated ones."""
    out: list[tuple[Path, str]] = []
    root = package_dir()
    for name in module_closure():
        path = _module_file(name)
        assert path is not None
        out.append((path, path.relative_to(root.parent).as_posix()))
    for folder, pattern in _DATA:
        for path in sorted((root / folder).glob(pattern)):
            if path.is_file():
                out.append((path, f"{PACKAGE}/{folder}/{path.name}"))
    map_dir = resource_path("map")
    for path in sorted(map_dir.rglob("*")):
        if path.is_file() and path.name != "qt_bridge.js":  # the desktop's bridge
            out.append((path, f"resources/map/{path.relative_to(map_dir).as_posix()}"))
    return sorted(out, key=lambda item: item[1])


# --- what is generated ------------------------------------------------------------------------


def app_py(kind: str) -> str:
    return (
        f'"""ZeroStream {kind} app for Databricks Apps, generated by `zerostream webapps build` {__version__}.\n\n'
        "Do not edit: build again instead. The platform runs it as app.yaml says.\n"
        '"""\n\n'
        "import sys\n\n"
        "from zerostream_desktop.webapps.hosted import main\n\n"
        'if __name__ == "__main__":\n'
        f'    sys.exit(main(sys.argv[1:] or ["{kind}"]))\n'
    )


def plain_env(settings: Settings, lakebase: bool) -> dict[str, str]:
    """The non-secret settings an app needs, under their original names (sorted)."""
    env = {
        "ZEROSTREAM_ENDPOINT": "databricks",
        "ZEROSTREAM_ANALYTICS": "lakebase" if lakebase else "warehouse",
        "INFRA_PREFIX": settings.infra_prefix,
        "CATALOG": settings.catalog,
        "SCHEMA": settings.schema_name,
        "TABLE_NAME": settings.table_name,
        "ACTIVE_WINDOW_SECONDS": str(settings.active_window_seconds),
        "STREAM_INTERVAL_MS": str(settings.stream_interval_ms),
        "SIM_DEVICES": str(settings.sim_devices),
        "SIM_REGION": settings.sim_region,
        "MOBILE_APP_NAME": settings.mobile_app_name,
        "DASHBOARD_APP_NAME": settings.dashboard_app_name,
    }
    if settings.zerobus_server_endpoint:
        env["ZEROBUS_SERVER_ENDPOINT"] = settings.zerobus_server_endpoint
    if lakebase:
        env.update(
            LAKEBASE_INSTANCE=settings.lakebase_instance,
            LAKEBASE_DATABASES=settings.lakebase_databases.split(",")[0].strip(),
            LAKEBASE_SCHEMA=settings.lakebase_schema,
        )
    return dict(sorted(env.items()))


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def app_yaml(kind: str, settings: Settings, lakebase: bool) -> str:
    lines = [
        f"# ZeroStream {kind} app: generated by `zerostream webapps build`; no secret is ever written here.",
        "# DATABRICKS_APP_PORT is the one variable the platform substitutes in the command.",
        f"command: [{_q('python')}, {_q('app.py')}, {_q(kind)}, {_q('--port')}, {_q('$DATABRICKS_APP_PORT')}]",
        "env:",
        f"  - name: {_q('DATABRICKS_WAREHOUSE_ID')}",
        f"    valueFrom: {_q(WAREHOUSE_RESOURCE)}",
    ]
    for name, value in plain_env(settings, lakebase).items():
        lines += [f"  - name: {_q(name)}", f"    value: {_q(value)}"]
    return "\n".join(lines) + "\n"


def bundle_yaml(
    settings: Settings, lakebase: bool, warehouse_id: str = "", apps_dir: str = ".", shards: int = 0
) -> str:
    """A Databricks Asset Bundle with both apps, their resources and who may use them; with `shards`, the
    load job too (see load_job.py)."""
    names = app_names(settings)
    lines = [
        "# ZeroStream's two companion apps as a Databricks Asset Bundle (generated by `zerostream webapps build`).",
        "# To manage the apps `zerostream setup` created: databricks bundle deployment bind <key> <app name>",
        "bundle:",
        f"  name: {_q(settings.infra_prefix + '-webapps')}",
        "variables:",
        "  warehouse_id:",
        f"    description: {_q('The SQL warehouse the apps use (zerostream setup prints it)')}",
        f"    default: {_q(warehouse_id)}",
    ]
    if lakebase:
        lines += [
            "  lakebase_instance:",
            f"    default: {_q(settings.lakebase_instance)}",
            "  lakebase_database:",
            f"    default: {_q(settings.lakebase_databases.split(',')[0].strip())}",
        ]
    job_variables: list[str] = []
    job_resources: list[str] = []
    if shards:
        from zerostream_desktop.webapps import load_job

        job_variables, job_resources = load_job.job_yaml(settings, shards)
    lines += [*job_variables, "resources:", "  apps:"]
    for kind in APPS:
        lines += [
            f"    zerostream_{kind}:",
            f"      name: {_q(names[kind])}",
            f"      description: {_q(DESCRIPTIONS[kind])}",
            f"      source_code_path: {_q(f'{apps_dir}/{names[kind]}')}",
            "      resources:",
            f"        - name: {_q(WAREHOUSE_RESOURCE)}",
            "          sql_warehouse:",
            f"            id: {_q('${var.warehouse_id}')}",
            f"            permission: {_q('CAN_USE')}",
        ]
        if lakebase:
            lines += [
                f"        - name: {_q(DATABASE_RESOURCE)}",
                "          database:",
                f"            instance_name: {_q('${var.lakebase_instance}')}",
                f"            database_name: {_q('${var.lakebase_database}')}",
                f"            permission: {_q('CAN_CONNECT_AND_CREATE')}",
            ]
        lines += [
            "      permissions:",
            f"        - level: {_q('CAN_USE')}",
            f"          group_name: {_q('users')}",
        ]
    return "\n".join([*lines, *job_resources]) + "\n"


# --- writing ----------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _prepare(folder: Path) -> None:
    """An empty folder to build into; an earlier build there is replaced, anything else is refused."""
    if folder.exists():
        if not (folder / MANIFEST).is_file():
            raise BuildError(f"{folder} exists and is not a ZeroStream app build: choose another --out")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def write_files(folder: Path, files: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for rel, data in sorted(files):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        hashes[rel] = _sha256(data)
    manifest = json.dumps({"zerostream": __version__, "files": hashes}, indent=1, sort_keys=True).encode() + b"\n"
    (folder / MANIFEST).write_bytes(manifest)
    hashes[MANIFEST] = _sha256(manifest)
    return hashes


def build_app(kind: str, settings: Settings, out: Path, lakebase: bool = False) -> BuiltApp:
    if kind not in APPS:
        raise BuildError(f"unknown app {kind!r}: choose one of {', '.join(APPS)}")
    name = app_names(settings)[kind]
    folder = out / name
    _prepare(folder)
    files = [(rel, src.read_bytes()) for src, rel in source_files()]
    files += [
        ("app.py", app_py(kind).encode()),
        ("app.yaml", app_yaml(kind, settings, lakebase).encode()),
        ("requirements.txt", LOCK.read_bytes()),
    ]
    return BuiltApp(kind, name, folder, write_files(folder, files))


def build(
    settings: Settings,
    out: Path,
    apps: Iterable[str] = APPS,
    lakebase: bool = False,
    warehouse_id: str = "",
    shards: int = 0,
) -> list[BuiltApp]:
    """Both apps (or those asked for) under `out`, and `databricks.yml` beside them; with `shards`, the load
    job's `loadgen/` folder too, and the job in the bundle."""
    out.mkdir(parents=True, exist_ok=True)
    built = [build_app(kind, settings, out, lakebase) for kind in apps]
    if shards:
        from zerostream_desktop.webapps import load_job

        load_job.write_loadgen(out)
    (out / "databricks.yml").write_text(bundle_yaml(settings, lakebase, warehouse_id, shards=shards), encoding="utf-8")
    return built
