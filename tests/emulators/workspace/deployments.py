"""Workspace files and Databricks Apps deployments: what `zerostream webapps deploy` and `verify` use.

Workspace files (`/api/2.0/workspace/...`): mkdirs, import (JSON with base64 content), export,
get-status, list, delete. Import follows the service's rule for formats: SOURCE (the default) with a
language, or AUTO with a `.py` whose first line is `# Databricks notebook source`, makes a NOTEBOOK
(its extension dropped); AUTO or RAW otherwise make a FILE. Paths are accepted with or without the
`/Workspace` prefix, as the service does.

Apps: start and stop of the app's compute (STARTING -> ACTIVE after `app_start_seconds`), deploys
(refused while the compute is not active, as the service refuses them; the source folder must exist
and hold the files), deployment status (IN_PROGRESS -> SUCCEEDED after `app_deploy_seconds`) and the
app's state, and full updates (PATCH, e.g. a resource added to an existing app). A deployment keeps
a snapshot of the files it was made from, so a test can compare it with the build.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from databricks.sdk.service import apps, workspace
from fastapi import APIRouter, Request

from tests.emulators.workspace import app_runner
from tests.emulators.workspace.state import ApiError, Workspace

NOTEBOOK_HEADER = b"# Databricks notebook source"


@dataclass
class WorkspaceObject:
    kind: workspace.ObjectType
    content: bytes = b""
    language: workspace.Language | None = None
    object_id: int = field(default_factory=lambda: uuid.uuid4().int >> 80)
    modified_at: int = field(default_factory=lambda: int(time.time() * 1000))

    def info(self, path: str) -> workspace.ObjectInfo:
        return workspace.ObjectInfo(
            path=path, object_type=self.kind, object_id=self.object_id, language=self.language,
            size=len(self.content) if self.kind is not workspace.ObjectType.DIRECTORY else None,
            modified_at=self.modified_at,
        )  # fmt: skip


@dataclass
class Deployment:
    info: apps.AppDeployment
    files: dict[str, bytes]  # path inside the source folder -> content, as deployed
    done_at: float
    running: app_runner.RunningApp | None = None  # with Workspace.run_apps
    outcome: str | None = None  # "" once it answers, else why it failed (with run_apps)


def normal(path: str) -> str:
    """`/Workspace/Users/x` and `/Users/x` are the same object."""
    path = "/" + path.strip("/")
    return path.removeprefix("/Workspace") or "/"


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def refresh_app(ws: Workspace, app: apps.App) -> None:
    """Move the app's compute and deployments on as time passes."""
    now = time.monotonic()
    starting = ws.app_starting.get(app.name or "")
    if starting is not None and now >= starting:
        ws.app_starting.pop(app.name or "")
        app.compute_status = apps.ComputeStatus(state=apps.ComputeState.ACTIVE, message="App compute is active.")
    for dep in ws.deployments.get(app.name or "", {}).values():
        st = dep.info.status
        if not (st and st.state is apps.AppDeploymentState.IN_PROGRESS and now >= dep.done_at):
            continue
        if dep.running is not None and dep.outcome is None:
            continue  # the app is starting
        dep.info.update_time = dt.datetime.now(dt.UTC).isoformat()
        app.pending_deployment = None
        if dep.outcome:
            dep.info.status = apps.AppDeploymentStatus(state=apps.AppDeploymentState.FAILED, message=dep.outcome)
            continue
        dep.info.status = apps.AppDeploymentStatus(
            state=apps.AppDeploymentState.SUCCEEDED, message="App started successfully"
        )
        for other in ws.deployments.get(app.name or "", {}).values():  # the new one replaces the old one
            if other is not dep and other.running is not None:
                other.running.stop()
                other.running = None
        app.active_deployment = dep.info
        if dep.running is not None:
            app.url = f"http://127.0.0.1:{dep.running.port}"
    active = app.compute_status and app.compute_status.state is apps.ComputeState.ACTIVE
    current = next((d for d in ws.deployments.get(app.name or "", {}).values() if app.active_deployment
                    and d.info.deployment_id == app.active_deployment.deployment_id), None)  # fmt: skip
    if not active:
        app.app_status = apps.ApplicationStatus(state=apps.ApplicationState.UNAVAILABLE, message="App is stopped.")
    elif current is not None and current.running is not None and current.running.process.poll() is not None:
        app.app_status = apps.ApplicationStatus(
            state=apps.ApplicationState.CRASHED, message=f"App crashed:\n{current.running.tail()}"
        )
    elif app.active_deployment:
        app.app_status = apps.ApplicationStatus(state=apps.ApplicationState.RUNNING, message="App is running.")
    elif app.pending_deployment:
        app.app_status = apps.ApplicationStatus(state=apps.ApplicationState.DEPLOYING, message="App is deploying.")
    else:
        app.app_status = apps.ApplicationStatus(
            state=apps.ApplicationState.UNAVAILABLE, message="App has not been deployed yet."
        )


def router(ws: Workspace) -> APIRouter:
    r = APIRouter()
    files: dict[str, WorkspaceObject] = ws.files
    home = f"/Users/{ws.user.user_name}"
    files.setdefault("/Users", WorkspaceObject(workspace.ObjectType.DIRECTORY))
    files.setdefault(home, WorkspaceObject(workspace.ObjectType.DIRECTORY))

    def get(path: str) -> WorkspaceObject:
        obj = files.get(normal(path))
        if obj is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        return obj

    def mkdirs(path: str) -> None:
        for p in [*_parents(normal(path)), normal(path)]:
            obj = files.get(p)
            if obj is None:
                files[p] = WorkspaceObject(workspace.ObjectType.DIRECTORY)
            elif obj.kind is not workspace.ObjectType.DIRECTORY:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({p}) already exists and is not a directory.")

    # --- workspace files ----------------------------------------------------------------------
    @r.post("/api/2.0/workspace/mkdirs")
    async def _mkdirs(request: Request) -> dict[str, Any]:
        mkdirs((await request.json())["path"])
        return {}

    @r.post("/api/2.0/workspace/import")
    async def _import(request: Request) -> dict[str, Any]:
        body = await request.json()
        if ws.fail_imports_after is not None and len(ws.imports) >= ws.fail_imports_after:
            raise ApiError(500, "INTERNAL_ERROR", "The workspace could not store the file (injected fault).")
        path = normal(body["path"])
        fmt = workspace.ImportFormat(body.get("format") or "SOURCE")
        language = workspace.Language(body["language"]) if body.get("language") else None
        content = base64.b64decode(body.get("content") or "")
        if len(content) > 10 * 1024 * 1024:
            raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "File size imported is too large (limit 10 MB).")
        notebook = (fmt is workspace.ImportFormat.SOURCE and language is not None) or (
            fmt is workspace.ImportFormat.AUTO and path.endswith(".py") and content.startswith(NOTEBOOK_HEADER)
        )
        if fmt is workspace.ImportFormat.SOURCE and language is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "The language field is required for SOURCE imports.")
        if notebook:
            path = path.rsplit(".", 1)[0] if path.endswith(".py") else path
            language = language or workspace.Language.PYTHON
        parent = _parents(path)[-1] if _parents(path) else "/"
        if parent not in files or files[parent].kind is not workspace.ObjectType.DIRECTORY:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist.")
        if path in files and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
        kind = workspace.ObjectType.NOTEBOOK if notebook else workspace.ObjectType.FILE
        files[path] = WorkspaceObject(kind, content, language if notebook else None)
        ws.imports.append(path)
        return {}

    @r.get("/api/2.0/workspace/export")
    def _export(path: str, format: str = "SOURCE") -> dict[str, Any]:  # noqa: A002 (the API's name)
        obj = get(path)
        if obj.kind is workspace.ObjectType.DIRECTORY:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Exporting a directory needs the DBC or AUTO format.")
        return workspace.ExportResponse(
            content=base64.b64encode(obj.content).decode(), file_type=path.rsplit(".", 1)[-1]
        ).as_dict()

    @r.get("/api/2.0/workspace/get-status")
    def _status(path: str) -> dict[str, Any]:
        return get(path).info(normal(path)).as_dict()

    @r.get("/api/2.0/workspace/list")
    def _list(path: str) -> dict[str, Any]:
        obj = get(path)
        base = normal(path)
        if obj.kind is not workspace.ObjectType.DIRECTORY:
            return {"objects": [obj.info(base).as_dict()]}
        children = [p for p in files if p.startswith(base.rstrip("/") + "/") and "/" not in p[len(base) + 1 :]]
        return {"objects": [files[p].info(p).as_dict() for p in sorted(children)]}

    @r.post("/api/2.0/workspace/delete")
    async def _delete(request: Request) -> dict[str, Any]:
        body = await request.json()
        path = normal(body["path"])
        obj = get(path)
        inside = [p for p in files if p.startswith(path.rstrip("/") + "/")]
        if obj.kind is workspace.ObjectType.DIRECTORY and inside and not body.get("recursive"):
            raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
        for p in [path, *inside]:
            files.pop(p, None)
        return {}

    # --- apps: compute, deployments, updates -------------------------------------------------------
    def app_of(name: str) -> apps.App:
        app = ws.apps.get(name)
        if app is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"App '{name}' does not exist.")
        refresh_app(ws, app)
        return app

    @r.post("/api/2.0/apps/{name}/start")
    def _start(name: str) -> dict[str, Any]:
        app = app_of(name)
        if app.compute_status is None or app.compute_status.state is apps.ComputeState.STOPPED:
            app.compute_status = apps.ComputeStatus(state=apps.ComputeState.STARTING, message="Compute is starting.")
            ws.app_starting[name] = time.monotonic() + ws.app_start_seconds
            refresh_app(ws, app)
        return app.as_dict()

    @r.post("/api/2.0/apps/{name}/stop")
    def _stop(name: str) -> dict[str, Any]:
        app = app_of(name)
        ws.app_starting.pop(name, None)
        app.compute_status = apps.ComputeStatus(state=apps.ComputeState.STOPPED, message="App compute is stopped.")
        for dep in ws.deployments.get(name, {}).values():
            if dep.running is not None:
                dep.running.stop()
        refresh_app(ws, app)
        return app.as_dict()

    @r.post("/api/2.0/apps/{name}/deployments")
    async def _deploy(name: str, request: Request) -> dict[str, Any]:
        app = app_of(name)
        body = apps.AppDeployment.from_dict(await request.json())
        if not (app.compute_status and app.compute_status.state is apps.ComputeState.ACTIVE):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           f"Cannot deploy app {name} as there is no active compute. Start the app first.")  # fmt: skip
        source = normal(body.source_code_path or "")
        folder = files.get(source)
        if folder is None or folder.kind is not workspace.ObjectType.DIRECTORY:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Source code path {body.source_code_path} does not exist.")
        snapshot = {
            p[len(source) + 1 :]: o.content
            for p, o in files.items()
            if p.startswith(source + "/") and o.kind is not workspace.ObjectType.DIRECTORY
        }
        if ws.deny_deploy:
            raise ApiError(500, "INTERNAL_ERROR", ws.deny_deploy)
        now = dt.datetime.now(dt.UTC).isoformat()
        info = apps.AppDeployment(
            deployment_id=uuid.uuid4().hex[:32], source_code_path=body.source_code_path,
            mode=body.mode or apps.AppDeploymentMode.SNAPSHOT, creator=ws.user.user_name, create_time=now,
            update_time=now,
            status=apps.AppDeploymentStatus(state=apps.AppDeploymentState.IN_PROGRESS, message="Deploying the app"),
        )  # fmt: skip
        dep = Deployment(info, snapshot, time.monotonic() + ws.app_deploy_seconds)
        if ws.run_apps:
            try:
                dep.running = app_runner.start(ws, app, snapshot, info.deployment_id or "")
            except (ValueError, OSError, yaml.YAMLError) as exc:
                dep.outcome = f"app.yaml cannot be run: {exc}"
            else:

                def ready(outcome: str | None, dep: Deployment = dep) -> None:
                    dep.outcome = outcome or ""

                app_runner.watch_ready(dep.running, ws.app_ready_seconds, ready)
        ws.deployments.setdefault(name, {})[info.deployment_id or ""] = dep
        app.pending_deployment = info
        refresh_app(ws, app)
        return info.as_dict()

    @r.get("/api/2.0/apps/{name}/deployments/{deployment_id}")
    def _deployment(name: str, deployment_id: str) -> dict[str, Any]:
        app_of(name)
        dep = ws.deployments.get(name, {}).get(deployment_id)
        if dep is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Deployment {deployment_id} does not exist.")
        return dep.info.as_dict()

    @r.get("/api/2.0/apps/{name}/deployments")
    def _deployments(name: str) -> dict[str, Any]:
        app_of(name)
        deps = sorted(ws.deployments.get(name, {}).values(), key=lambda d: d.info.create_time or "", reverse=True)
        return {"app_deployments": [d.info.as_dict() for d in deps]}

    @r.patch("/api/2.0/apps/{name}")
    async def _update(name: str, request: Request) -> dict[str, Any]:
        app = app_of(name)
        new = apps.App.from_dict(await request.json())
        app.description = new.description
        app.resources = new.resources
        refresh_app(ws, app)
        return app.as_dict()

    return r
