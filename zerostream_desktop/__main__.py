from zerostream_desktop.cli import entry

entry()
