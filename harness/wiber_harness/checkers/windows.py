"""Fault windows: the nemesis's injects and heals paired into intervals.

A window is one inject..heal interval of a fault (ns since the run start);
:func:`build_faults` pairs nemesis ops by ``value["fault"]`` and counts the
pairing oddities. Availability, convergence and the metrics' phases read
the windows through :class:`~wiber_harness.checkers.analysis.Analysis`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wiber_harness.errors import CheckerError
from wiber_harness.history import Op

NS = 1_000_000_000


def seconds(ns: float | None) -> float | None:
    """ns -> s for reports; None/NaN stay None so results remain JSON."""
    if ns is None or math.isnan(ns):
        return None
    return round(ns / NS, 6)


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One inject..heal interval of a fault, in ns since run start.

    ``start`` is the inject's ``ok`` completion, or its invoke when the
    completion is ``info`` or missing (then ``start_uncertain``);
    ``end`` the completion of the heal that closed it, or the end of the
    history when it was never healed (``healed`` False).
    """

    fault: str
    kind: str | None
    target: Any
    start: float
    end: float
    healed: bool
    start_uncertain: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "kind": self.kind,
            "target": self.target,
            "start_s": seconds(self.start),
            "end_s": seconds(self.end),
            "duration_s": seconds(self.end - self.start),
            "healed": self.healed,
            "start_uncertain": self.start_uncertain,
        }


@dataclass(frozen=True, slots=True)
class Faults:
    windows: list[FaultWindow]
    failed_injects: int
    failed_heals: int
    unmatched_heals: int
    reinjects: int
    last_heal: float | None  # completion of the last heal that closed a window


def build_faults(nemesis: Sequence[Op], end: float) -> Faults:
    """Pair inject/heal nemesis ops by ``value["fault"]`` into windows.

    A failed inject opens nothing (the fault did not take effect); a failed
    heal closes nothing. An inject of a fault that is already open is
    counted (``reinjects``) and otherwise ignored; a heal of a fault that is
    not open (the end-of-run heal-everything pass) is counted
    (``unmatched_heals``). A nemesis op without a fault id cannot be placed:
    that raises :class:`CheckerError`.
    """
    invokes: list[Op] = []
    done: dict[int, Op] = {}
    for op in nemesis:
        if op.f not in ("inject", "heal"):
            continue
        if "fault" not in op.value and op.type == "invoke":
            raise CheckerError(f"nemesis op {op.id} ({op.f}) carries no fault id")
        if op.type == "invoke":
            invokes.append(op)
        else:
            done[op.id] = op
    open_: dict[str, tuple[Op, float, bool]] = {}
    windows: list[FaultWindow] = []
    failed_injects = failed_heals = unmatched = reinjects = 0
    last_heal: float | None = None
    for op in sorted(invokes, key=lambda o: (o.time, o.id)):
        fault = str(op.value["fault"])
        c = done.get(op.id)
        if op.f == "inject":
            if c is not None and c.type == "fail":
                failed_injects += 1
            elif fault in open_:
                reinjects += 1
            elif c is None or c.type == "info":
                # it may have taken effect any time after the invoke
                open_[fault] = (op, float(op.time), True)
            else:
                open_[fault] = (op, float(c.time), False)
            continue
        if c is not None and c.type == "fail":
            failed_heals += 1
            continue
        if fault not in open_:
            unmatched += 1
            continue
        inj, start, uncertain = open_.pop(fault)
        stop = float(c.time) if c is not None else end
        windows.append(_window(inj, fault, start, max(stop, start), c is not None, uncertain))
        if c is not None:
            last_heal = stop if last_heal is None else max(last_heal, stop)
    for fault, (inj, start, uncertain) in open_.items():
        windows.append(_window(inj, fault, start, max(end, start), False, uncertain))
    windows.sort(key=lambda w: (w.start, w.fault))
    return Faults(windows, failed_injects, failed_heals, unmatched, reinjects, last_heal)


def _window(inj: Op, fault: str, start: float, end: float, healed: bool, unc: bool) -> FaultWindow:
    return FaultWindow(
        fault=fault,
        kind=inj.value.get("kind"),
        target=inj.value.get("target"),
        start=start,
        end=end,
        healed=healed,
        start_uncertain=unc,
    )


__all__ = ["FaultWindow", "Faults", "build_faults", "seconds"]
