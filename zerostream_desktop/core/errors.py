"""How errors from drivers and SDKs are shown: their first line, never a stack trace."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An exception's first line, for messages (drivers put whole stack traces in theirs)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
