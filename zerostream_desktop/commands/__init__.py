"""Subcommands of the `zerostream` command line, one module each."""
