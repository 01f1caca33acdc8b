"""Command-line values checked where they are read: a bad one gets exit 2 naming the option, the value
and the allowed range (argparse adds the option's name and exits 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def ranged(kind: type[int] | type[float], lo: float, hi: float, unit: str = "") -> Callable[[str], float]:
    """An argparse `type=` that accepts numbers of `kind` from `lo` to `hi` (inclusive)."""
    what = "an integer" if kind is int else "a number"
    suffix = f" {unit}" if unit else ""
    span = f"{_number(lo)} to {_number(hi)}{suffix}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} (allowed: {span})") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed: {span})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def _number(x: float) -> str:
    """Whole numbers in full (604,800, never 6.048e+05; separators from 100,000 on, so a port stays 65535)."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}" if abs(x) >= 100_000 else str(int(x))
    return f"{x:g}"
