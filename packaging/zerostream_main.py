"""The frozen program's entry point: the `zerostream` command (the desktop app by default)."""

from zerostream_desktop.cli import entry

entry()
