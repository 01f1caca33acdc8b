"""Screenshots of each setup wizard page, run against the workspace emulator (tests/emulators), offscreen.

PYTHONPATH=. .venv/bin/python scripts/wizard_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.emulators.workspace import serve_workspace  # noqa: E402
from tests.services.keyring import InMemoryKeyring  # noqa: E402
from zerostream_desktop.core import secrets  # noqa: E402
from zerostream_desktop.core.settings import load_settings  # noqa: E402
from zerostream_desktop.ui.setup_wizard import SetupWizard  # noqa: E402


def wait(app: QApplication, predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the wizard did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    with serve_workspace() as ws, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={"INFRA_PREFIX": "demo"}, search_dirs=[])
        store = secrets.KeyringSecretStore(backend=InMemoryKeyring())
        wizard = SetupWizard(settings, store=store, config_dir=Path(tmp))
        wizard.show()
        page = wizard.connection
        page.method.setCurrentIndex(page.method.findData("pat"))
        page.host.setText(ws.base_url)
        page.token.setText(ws.token)
        page.test_button.click()
        wait(app, lambda: page.verified)
        shots = [("wizard-1-connection.png", None)]
        wizard.grab().save(str(out / shots[0][0]))
        wizard.next()
        wizard.names_page.lakebase.setChecked(True)
        wizard.grab().save(str(out / "wizard-2-names.png"))
        wizard.next()
        wait(app, lambda: wizard.plan_page.ready)
        wizard.grab().save(str(out / "wizard-3-plan.png"))
        wizard.next()
        wait(app, lambda: wizard.apply_page.finished, 60)
        wizard.grab().save(str(out / "wizard-4-apply.png"))
        wizard.next()
        wizard.grab().save(str(out / "wizard-5-finish.png"))
        wizard.close()
    print(f"saved wizard-1..5 PNGs in {out}")


if __name__ == "__main__":
    main()
