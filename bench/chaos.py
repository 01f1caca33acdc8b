"""The fault campaign, long: `zerostream stream` cycles on one data folder, one fault per cycle at a random
moment (see tests/chaos/campaign.py), then the table of what was lost (must be 0), duplicated and how long
recovery took.

    PYTHONPATH=. .venv/bin/python bench/chaos.py --cycles 100 --seed 7 [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")

from tests.chaos.campaign import Campaign  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cycles", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", type=Path, help="data folder to use and keep (default: a temporary one)")
    args = p.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="zerostream-chaos-"))
    campaign = Campaign(folder / "data", seed=args.seed)
    campaign.mount()  # a real full disk when run as root; else the writer's knob
    started = time.monotonic()
    try:
        campaign.run(args.cycles, progress=lambda c: print(f"cycle {c.number}: {c.fault}, lost {c.lost}", flush=True))
    finally:
        print(campaign.table())
        campaign.unmount()
        print(f"\n{time.monotonic() - started:.0f} s in all; data folder {folder if args.keep else '(removed)'}")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if sum(c.lost for c in campaign.cycles) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
