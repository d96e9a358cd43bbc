"""The checker registry and the ways to run several checkers at once.

:data:`CHECKERS` maps a checker's name (as scenarios and reports spell it)
to its ``(ops, reads) -> CheckResult`` function. :func:`check_all` runs a
selection of them over one shared :class:`Analysis`, each under
:func:`safe_check`, so one crashing checker is ``unknown`` and the others
still report. :func:`compose_checkers` folds several checkers into one whose
verdict is their merge (False beats unknown beats True).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.availability import availability_from, check_availability
from wiber_harness.checkers.base import (
    Checker,
    CheckResult,
    Ops,
    Validity,
    merge_validity,
    safe_check,
)
from wiber_harness.checkers.convergence import check_convergence, convergence_from
from wiber_harness.checkers.delivery import check_delivery, delivery_from
from wiber_harness.checkers.ordering import check_ordering, ordering_from
from wiber_harness.checkers.redelivery import check_redelivery, redelivery_from
from wiber_harness.errors import CheckerError
from wiber_harness.reads import FinalReads

CHECKERS: dict[str, Checker] = {
    "delivery": check_delivery,
    "ordering": check_ordering,
    "convergence": check_convergence,
    "availability": check_availability,
    "redelivery": check_redelivery,
}

# the same checkers as functions of a shared Analysis, so check_all does the
# groundwork once instead of once per checker
_ON_ANALYSIS: dict[str, tuple[Checker, Callable[[Analysis], CheckResult]]] = {
    "delivery": (check_delivery, delivery_from),
    "ordering": (check_ordering, ordering_from),
    "convergence": (check_convergence, convergence_from),
    "availability": (check_availability, availability_from),
    "redelivery": (check_redelivery, redelivery_from),
}


def check_all(
    ops: Ops,
    reads: FinalReads,
    names: Iterable[str] | None = None,
    *,
    analysis: Analysis | None = None,
) -> dict[str, CheckResult]:
    """Run the named checkers (all of :data:`CHECKERS` by default).

    Pass ``analysis`` to share the groundwork with the metrics
    (:func:`wiber_harness.metrics.summary`). An unknown name raises
    :class:`CheckerError`: a typo must not silently check less.
    """
    chosen = list(CHECKERS) if names is None else list(names)
    unknown = [n for n in chosen if n not in CHECKERS]
    if unknown:
        raise CheckerError(
            f"unknown checker(s) {', '.join(map(repr, unknown))}; choose from {', '.join(CHECKERS)}"
        )
    an = analysis if analysis is not None else Analysis(ops, reads)
    results: dict[str, CheckResult] = {}
    for name in chosen:
        fn = CHECKERS[name]
        builtin = _ON_ANALYSIS.get(name)
        if builtin is not None and builtin[0] is fn:
            results[name] = safe_check(name, _bound(builtin[1], an), ops, reads)
        else:
            results[name] = safe_check(name, fn, ops, reads)
    return results


def _bound(fn: Callable[[Analysis], CheckResult], an: Analysis) -> Checker:
    def run(ops: Ops, reads: FinalReads) -> CheckResult:
        return fn(an)

    return run


def overall(results: Mapping[str, CheckResult]) -> Validity:
    """The merged verdict of several results."""
    return merge_validity([r.valid for r in results.values()])


def compose_checkers(checkers: Mapping[str, Checker], name: str = "composed") -> Checker:
    """One checker made of several, each run under :func:`safe_check`.

    The result's ``valid`` is the merge of theirs; its ``counts`` and
    ``examples`` are theirs prefixed ``"<name>."``; ``details["results"]``
    holds each full result as a dict.
    """
    parts = dict(checkers)

    def composed(ops: Ops, reads: FinalReads) -> CheckResult:
        results = {n: safe_check(n, c, ops, reads) for n, c in parts.items()}
        counts: dict[str, int | float] = {}
        examples: dict[str, list[Any]] = {}
        for n, r in results.items():
            counts.update({f"{n}.{k}": v for k, v in r.counts.items()})
            examples.update({f"{n}.{k}": v for k, v in r.examples.items()})
        return CheckResult(
            name=name,
            valid=overall(results),
            counts=counts,
            examples=examples,
            details={"results": {n: r.to_dict() for n, r in results.items()}},
        )

    return composed


__all__ = ["CHECKERS", "check_all", "compose_checkers", "overall"]
