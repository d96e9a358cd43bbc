"""Convergence checker: lag after the reference, e2e latency, drained/unknown."""

from __future__ import annotations

import pytest

from tests.unit.histories import MS, H
from wiber_harness.checkers import check_convergence

S = 1000 * MS


def test_without_faults_the_reference_is_the_end_of_the_workload() -> None:
    h = H()
    a = h.send()  # acked at 1 ms
    b = h.send()
    end = h.now - MS  # the last op (b's completion)
    h.store(a, stored_at=2 * MS)
    h.store(b, stored_at=end + S // 2)
    r = check_convergence(h.ops, h.reads())
    assert r.valid is True
    assert r.details["reference"] == "end of the workload"
    assert r.details["reference_s"] == pytest.approx(end / S)
    assert r.counts["recovery_s"] == pytest.approx(0.5)
    assert r.counts["backlog_s"] == pytest.approx(0.5)
    assert r.counts["converged"] == 2
    assert r.examples["slowest"][0]["key"] == b


def test_lag_counts_from_healed_at_for_messages_acked_before_it() -> None:
    h = H()
    a = h.send()
    h.store(a, stored_at=12 * S)
    r = check_convergence(h.ops, h.reads(healed_at=10 * S))
    assert r.details["reference"] == "reads.healed_at"
    assert r.counts["recovery_s"] == pytest.approx(2.0)
    assert r.counts["backlog_s"] == pytest.approx(2.0)


def test_messages_acked_after_the_heal_owe_only_their_own_lag() -> None:
    h = H()
    h.tick(20_000)  # 20 s in
    a = h.send()  # acked at ~20 s
    ack = h.now - MS
    h.store(a, stored_at=ack + 3 * S)
    r = check_convergence(h.ops, h.reads(healed_at=10 * S))
    assert r.counts["recovery_s"] == pytest.approx(3.0)
    assert r.counts["backlog_s"] == 0.0  # nothing was acknowledged before the heal


def test_stored_before_the_reference_converged_at_once() -> None:
    h = H()
    a = h.send()
    h.store(a, stored_at=2 * MS)
    r = check_convergence(h.ops, h.reads(healed_at=S))
    assert r.counts["recovery_s"] == 0.0
    assert "slowest" not in r.examples


def test_the_last_heal_in_the_history_is_the_reference_when_reads_do_not_say() -> None:
    h = H()
    h.inject("f1")
    a = h.send()
    h.heal("f1")
    healed = h.now - MS
    h.store(a, stored_at=healed + S)
    r = check_convergence(h.ops, h.reads())
    assert r.details["reference"] == "last heal in the history"
    assert r.counts["recovery_s"] == pytest.approx(1.0)


def test_e2e_latency_is_stored_minus_intended() -> None:
    h = H()
    p = h.begin(intended=0)
    h.tick(5)
    a = h.end(p)
    h.store(a, stored_at=100 * MS)
    r = check_convergence(h.ops, h.reads())
    assert r.counts["e2e_max_s"] == pytest.approx(0.1)
    assert r.counts["e2e_mean_s"] == pytest.approx(0.1)
    assert r.counts["e2e_negative"] == 0


def test_unknown_stored_at_makes_it_unknown() -> None:
    h = H()
    a = h.send()
    h.store(a, stored_at=None)
    r = check_convergence(h.ops, h.reads())
    assert r.valid == "unknown"
    assert r.counts["missing_stored_at"] == 1


def test_not_drained_is_false_and_beats_unknown() -> None:
    h = H()
    a = h.send()
    h.store(a, stored_at=None)
    r = check_convergence(h.ops, h.reads(drained=False, drain_s=60.0))
    assert r.valid is False
    assert r.counts["drain_s"] == 60.0


def test_never_stored_is_counted_and_left_to_delivery() -> None:
    h = H()
    h.send()
    r = check_convergence(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["not_stored"] == 1
    assert r.counts["recovery_s"] == 0.0


def test_only_acknowledged_messages_count() -> None:
    h = H()
    a = h.send(outcome="info")
    h.store(a, stored_at=100 * S)
    r = check_convergence(h.ops, h.reads())
    assert r.counts["acknowledged"] == 0
    assert r.counts["recovery_s"] == 0.0
