"""The setup wizard driven page by page against the workspace emulator, offscreen."""

from __future__ import annotations

import pytest

from tests.emulators.workspace import serve_workspace
from zerostream_desktop.core import secrets
from zerostream_desktop.core.settings import load_settings
from zerostream_desktop.ui.setup_wizard import SetupWizard

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@pytest.fixture
def ws():
    with serve_workspace() as w:
        yield w


def open_wizard(qtbot, ws, tmp_path, token=None, store=None):
    settings = load_settings(environ={"INFRA_PREFIX": "zsw"}, search_dirs=[])
    wizard = SetupWizard(settings, store=store or secrets.KeyringSecretStore(), config_dir=tmp_path)
    qtbot.addWidget(wizard)
    wizard.show()
    page = wizard.connection
    page.method.setCurrentIndex(page.method.findData("pat"))
    page.host.setText(ws.base_url)
    page.token.setText(token or ws.token)
    return wizard


def to_plan(qtbot, wizard, lakebase: bool = False) -> dict[str, str]:
    """Test the connection, accept the names, wait for the plan; the plan's statuses."""
    wizard.connection.test_button.click()
    qtbot.waitUntil(lambda: wizard.connection.verified, timeout=20_000)
    wizard.next()
    wizard.names_page.lakebase.setChecked(lakebase)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.plan_page.ready, timeout=20_000)
    return wizard.plan_page.table.statuses()


def test_connect_plan_apply_finish_then_nothing_left_to_do(qtbot, ws, tmp_path):
    wizard = open_wizard(qtbot, ws, tmp_path)
    assert not wizard.button(wizard.WizardButton.NextButton).isEnabled()  # test the connection first
    wizard.connection.test_button.click()
    qtbot.waitUntil(lambda: wizard.connection.verified, timeout=20_000)
    assert wizard.connection.result.text() == f"✔ Signed in as analyst@example.com on {ws.base_url}"
    wizard.next()
    assert wizard.currentPage() is wizard.names_page
    wizard.names_page.lakebase.setChecked(True)
    wizard.names_page.load_job.setChecked(True)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.plan_page.ready, timeout=20_000)
    planned = wizard.plan_page.table.statuses()
    assert planned["SQL warehouse"] == "will create" and planned["Lakebase instance and synced table"] == "will create"
    assert ws.warehouses == {}
    wizard.next()
    qtbot.waitUntil(lambda: wizard.apply_page.finished, timeout=60_000)
    applied = wizard.apply_page.table.statuses()
    assert set(applied.values()) == {"created"}, applied
    assert "zsw-lakebase" in ws.database_instances and "zsw_warehouse" in {w.info.name for w in ws.warehouses.values()}
    sp = next(iter(ws.service_principals.values()))
    assert wizard.store.get(secrets.zerobus_client_secret_key(sp.application_id))
    wizard.next()
    text = wizard.finish_page.summary.text()
    assert "Created: 10 step(s)." in text and "generated_config.env" in text
    assert ws.secret_scopes["zsw"]["zerobus-client-secret"] == wizard.store.get(
        secrets.zerobus_client_secret_key(sp.application_id)
    )
    finish = wizard.finish_page
    finish.deploy_button.click()
    qtbot.waitUntil(lambda: finish.deployed is not None, timeout=60_000)
    assert finish.deployed, finish.log.toPlainText()
    assert "✔ zsw-mobile-app: deployed, RUNNING" in finish.log.toPlainText()
    assert {a.active_deployment.status.state.value for a in ws.apps.values()} == {"SUCCEEDED"}
    finish.verify_button.click()  # no ZeroBus endpoint was given: the probe fails and says what to set
    qtbot.waitUntil(lambda: finish.verified is not None, timeout=60_000)
    log = finish.log.toPlainText()
    assert finish.verified is False
    assert "✘ Probe through ZeroBus: streaming to Databricks needs ZEROBUS_SERVER_ENDPOINT" in log
    assert finish.deploy_button.isEnabled()

    again = open_wizard(qtbot, ws, tmp_path)
    to_plan(qtbot, again, lakebase=True)
    assert again.plan_page.subTitle() == "Everything exists.", again.plan_page.table.statuses()


def test_a_bad_token_is_explained_and_blocks_the_next_page(qtbot, ws, tmp_path):
    wizard = open_wizard(qtbot, ws, tmp_path, token="dapi-wrong")
    wizard.connection.test_button.click()
    qtbot.waitUntil(lambda: wizard.connection.test_button.isEnabled(), timeout=20_000)
    assert "refused the credentials" in wizard.connection.result.text()
    assert not wizard.button(wizard.WizardButton.NextButton).isEnabled()


def test_a_failure_during_apply_is_named_and_the_next_run_resumes(qtbot, ws, tmp_path):
    wizard = open_wizard(qtbot, ws, tmp_path)
    to_plan(qtbot, wizard)
    ws.deny.append(("POST", "/api/2.0/apps"))  # apps fail: a partial apply
    wizard.next()
    qtbot.waitUntil(lambda: wizard.apply_page.finished, timeout=60_000)
    assert "Stopped at Companion Databricks Apps" in wizard.apply_page.subTitle()
    ws.deny.clear()
    again = open_wizard(qtbot, ws, tmp_path)
    to_plan(qtbot, again)
    todo = {k for k, v in again.plan_page.table.statuses().items() if v == "will create"}
    assert todo == {"Companion Databricks Apps", "Grants for the apps' principals", "generated_config.env"}


def test_cancel_stops_after_the_current_step_and_the_next_run_picks_up_the_rest(qtbot, ws, tmp_path):
    wizard = open_wizard(qtbot, ws, tmp_path)
    to_plan(qtbot, wizard)
    wizard.next()
    wizard.apply_page.cancel_button.click()  # while the first step runs
    qtbot.waitUntil(lambda: wizard.apply_page.finished, timeout=60_000)
    statuses = wizard.apply_page.table.statuses()
    assert "cancelled" in statuses.values() and "Cancelled." in wizard.apply_page.subTitle()
    again = open_wizard(qtbot, ws, tmp_path)
    to_plan(qtbot, again)
    replanned = again.plan_page.table.statuses()
    cancelled = {k for k, v in statuses.items() if v == "cancelled"}
    assert cancelled and cancelled <= {k for k, v in replanned.items() if v in ("will create", "skipped")}
    assert {k for k, v in statuses.items() if v == "created"} <= {k for k, v in replanned.items() if v == "exists"}
