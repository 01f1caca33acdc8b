"""One machine-readable file of the figures the benchmark programs measure.

Each program records its figures under its own name in `bench/results/latest.json`; a run of a
program replaces its own figures and keeps the others'. A figure has a name, a value, a unit and,
where it is compared with one, the ceiling measured in the same run (its name, value and the
ratio). Run on its own, this prints the file as a short table:

    .venv/bin/python bench/results.py [--file bench/results/latest.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_FILE = Path(__file__).with_name("results") / "latest.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    ceiling_name: str | None = None
    ceiling: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.ceiling if self.ceiling else None


class Results:
    """The figures of one program's run, saved beside the other programs' last figures."""

    def __init__(self, program: str, path: Path = RESULTS_FILE) -> None:
        self.program = program
        self.path = path
        self.figures: list[Figure] = []

    def add(self, name: str, value: float, unit: str, ceiling: tuple[str, float] | None = None) -> None:
        ceiling_name, ceiling_value = ceiling if ceiling else (None, None)
        self.figures.append(Figure(name, float(value), unit, ceiling_name, ceiling_value))

    def save(self) -> Path:
        data = _read(self.path)
        data["machine"] = machine()
        data.setdefault("programs", {})[self.program] = {
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(self.path)
        print(f"figures recorded in {self.path}")
        return self.path


def machine() -> dict[str, object]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}"}


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def table(path: Path = RESULTS_FILE) -> str:
    data = _read(path)
    programs = data.get("programs")
    if not isinstance(programs, dict) or not programs:
        return f"no figures in {path} yet: run make bench"
    lines = [f"{'program':<16} {'figure':<52} {'value':>14} {'unit':<9} {'vs ceiling':>10}  ceiling"]
    for program, run in sorted(programs.items()):
        for f in run.get("figures", []):
            ratio = f"{f['ratio']:.2f}x" if f.get("ratio") is not None else ""
            ceiling = f"{f['ceiling_name']} ({f['ceiling']:,.0f})" if f.get("ceiling_name") else ""
            lines.append(
                f"{program:<16} {f['name']:<52} {f['value']:>14,.2f} {f['unit']:<9} {ratio:>10}  {ceiling}".rstrip()
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=RESULTS_FILE)
    args = parser.parse_args()
    print(table(args.file))


if __name__ == "__main__":
    sys.exit(main())
