"""Print the runtime requirements the web apps need: the project's, without the desktop-only Qt packages.

Used to build the Python 3.11 environment the tests import the web apps in (Databricks Apps runs 3.11).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

DESKTOP_ONLY = ("pyside6", "qasync", "pyqtgraph")


def web_requirements() -> list[str]:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    return [r for r in project["dependencies"] if not r.lower().startswith(DESKTOP_ONLY)]


def main() -> None:
    for requirement in [*web_requirements(), *sys.argv[1:]]:
        print(requirement)  # noqa: T201


if __name__ == "__main__":
    main()
