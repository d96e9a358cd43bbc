"""The three verdicts, in one place: their words, colours and exit codes.

A verdict (:data:`~wiber_harness.checkers.base.Validity`) is ``True``
(valid: every promise held), ``False`` (violation: a promise was broken) or
``"unknown"`` (the harness could not decide). Every command prints it with
:func:`word` and exits with :func:`exit_code`: 0 valid, 1 violation,
2 unknown, so CI can gate on the exit status alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the checkers package imports pandas; the CLI must start without it
    from wiber_harness.checkers.base import Validity

EXIT_VALID, EXIT_VIOLATION, EXIT_UNKNOWN = 0, 1, 2

WORDS: Mapping[Validity, str] = MappingProxyType(
    {True: "VALID", False: "VIOLATION", "unknown": "UNKNOWN"}
)
COLOURS: Mapping[Validity, str] = MappingProxyType(
    {True: "green", False: "red", "unknown": "yellow"}
)
EXIT_CODES: Mapping[Validity, int] = MappingProxyType(
    {True: EXIT_VALID, False: EXIT_VIOLATION, "unknown": EXIT_UNKNOWN}
)


def word(v: Validity) -> str:
    """``VALID``, ``VIOLATION`` or ``UNKNOWN``."""
    return WORDS[v]


def quiet_word(v: Validity) -> str:
    """``valid``, ``VIOLATION`` or ``unknown``: in a stream of progress lines only a
    violation shouts."""
    return WORDS[v] if v is False else WORDS[v].lower()


def styled(v: Validity) -> str:
    """The word in rich markup, coloured (green, red, yellow)."""
    return f"[{COLOURS[v]}]{WORDS[v]}[/]"


def exit_code(v: Validity) -> int:
    """0 valid, 1 violation, 2 unknown."""
    return EXIT_CODES[v]


__all__ = [
    "COLOURS",
    "EXIT_CODES",
    "EXIT_UNKNOWN",
    "EXIT_VALID",
    "EXIT_VIOLATION",
    "WORDS",
    "exit_code",
    "quiet_word",
    "styled",
    "word",
]
