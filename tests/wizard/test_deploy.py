"""`zerostream webapps deploy` against the workspace emulator, through the real databricks-sdk over HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service import apps, workspace

from tests.emulators.workspace import serve_workspace
from tests.wizard.test_setup_engine import setup
from zerostream_desktop.cli import main

pytestmark = pytest.mark.integration
APPS = ("zs-mobile-app", "zs-dashboard-app")


@pytest.fixture
def ws(ws):  # the conftest's workspace, set up: the apps exist, with no compute, as setup leaves them
    assert setup("apply") == 0
    return ws


def client(ws) -> WorkspaceClient:
    return WorkspaceClient(host=ws.base_url, token=ws.token, auth_type="pat")


def remote_dir(ws, app: str) -> str:
    return f"/Users/{ws.user.user_name}/zerostream-apps/{app}"


def build_dir(app: str) -> Path:
    return Path(os.environ["ZEROSTREAM_DATA_DIR"]) / "webapps-build" / app


def test_deploy_uploads_the_build_as_files_starts_compute_and_runs_it(ws, capsys):
    assert main(["webapps", "deploy"]) == 0
    out = capsys.readouterr().out
    for app in APPS:
        folder = build_dir(app)
        local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        base = remote_dir(ws, app)
        remote = {p[len(base) + 1 :]: o for p, o in ws.files.items() if p.startswith(base + "/")}
        remote_files = {k: o for k, o in remote.items() if o.kind is not workspace.ObjectType.DIRECTORY}
        assert {k: o.content for k, o in remote_files.items()} == local  # the uploaded files equal the build
        assert all(o.kind is workspace.ObjectType.FILE for o in remote_files.values())  # never a notebook
        info = ws.apps[app]
        assert info.compute_status.state is apps.ComputeState.ACTIVE
        assert info.active_deployment.status.state is apps.AppDeploymentState.SUCCEEDED
        assert info.active_deployment.source_code_path == f"/Workspace{base}"
        (dep,) = ws.deployments[app].values()
        assert dep.files == local  # what the platform would run is the build
        assert f"{app}: deployed" in out and info.url in out and "RUNNING" in out
    assert "starting the app's compute" in out


def test_a_second_deploy_of_the_same_build_changes_nothing_and_says_so(ws, capsys):
    assert main(["webapps", "deploy"]) == 0
    imports, deployments = len(ws.imports), sum(len(d) for d in ws.deployments.values())
    capsys.readouterr()
    assert main(["webapps", "deploy"]) == 0
    out = capsys.readouterr().out
    assert len(ws.imports) == imports and sum(len(d) for d in ws.deployments.values()) == deployments
    assert out.count("unchanged: already running this build") == 2 and "no file changed" in out


def test_a_changed_setting_uploads_only_what_changed(ws, capsys, monkeypatch):
    assert main(["webapps", "deploy", "--app", "mobile"]) == 0
    before = len(ws.imports)
    monkeypatch.setenv("SIM_DEVICES", "250")
    assert main(["webapps", "deploy", "--app", "mobile"]) == 0
    assert sorted(p.rsplit("/", 1)[1] for p in ws.imports[before:]) == ["app.yaml", "zerostream-manifest.json"]
    assert len(ws.deployments["zs-mobile-app"]) == 2
    assert "2 files uploaded" in capsys.readouterr().out


def test_a_deploy_that_fails_half_way_resumes(ws, capsys):
    ws.fail_imports_after = 30
    assert main(["webapps", "deploy", "--app", "dashboard"]) == 1
    err = capsys.readouterr().err
    assert "Deploy the web apps" in err and "injected fault" in err
    assert not ws.deployments.get("zs-dashboard-app")
    ws.fail_imports_after = None
    assert main(["webapps", "deploy", "--app", "dashboard"]) == 0
    (dep,) = ws.deployments["zs-dashboard-app"].values()
    folder = build_dir("zs-dashboard-app")
    assert dep.files == {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_stale_files_are_removed(ws):
    assert main(["webapps", "deploy", "--app", "mobile"]) == 0
    stray = f"{remote_dir(ws, 'zs-mobile-app')}/old_module.py"
    client(ws).workspace.import_(stray, content="cHJpbnQoMSk=", format=workspace.ImportFormat.AUTO, overwrite=True)
    assert main(["webapps", "deploy", "--app", "mobile"]) == 0
    assert stray not in ws.files
    (_, latest) = sorted(ws.deployments["zs-mobile-app"].values(), key=lambda d: d.info.create_time)
    assert "old_module.py" not in latest.files


def test_the_emulator_refuses_a_deploy_to_stopped_compute_as_the_service_does(ws):
    c = client(ws)
    with pytest.raises(InvalidParameterValue, match="no active compute"):
        c.apps.deploy("zs-mobile-app", apps.AppDeployment(source_code_path="/Workspace/Users/x"))


def test_a_failed_deployment_names_the_app_and_the_fix(ws, capsys):
    ws.deny_deploy = "the app crashed while starting: ModuleNotFoundError"
    assert main(["webapps", "deploy", "--app", "mobile"]) == 1
    err = capsys.readouterr().err
    assert "ModuleNotFoundError" in err


def test_a_missing_app_says_to_run_setup_first(ws, capsys):
    c = client(ws)
    c.apps.delete("zs-dashboard-app")
    assert main(["webapps", "deploy", "--app", "dashboard"]) == 1
    err = capsys.readouterr().err
    assert "app zs-dashboard-app does not exist" in err and "zerostream setup apply" in err


def test_source_imports_make_notebooks_in_the_emulator_as_in_the_service(ws):
    """The trap deploy avoids: a .py imported as SOURCE becomes a notebook without its extension."""
    c = client(ws)
    home = f"/Users/{ws.user.user_name}"
    c.workspace.import_(f"{home}/a.py", content="cHJpbnQoMSk=", language=workspace.Language.PYTHON,
                        format=workspace.ImportFormat.SOURCE, overwrite=True)  # fmt: skip
    assert c.workspace.get_status(f"{home}/a").object_type is workspace.ObjectType.NOTEBOOK
    c.workspace.import_(f"{home}/b.py", content="cHJpbnQoMSk=", format=workspace.ImportFormat.AUTO, overwrite=True)
    assert c.workspace.get_status(f"{home}/b.py").object_type is workspace.ObjectType.FILE


def test_setup_apply_deploy_apps_deploys_after_provisioning(monkeypatch, capsys):
    with serve_workspace() as w:
        for name, value in {"DATABRICKS_HOST": w.base_url, "DATABRICKS_TOKEN": w.token, "INFRA_PREFIX": "zd"}.items():
            monkeypatch.setenv(name, value)
        assert main(["setup", "apply", "--deploy-apps"]) == 0
        out = capsys.readouterr().out
        assert "Deploying the web apps" in out and "zd-dashboard-app: deployed" in out
        assert {a.app_status.state for a in w.apps.values()} == {apps.ApplicationState.RUNNING}
        assert main(["setup", "plan"]) == 0  # the same command line as before for the rest
