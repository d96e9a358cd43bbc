"""Availability checker: fault windows and what clients saw inside them."""

from __future__ import annotations

import pytest

from tests.unit.histories import MS, H
from wiber_harness.checkers import check_availability
from wiber_harness.history import NEMESIS, Op


def test_no_faults_no_windows() -> None:
    h = H()
    h.send()
    r = check_availability(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["windows"] == 0
    assert r.details["windows"] == []


def test_one_window_counts_sends_by_outcome_and_measures_gaps() -> None:
    h = H()
    h.send()  # ok at 1 ms, before the fault
    h.inject("f1", kind="partition")  # invoke at 2 ms, ok at 3 ms -> window starts at 3 ms
    h.send(outcome="fail")  # invoked at 4
    h.send(outcome="info")  # 6
    h.send()  # 8, ok at 9
    h.tick(10)
    h.heal("f1")  # invoke 20, ok 21 -> window ends at 21
    h.tick(4)
    h.send()  # invoked 26, ok at 27
    r = check_availability(h.ops, h.reads())
    assert r.valid is True
    (w,) = r.details["windows"]
    assert (w["fault"], w["kind"], w["healed"]) == ("f1", "partition", True)
    assert (w["start_s"], w["end_s"]) == (0.003, 0.021)
    assert (w["sends"], w["ok"], w["fail"], w["info"]) == (3, 1, 1, 1)
    assert w["error_rate"] == pytest.approx(2 / 3)
    assert w["first_ok_after_inject_s"] == pytest.approx(0.006)
    assert w["longest_gap_s"] == pytest.approx(0.012)  # from the ok at 9 ms to the heal at 21
    assert w["first_ok_after_heal_s"] == pytest.approx(0.006)
    assert r.counts["sends"] == 3
    assert r.counts["max_error_rate"] == pytest.approx(2 / 3)
    assert r.counts["windows_never_recovered"] == 0


def test_a_fault_never_healed_runs_to_the_end_of_the_history() -> None:
    h = H()
    h.inject("f1")
    h.send(outcome="info")
    end = h.now - MS
    r = check_availability(h.ops, h.reads())
    (w,) = r.details["windows"]
    assert w["healed"] is False
    assert w["end_s"] == pytest.approx(end / 1e9)
    assert w["first_ok_after_heal_s"] is None
    assert w["first_ok_after_inject_s"] is None


def test_healed_but_no_ok_ever_after_is_never_recovered() -> None:
    h = H()
    h.inject("f1")
    h.heal("f1")
    h.send(outcome="info")
    r = check_availability(h.ops, h.reads())
    assert r.counts["windows_never_recovered"] == 1


def test_a_failed_inject_opens_no_window_and_an_extra_heal_is_counted() -> None:
    h = H()
    h.inject("f1", outcome="fail")
    h.heal("f1")
    r = check_availability(h.ops, h.reads())
    assert r.counts["windows"] == 0
    assert r.counts["failed_injects"] == 1
    assert r.counts["unmatched_heals"] == 1


def test_an_inject_without_completion_starts_at_its_invoke_uncertainly() -> None:
    h = H()
    h.inject("f1", outcome=None)
    h.heal("f1")
    (w,) = check_availability(h.ops, h.reads()).details["windows"]
    assert w["start_s"] == 0.0 and w["start_uncertain"] is True


def test_overlapping_and_repeated_faults_get_one_window_each() -> None:
    h = H()
    h.inject("f1")
    h.inject("f2")
    h.send()
    h.heal("f1")
    h.inject("f1")  # again
    h.heal("f2")
    h.heal("f1")
    r = check_availability(h.ops, h.reads())
    assert [w["fault"] for w in r.details["windows"]] == ["f1", "f2", "f1"]
    assert r.counts["faults"] == 2
    assert r.counts["windows"] == 3


def test_a_nemesis_op_without_fault_id_is_unknown() -> None:
    h = H()
    h.send()
    bad = Op(id=50, type="invoke", f="inject", process=NEMESIS, time=h.now, value={"kind": "kill"})
    r = check_availability([*h.ops, bad], h.reads())
    assert r.valid == "unknown"
    assert "fault id" in (r.error or "")
