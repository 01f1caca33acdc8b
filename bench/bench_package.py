"""The packaged build against the venv: launch to a window with the map ready (offscreen), and the self-test.

Needs `make package` first. Each launch starts `zerostream gui` on a fresh data folder (which also
starts localbus) and times it to the log line the map page writes when it reports ready; the app is
then stopped. Runs alternate between the bundle and the venv; medians and the ratio are printed,
with the bundle's size unpacked and packed.

    PYTHONPATH=. .venv/bin/python bench/bench_package.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "ZeroStream" / "zerostream"


def launch_s(command: list[str], timeout: float = 60.0) -> float:
    data = Path(tempfile.mkdtemp(prefix="zerostream-launch-"))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RUST_LOG": "error", "ZEROSTREAM_LOCALBUS_TOKEN": "bench",
           "HOME": str(data / "home")}  # fmt: skip
    log = data / "logs" / "zerostream.log"
    started = time.monotonic()
    proc = subprocess.Popen([*command, "--data-dir", str(data), "gui"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while time.monotonic() - started < timeout:
            if log.exists() and "map page ready" in log.read_text(errors="replace"):
                return time.monotonic() - started
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
            time.sleep(0.02)
        raise TimeoutError("no map within the timeout")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not BUNDLE.exists():
        sys.exit("no bundle: run `make package` first")
    venv = [str(ROOT / ".venv" / "bin" / "python"), "-m", "zerostream_desktop"]
    frozen, source = [], []
    launch_s([str(BUNDLE)])  # warm the page cache once for each, not measured
    launch_s(venv)
    for _ in range(args.runs):
        frozen.append(launch_s([str(BUNDLE)]))
        source.append(launch_s(venv))
    f, v = statistics.median(frozen), statistics.median(source)
    print(f"launch to a window with the map ready, median of {args.runs}: bundle {f:.2f} s, venv {v:.2f} s "
          f"({f / v:.2f}x)")  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([str(BUNDLE), "self-test"], capture_output=True, text=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "RUST_LOG": "error"})  # fmt: skip
    print(f"self-test from the bundle: {time.monotonic() - started:.1f} s, exit {done.returncode}")
    files = [p for p in BUNDLE.parent.rglob("*") if p.is_file() and not p.is_symlink()]
    unpacked = sum(p.stat().st_size for p in files) / 2**20
    tarballs = sorted((ROOT / "dist").glob("ZeroStream-*.tar.gz"))
    packed = f", tarball {tarballs[-1].stat().st_size / 2**20:.0f} MiB" if tarballs else ""
    print(f"bundle {unpacked:.0f} MiB unpacked{packed}")


if __name__ == "__main__":
    main()
