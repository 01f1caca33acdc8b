"""Print the runtime requirements the web apps need: the project's, without the desktop-only Qt packages.

Used to build the Python 3.11 environment the tests import the web apps in (Databricks Apps runs 3.11).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

DESKTOP_ONLY = ("pyside6", "qasync", "pyqtgraph")


def main() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *sys.argv[1:]]
    for requirement in wanted:
        if not requirement.lower().startswith(DESKTOP_ONLY):
            print(requirement)  # noqa: T201


if __name__ == "__main__":
    main()
