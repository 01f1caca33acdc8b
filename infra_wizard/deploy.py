"""Deploy an already built app folder to Databricks Apps (the caller builds it; nothing here imports it).

For each app: upload the folder to the workspace (`workspace.import_` in AUTO format, so `.py` files
stay files and never become notebooks; only the files whose SHA-256 differs from what the
workspace's copy of the build manifest says; files the build no longer has are deleted; the
manifest goes last, so a deploy that fails half-way is resumed by the next one), start the app's
compute if it is stopped (setup creates the apps without compute), then ask Apps to deploy the
folder and wait for the deployment with progress. A second deploy of the same build uploads nothing,
finds the deployment already running from that folder, and says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service import apps, workspace

from infra_wizard.engine import SetupError

MANIFEST = "zerostream-manifest.json"  # {"files": {path: sha256}} of a build, itself excluded
STEP = "Deploy the web apps"
Say = Callable[[str], None]


@dataclass
class DeployReport:
    app: str
    source_path: str
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    started_compute: bool = False
    deployment_id: str | None = None
    state: str = ""
    url: str | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.deleted or self.started_compute or self.deployment_id)


def apps_root(client: WorkspaceClient) -> str:
    """Where the app folders go: the signed-in user's workspace folder."""
    return f"/Workspace/Users/{client.current_user.me().user_name}/zerostream-apps"


def local_files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise SetupError(STEP, f"{folder} is not a built app folder", "run `zerostream webapps build` first")
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _remote_manifest(client: WorkspaceClient, remote: str) -> dict[str, str]:
    try:
        exported = client.workspace.export(f"{remote}/{MANIFEST}", format=workspace.ExportFormat.AUTO)
    except NotFound:
        return {}
    try:
        files = json.loads(base64.b64decode(exported.content or ""))["files"]
    except (ValueError, KeyError, TypeError):
        return {}  # unreadable: upload everything
    return {str(k): str(v) for k, v in files.items()}


def _remote_files(client: WorkspaceClient, remote: str) -> list[str]:
    try:
        return [
            (o.path or "").removeprefix("/Workspace").removeprefix(remote.removeprefix("/Workspace") + "/")
            for o in client.workspace.list(remote, recursive=True)
            if o.object_type is not workspace.ObjectType.DIRECTORY
        ]
    except NotFound:
        return []


def upload(client: WorkspaceClient, folder: Path, remote: str, report: DeployReport, say: Say) -> None:
    """Make the workspace folder hold exactly the build; upload only what differs."""
    local = local_files(folder)
    known = _remote_manifest(client, remote)
    present = set(_remote_files(client, remote))
    changed = [p for p in local if p != MANIFEST and (known.get(p) != local[p] or p not in present)]
    stale = sorted(present - set(local))
    if changed or stale or MANIFEST not in present:
        changed.append(MANIFEST)  # last: until it is there, the next deploy compares with the old one
    made: set[str] = set()
    for i, rel in enumerate(changed, 1):
        parent = f"{remote}/{rel}".rsplit("/", 1)[0]
        if parent not in made:
            client.workspace.mkdirs(parent)
            made.add(parent)
        content = base64.b64encode((folder / rel).read_bytes()).decode()
        client.workspace.import_(
            f"{remote}/{rel}", content=content, format=workspace.ImportFormat.AUTO, overwrite=True
        )
        report.uploaded.append(rel)
        if i % 20 == 0 or i == len(changed):
            say(f"{report.app}: uploaded {i}/{len(changed)} files")
    for rel in stale:
        client.workspace.delete(f"{remote}/{rel}")
        report.deleted.append(rel)
    if not changed:
        say(f"{report.app}: the workspace already holds this build ({len(local)} files)")


def _wait(what: str, poll: Callable[[], tuple[bool, str]], say: Say, timeout_s: float, every_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        done, state = poll()
        if state != last:
            say(f"{what}: {state}")
            last = state
        if done:
            return state
        if time.monotonic() > deadline:
            raise SetupError(STEP, f"{what} did not finish within {timeout_s:.0f} s (last: {state})",
                             "look at the app in the workspace, then deploy again")  # fmt: skip
        time.sleep(every_s)


def ensure_compute(client: WorkspaceClient, name: str, report: DeployReport, say: Say, timeout_s: float,
                   every_s: float) -> apps.App:  # fmt: skip
    app = client.apps.get(name)
    state = app.compute_status.state if app.compute_status else None
    if state in (apps.ComputeState.STOPPED, apps.ComputeState.ERROR, None):
        say(f"{name}: starting the app's compute (it was {state.value if state else 'not created'})")
        client.apps.start(name)
        report.started_compute = True
    elif state is not apps.ComputeState.ACTIVE:
        say(f"{name}: the app's compute is {state.value}; waiting")

    def poll() -> tuple[bool, str]:
        nonlocal app
        app = client.apps.get(name)
        s = app.compute_status.state if app.compute_status else None
        if s is apps.ComputeState.ERROR:
            message = app.compute_status.message if app.compute_status else ""
            raise SetupError(STEP, f"the compute of {name} failed to start: {message}", "see the app's logs")
        return s is apps.ComputeState.ACTIVE, f"compute {s.value if s else '?'}"

    _wait(f"{name}", poll, say, timeout_s, every_s)
    return app


def deploy_app(
    client: WorkspaceClient,
    name: str,
    folder: Path,
    remote_root: str | None = None,
    say: Say | None = None,
    timeout_s: float = 1200.0,
    every_s: float = 2.0,
) -> DeployReport:
    """Upload `folder` and deploy it as app `name`; SetupError names what failed and the fix."""
    say = say or (lambda _: None)
    started = time.monotonic()
    remote = f"{remote_root or apps_root(client)}/{name}"
    report = DeployReport(name, remote)
    try:
        client.apps.get(name)
    except NotFound:
        raise SetupError(STEP, f"app {name} does not exist", "run `zerostream setup apply` first") from None
    upload(client, folder, remote, report, say)
    app = ensure_compute(client, name, report, say, timeout_s, every_s)
    active = app.active_deployment
    same = (
        active is not None
        and (active.source_code_path or "").removeprefix("/Workspace") == remote.removeprefix("/Workspace")
        and active.status is not None
        and active.status.state is apps.AppDeploymentState.SUCCEEDED
    )
    if report.uploaded or report.deleted or not same:
        wait = client.apps.deploy(
            name, apps.AppDeployment(source_code_path=remote, mode=apps.AppDeploymentMode.SNAPSHOT)
        )
        dep_id = (wait.response.deployment_id if wait.response is not None else None) or ""
        report.deployment_id = dep_id

        def poll() -> tuple[bool, str]:
            dep = client.apps.get_deployment(name, dep_id)
            st = dep.status
            state = st.state if st else None
            if state in (apps.AppDeploymentState.FAILED, apps.AppDeploymentState.CANCELLED):
                raise SetupError(STEP, f"the deployment of {name} {state.value.lower()}: {st.message if st else ''}",
                                 "see the app's logs in the workspace, fix, and deploy again")  # fmt: skip
            return state is apps.AppDeploymentState.SUCCEEDED, f"deployment {state.value if state else '?'}"

        _wait(f"{name}", poll, say, timeout_s, every_s)
    else:
        say(f"{name}: already running this build; nothing to deploy")
    app = client.apps.get(name)
    report.url = app.url
    report.state = app.app_status.state.value if app.app_status and app.app_status.state else "?"
    report.seconds = time.monotonic() - started
    return report
