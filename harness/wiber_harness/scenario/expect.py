"""Did a run meet its scenario's expectations? Thresholds and the judgement.

:func:`judge` is a pure function of an ``expect`` section
(:class:`~wiber_harness.scenario.schema.Expect`), the checkers' verdicts and
the run's metrics; it returns the verdict and one sentence per shortfall.
:class:`Threshold` is a bound on a metric, written ``"<= 30"`` in a
scenario and parsed by :func:`parse_threshold`. (The verdict words, colours
and exit codes are :mod:`wiber_harness.verdict`'s.)
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from wiber_harness.checkers.base import Validity
from wiber_harness.printable import shown

if TYPE_CHECKING:
    from wiber_harness.scenario.schema import Expect


@dataclass(frozen=True)
class Threshold:
    """A bound on a metric, written ``"<= 30"``."""

    op: str
    value: float

    OPS: ClassVar[Mapping[str, Callable[[float, float], bool]]] = MappingProxyType(
        {
            "<=": operator.le,
            "<": operator.lt,
            ">=": operator.ge,
            ">": operator.gt,
            "==": operator.eq,
        }
    )

    def holds(self, measured: float) -> bool:
        return self.OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


_THRESHOLD = re.compile(r"^\s*(<=|>=|==|<|>)\s*(-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_threshold(value: object) -> Threshold:
    """Parse ``"<= 30"``; a bare number is rejected because its direction is ambiguous.

    Raises ``ValueError`` with the fix.
    """
    if isinstance(value, Threshold):
        return value
    m = _THRESHOLD.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(
            f"threshold {shown(value)} is not a comparison; "
            'write it quoted, like "<= 30" or ">= 0.5"'
        )
    return Threshold(m.group(1), float(m.group(2)))


def judge(
    expect: Expect,
    validity: Mapping[str, Validity],
    metrics: Mapping[str, float | None],
    causes: Mapping[str, str] | None = None,
) -> tuple[Validity, list[str]]:
    """Did a run meet ``expect``? (verdict, one sentence per shortfall).

    ``causes`` maps a checker to what it said about why it was not valid
    (``details["cause"]``); a shortfall of that checker's ends with it
    (``delivery found a violation: lost 3: all acknowledged ...``).

    ``validity`` maps checker names to their verdicts, ``metrics`` metric
    names to values. ``valid`` checkers must say True; with
    ``violation: true`` at least one checker must say False, with a list
    every listed checker must. A missing or ``"unknown"`` verdict, or a
    missing metric, makes the answer ``"unknown"`` unless something
    already failed (False beats unknown beats True, as for checkers).
    With ``gate_thresholds: false`` a missed or unmeasured threshold is
    only reported: one "not gated: ..." sentence each, verdict unchanged.
    """
    failed: list[str] = []
    unknown: list[str] = []
    why = causes or {}

    def because(name: str) -> str:
        return f": {why[name]}" if why.get(name) else ""

    for name in expect.valid:
        v = validity.get(name, "unknown")
        if v is False:
            failed.append(f"{name} found a violation{because(name)}")
        elif v is not True:
            unknown.append(f"{name} could not decide{because(name)}")
    if expect.violation is True:
        if not any(v is False for v in validity.values()):
            target = failed if all(v is True for v in validity.values()) else unknown
            target.append("no checker found the violation this unsafe setup must produce")
    else:
        for name in expect.violation or ():
            v = validity.get(name, "unknown")
            if v is True:
                failed.append(f"{name} found no violation, but this unsafe setup must produce one")
            elif v is not False:
                unknown.append(f"{name} could not decide{because(name)}")
    notes: list[str] = []
    for metric, bound in expect.thresholds.items():
        value = metrics.get(metric)
        if value is not None and bound.holds(value):
            continue
        missed = (
            f"{metric} was not measured"
            if value is None
            else f"{metric} is {value:g}, expected {bound}"
        )
        if not expect.gate_thresholds:
            notes.append(f"not gated: {missed}")
        else:
            (unknown if value is None else failed).append(missed)
    if failed:
        return False, failed + notes
    return ("unknown", unknown + notes) if unknown else (True, notes)


__all__ = ["Threshold", "judge", "parse_threshold"]
