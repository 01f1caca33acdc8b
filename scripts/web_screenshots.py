"""Screenshots of the two web apps for the README, in Debian's Chromium: runs `zerostream webapps serve` on a
temporary data folder, streams 200 devices from the simulator page, selects a device, then a client on the
dashboard, and saves PNGs.

    PYTHONPATH=. .venv/bin/python scripts/web_screenshots.py [--out docs/screenshots] [--seconds 12]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.integration.localbus_helpers import free_port
from tests.webapps.browser import chromium


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--seconds", type=float, default=12.0, help="how long to stream before the shots")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="zerostream-web-shots-"))
    env = {**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": "shots", "ZEROSTREAM_WEBAPPS_TOKEN": "shots",
           "RUST_LOG": "error", "SIM_DEVICES": "200", "SIM_SEED": "2026", "SIM_REGION": "London",
           "STREAM_INTERVAL_MS": "1000"}  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "zerostream_desktop", "--data-dir", str(data_dir), "webapps", "serve"]
    server = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(3)]
        found = [re.search(r"(mobile|dashboard)[a-z ]*:\s+(\S+)", line) for line in lines]
        urls = {m.group(1): m.group(2) for m in found if m}
        with chromium() as browser:
            browser.set_window_size(1400, 900)
            browser.get(urls["mobile"])
            time.sleep(2)
            browser.find_element(By.ID, "start").click()
            time.sleep(args.seconds)
            browser.find_elements(By.CSS_SELECTOR, "#devices tr")[7].click()
            time.sleep(4)
            browser.save_screenshot(str(out / "web-mobile.png"))
            browser.get(urls["dashboard"])
            time.sleep(4)
            browser.find_elements(By.CSS_SELECTOR, ".client-row")[3].click()
            time.sleep(4)
            browser.save_screenshot(str(out / "web-dashboard.png"))
            browser.find_element(By.CSS_SELECTOR, "button[data-tab=raw]").click()
            time.sleep(2)
            browser.save_screenshot(str(out / "web-raw-stream.png"))
        print(f"saved web-mobile.png, web-dashboard.png and web-raw-stream.png in {out}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
