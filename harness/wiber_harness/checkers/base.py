"""What a checker is and what it returns.

A checker is a pure function ``(ops, reads) -> CheckResult``. ``valid`` is
``True``, ``False`` or ``"unknown"``; a checker that raises is turned into
``"unknown"`` by :func:`safe_check` (never ``True``). Results carry counts
and at most :data:`MAX_EXAMPLES` examples per anomaly, so they stay small
enough for reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wiber_harness.columns import History
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads

Validity = bool | Literal["unknown"]
# a history as ops, or as columns (the fast form for large runs): every checker takes both
Ops = History | Sequence[Op]
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict with the counts and examples behind it."""

    name: str
    valid: Validity
    counts: dict[str, int | float] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "valid": self.valid,
            "counts": self.counts,
            "examples": self.examples,
            "details": self.details,
            "error": self.error,
        }


Checker = Callable[[Ops, FinalReads], CheckResult]


def safe_check(name: str, checker: Checker, ops: Ops, reads: FinalReads) -> CheckResult:
    """Run one checker; a crash yields ``unknown`` with the error, never ``True``."""
    try:
        return checker(ops, reads)
    except Exception as e:  # a crashed checker must not pass
        return CheckResult(name=name, valid="unknown", error=f"{type(e).__name__}: {e}")


def merge_validity(values: Sequence[Validity]) -> Validity:
    """False beats unknown beats True (Jepsen's merge-valid)."""
    if any(v is False for v in values):
        return False
    if any(v == "unknown" for v in values):
        return "unknown"
    return True


__all__ = [
    "MAX_EXAMPLES",
    "CheckResult",
    "Checker",
    "Ops",
    "Validity",
    "merge_validity",
    "safe_check",
]
