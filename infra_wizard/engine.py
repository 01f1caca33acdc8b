"""The provisioning engine: a plan of idempotent steps over databricks-sdk (no Qt).

Each step can check what exists, create what is missing, describe itself and remove what it
created. `plan()` only looks; `apply()` creates what is missing, step by step, recording each
creation in the setup state file as it happens, so a failure or a cancel part-way leaves a
consistent record and the next apply resumes; `destroy()` removes only what that record says this
tool created, newest first, and keeps the data table unless asked. Secrets go to the keyring only.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from databricks.sdk.errors.base import DatabricksError

from zerostream_desktop.core import paths
from zerostream_desktop.core.secrets import SecretStore, redact_library_logs

log = logging.getLogger(__name__)
redact_library_logs()  # the SDK logs response bodies at DEBUG; a new principal's secret is in one

CREATED_BY = "zerostream-setup"


class Status(enum.StrEnum):
    EXISTS = "exists"
    MISSING = "will create"
    DRIFT = "drift"
    SKIPPED = "skipped"
    CREATED = "created"
    FAILED = "failed"
    REMOVED = "removed"
    KEPT = "kept"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Check:
    status: Status
    detail: str


class SetupError(RuntimeError):
    """A step failed; the message names the step and the fix."""

    def __init__(self, step: str, message: str, fix: str = "") -> None:
        super().__init__(f"{step}: {message}" + (f" ({fix})" if fix else ""))
        self.step, self.message, self.fix = step, message, fix


@dataclass
class Names:
    """What to create, from the settings (the original variable names) and the wizard's choices."""

    prefix: str
    catalog: str
    schema: str
    table: str
    warehouse_name: str
    warehouse_size: str = "Small"
    sp_name: str = ""
    lakebase: bool = False
    lakebase_instance: str = ""
    lakebase_database: str = "zerobusstream"
    lakebase_schema: str = "sensordata"
    lakebase_capacity: str = "CU_2"
    mobile_app: str = ""
    dashboard_app: str = ""
    zerobus_endpoint: str | None = None
    region: str | None = None
    load_job: bool = False  # a secret scope with the principal's secret, for the load job's shards

    @property
    def full_table(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"

    @classmethod
    def from_settings(
        cls, settings: Any, lakebase: bool = False, region: str | None = None, load_job: bool = False
    ) -> Names:
        return cls(
            prefix=settings.infra_prefix, catalog=settings.catalog, schema=settings.schema_name,
            table=settings.table_name, warehouse_name=settings.warehouse_name,
            warehouse_size=settings.warehouse_cluster_size, sp_name=settings.zerobus_sp_name, lakebase=lakebase,
            lakebase_instance=settings.lakebase_instance,
            lakebase_database=settings.lakebase_databases.split(",")[0].strip(),
            lakebase_schema=settings.lakebase_schema, lakebase_capacity=settings.lakebase_capacity,
            mobile_app=settings.mobile_app_name, dashboard_app=settings.dashboard_app_name,
            zerobus_endpoint=settings.zerobus_server_endpoint, region=region, load_job=load_job,
        )  # fmt: skip


class SetupState:
    """What this tool created in one workspace, kept in the user's config folder (no secrets)."""

    def __init__(self, host: str, folder: Path | None = None) -> None:
        digest = hashlib.sha256(host.rstrip("/").encode()).hexdigest()[:12]
        self.path = (folder or paths.user_config_dir()) / f"setup-state-{digest}.json"
        self.host = host
        self._lock = threading.Lock()
        self.created: list[dict[str, str]] = []
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.created = list(data.get("created", []))

    def record(self, kind: str, ident: str, **extra: str) -> None:
        with self._lock:
            if not self.has(kind, ident):
                self.created.append({"kind": kind, "id": ident, "at": dt.datetime.now(dt.UTC).isoformat(), **extra})
                self._save()

    def forget(self, kind: str, ident: str) -> None:
        with self._lock:
            self.created = [c for c in self.created if not (c["kind"] == kind and c["id"] == ident)]
            self._save()

    def has(self, kind: str, ident: str) -> bool:
        return any(c["kind"] == kind and c["id"] == ident for c in self.created)

    def of_kind(self, kind: str) -> list[dict[str, str]]:
        return [c for c in self.created if c["kind"] == kind]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"host": self.host, "created": self.created}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass
class Context:
    workspace: WorkspaceClient
    names: Names
    store: SecretStore
    state: SetupState
    config_dir: Path
    outputs: dict[str, str] = field(default_factory=dict)
    allow_plaintext_keyring: bool = False  # put a principal's secret in a plain-file keyring all the same


class Step(Protocol):
    key: str
    title: str

    def describe(self, ctx: Context) -> str: ...

    def check(self, ctx: Context) -> Check: ...

    def create(self, ctx: Context) -> str: ...

    def destroy(self, ctx: Context, include_data: bool) -> str | None: ...


@dataclass(frozen=True)
class StepResult:
    key: str
    title: str
    status: Status
    detail: str


Progress = Callable[[StepResult], None]


def explain(step: str, exc: BaseException) -> SetupError:
    """A workspace error as a message that names the step and the fix."""
    if isinstance(exc, SetupError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, Unauthenticated):
        return SetupError(step, f"the workspace refused the credentials ({text})",
                          "check the token or profile, or sign in again with `databricks auth login`")  # fmt: skip
    if isinstance(exc, PermissionDenied):
        return SetupError(step, f"permission denied ({text})",
                          "ask a workspace admin for this permission, or run the setup as an admin")  # fmt: skip
    if isinstance(exc, ResourceExhausted):
        return SetupError(step, f"a quota is used up ({text})", "free some capacity or ask for a higher quota")
    if isinstance(exc, NotFound) and "feature" in text.lower():
        return SetupError(step, f"not enabled in this workspace ({text})", "ask an admin to enable it")
    if isinstance(exc, DatabricksError):
        return SetupError(step, text)
    if isinstance(exc, (OSError, ValueError)):
        return SetupError(step, f"cannot reach the workspace ({text})", "check the host and the network")
    return SetupError(step, text)


def plan(ctx: Context, steps: Sequence[Step]) -> list[StepResult]:
    """What exists, what would be created, what has drifted; changes nothing."""
    out = []
    for step in steps:
        try:
            c = step.check(ctx)
        except Exception as exc:  # a failed look is reported as that step's failure, with the fix
            err = explain(step.title, exc)
            out.append(StepResult(step.key, step.title, Status.FAILED, str(err)))
            if isinstance(exc, (Unauthenticated, OSError, ValueError)) or "refused the credentials" in err.message:
                break  # the next steps would fail the same way: one clear message is better
            continue
        out.append(StepResult(step.key, step.title, c.status, c.detail))
    return out


def apply(
    ctx: Context, steps: Sequence[Step], progress: Progress | None = None, cancel: threading.Event | None = None
) -> list[StepResult]:
    """Create what is missing, in order. Stops at the first failure (what remains is listed as not done)."""
    results: list[StepResult] = []

    def emit(r: StepResult) -> None:
        results.append(r)
        log.info("setup %s: %s: %s", r.key, r.status, r.detail)
        if progress:
            progress(r)

    for i, step in enumerate(steps):
        if cancel is not None and cancel.is_set():
            for rest in steps[i:]:
                emit(StepResult(rest.key, rest.title, Status.CANCELLED, "not started: cancelled"))
            break
        try:
            c = step.check(ctx)
            if c.status is Status.MISSING:
                emit(StepResult(step.key, step.title, Status.CREATED, step.create(ctx)))
            else:
                emit(StepResult(step.key, step.title, c.status, c.detail))
        except Exception as exc:  # stop here: the next apply resumes from this step
            err = explain(step.title, exc)
            emit(StepResult(step.key, step.title, Status.FAILED, str(err)))
            for rest in steps[i + 1 :]:
                emit(StepResult(rest.key, rest.title, Status.SKIPPED, "not done: an earlier step failed"))
            break
    return results


def destroy(
    ctx: Context, steps: Sequence[Step], include_data: bool = False, progress: Progress | None = None
) -> list[StepResult]:
    """Remove what this tool created, newest step first."""
    results = []
    for step in reversed(steps):
        try:
            detail = step.destroy(ctx, include_data)
        except Exception as exc:  # keep going: remove what can be removed, report the rest
            r = StepResult(step.key, step.title, Status.FAILED, str(explain(step.title, exc)))
        else:
            if detail is None:
                continue
            kept = detail.startswith("kept")
            r = StepResult(step.key, step.title, Status.KEPT if kept else Status.REMOVED, detail)
        results.append(r)
        if progress:
            progress(r)
    return results
