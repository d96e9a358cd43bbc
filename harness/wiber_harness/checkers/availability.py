"""Availability: what clients saw while each fault was in effect.

Nemesis ops are paired into fault windows by ``value["fault"]``
(:func:`wiber_harness.checkers.analysis.build_faults`): a window runs from
the inject's completion to the completion of the heal that closed it, or to
the end of the history when the fault was never healed. For each window
(``details["windows"]``, in start order):

* ``sends``: send attempts invoked inside the window, and of those ``ok``,
  ``fail``, ``info`` (including attempts with no completion);
  ``error_rate`` = (fail + info) / sends, None when nothing was sent;
* ``longest_gap_s``: the longest stretch inside the window without any
  ``ok`` completion (of any attempt, wherever it was invoked);
* ``first_ok_after_inject_s`` / ``first_ok_after_heal_s``: time from the
  window's start / end to the next ``ok`` completion (None if none came).

Counts (``CheckResult.counts``) aggregate over windows: ``windows``,
``faults`` (distinct fault ids), ``sends``, ``ok``, ``fail``, ``info``,
``max_error_rate``, ``longest_gap_s``, ``max_first_ok_after_heal_s`` (over
windows that saw one), ``windows_heal_after_load`` (healed after the last
send: recovery not observable), ``windows_never_recovered`` (healed windows with no
``ok`` after the heal at all), and the pairing oddities ``failed_injects``, ``failed_heals``,
``unmatched_heals``, ``reinjects``.

The checker is informational: thresholds live in the scenario's
``expect``. ``valid`` is True, or ``"unknown"`` when the nemesis ops cannot
be paired into windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import FAIL, NS, OK, Analysis, FaultWindow
from wiber_harness.checkers.base import CheckResult, Ops
from wiber_harness.errors import CheckerError
from wiber_harness.reads import FinalReads

NAME = "availability"


def check_availability(ops: Ops, reads: FinalReads) -> CheckResult:
    """Error rate and outages of sends during each fault window."""
    return availability_from(Analysis(ops, reads))


def availability_from(an: Analysis) -> CheckResult:
    try:
        faults = an.faults
    except CheckerError as e:
        return CheckResult(name=NAME, valid="unknown", error=str(e))
    s = an.sends
    order = np.argsort(s.a_invoke, kind="stable")
    inv = s.a_invoke[order]
    out = s.a_outcome[order]
    # cumulative outcome counts over attempts sorted by invoke time
    cum_ok = np.concatenate([[0], np.cumsum(out == OK)])
    cum_fail = np.concatenate([[0], np.cumsum(out == FAIL)])
    ok_t = np.sort(s.a_done[s.a_outcome == OK])
    rows = [_window_row(w, inv, cum_ok, cum_fail, ok_t) for w in faults.windows]

    def agg_max(field: str) -> float:
        vals = [r[field] for r in rows if r[field] is not None]
        return max(vals) if vals else 0.0

    counts: dict[str, int | float] = {
        "windows": len(rows),
        "faults": len({w.fault for w in faults.windows}),
        "sends": sum(r["sends"] for r in rows),
        "ok": sum(r["ok"] for r in rows),
        "fail": sum(r["fail"] for r in rows),
        "info": sum(r["info"] for r in rows),
        "max_error_rate": agg_max("error_rate"),
        "longest_gap_s": agg_max("longest_gap_s"),
        "max_first_ok_after_heal_s": agg_max("first_ok_after_heal_s"),
        # a heal after the last send leaves nothing to recover with: that is
        # unobservable, not "never recovered"
        "windows_never_recovered": sum(
            1
            for r in rows
            if r["healed"] and r["first_ok_after_heal_s"] is None and r["sends_after_heal"]
        ),
        "windows_heal_after_load": sum(
            1 for r in rows if r["healed"] and not r["sends_after_heal"]
        ),
        "failed_injects": faults.failed_injects,
        "failed_heals": faults.failed_heals,
        "unmatched_heals": faults.unmatched_heals,
        "reinjects": faults.reinjects,
    }
    return CheckResult(name=NAME, valid=True, counts=counts, details={"windows": rows})


def _window_row(
    w: FaultWindow,
    inv: np.ndarray,
    cum_ok: np.ndarray,
    cum_fail: np.ndarray,
    ok_t: np.ndarray,
) -> dict[str, Any]:
    lo = int(np.searchsorted(inv, w.start, side="left"))
    hi = int(np.searchsorted(inv, w.end, side="right"))
    sends = hi - lo
    ok = int(cum_ok[hi] - cum_ok[lo])
    fail = int(cum_fail[hi] - cum_fail[lo])
    inside = ok_t[
        int(np.searchsorted(ok_t, w.start, "left")) : int(np.searchsorted(ok_t, w.end, "right"))
    ]
    edges = np.concatenate([[w.start], inside, [w.end]])
    gap = float(np.diff(edges).max())

    def next_ok(t: float) -> float | None:
        i = int(np.searchsorted(ok_t, t, side="left"))
        return float(ok_t[i] - t) / NS if i < len(ok_t) else None

    return {
        **w.to_dict(),
        "sends": sends,
        "ok": ok,
        "fail": fail,
        "info": sends - ok - fail,
        "error_rate": (sends - ok) / sends if sends else None,
        "longest_gap_s": gap / NS,
        "first_ok_after_inject_s": next_ok(w.start),
        "first_ok_after_heal_s": next_ok(w.end) if w.healed else None,
        "sends_after_heal": int(len(inv) - np.searchsorted(inv, w.end, side="right")),
    }


__all__ = ["NAME", "availability_from", "check_availability"]
