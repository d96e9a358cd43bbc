"""check_all, the registry, compose_checkers, and crash -> unknown."""

from __future__ import annotations

import pytest

from tests.unit.histories import H
from wiber_harness.checkers import (
    CHECKERS,
    Analysis,
    CheckResult,
    check_all,
    check_delivery,
    compose_checkers,
    overall,
)
from wiber_harness.checkers.base import Ops
from wiber_harness.errors import CheckerError
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads


def clean() -> tuple[list[Op], FinalReads]:
    h = H()
    a = h.send()
    h.inject("f1")
    b = h.send(outcome="info")
    h.heal("f1")
    h.store(a)
    h.store(b)
    return h.ops, h.reads()


def boom(ops: Ops, reads: FinalReads) -> CheckResult:
    raise RuntimeError("checker bug")


def test_check_all_runs_every_registered_checker() -> None:
    ops, reads = clean()
    results = check_all(ops, reads)
    assert list(results) == list(CHECKERS)
    assert {n: r.valid for n, r in results.items()} == dict.fromkeys(CHECKERS, True)
    assert all(r.name == n for n, r in results.items())
    assert overall(results) is True


def test_check_all_with_a_shared_analysis_equals_each_checker_alone() -> None:
    ops, reads = clean()
    shared = check_all(ops, reads, analysis=Analysis(ops, reads))
    for name, fn in CHECKERS.items():
        assert shared[name] == fn(ops, reads)


def test_check_all_selects_by_name_and_rejects_typos() -> None:
    ops, reads = clean()
    assert list(check_all(ops, reads, ["ordering", "delivery"])) == ["ordering", "delivery"]
    with pytest.raises(CheckerError, match="'deliveri'"):
        check_all(ops, reads, ["deliveri"])


def test_a_crashing_registered_checker_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    ops, reads = clean()
    monkeypatch.setitem(CHECKERS, "delivery", boom)
    results = check_all(ops, reads)
    assert results["delivery"].valid == "unknown"
    assert results["delivery"].error == "RuntimeError: checker bug"
    assert results["ordering"].valid is True
    assert overall(results) == "unknown"


def test_a_crash_inside_the_shared_analysis_is_unknown_not_true() -> None:
    ops, reads = clean()
    reads.store = [*reads.store, None]  # type: ignore[list-item]  # malformed final reads
    results = check_all(ops, reads)
    assert results["delivery"].valid == "unknown"
    assert results["delivery"].error is not None


def test_compose_merges_verdicts_and_prefixes_counts() -> None:
    ops, reads = clean()
    both = compose_checkers({"delivery": check_delivery, "broken": boom}, name="both")
    r = both(ops, reads)
    assert r.name == "both"
    assert r.valid == "unknown"
    assert r.counts["delivery.lost"] == 0
    assert r.details["results"]["broken"]["error"] == "RuntimeError: checker bug"

    h = H()
    h.send()  # acknowledged, never stored
    lost = compose_checkers({"delivery": check_delivery, "broken": boom})(h.ops, h.reads())
    assert lost.valid is False  # False beats unknown
    assert lost.examples["delivery.lost"]
