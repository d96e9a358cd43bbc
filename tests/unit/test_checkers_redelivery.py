"""Redelivery checker: records handled more than once, per consumer."""

from __future__ import annotations

from wiber_harness.checkers import check_redelivery
from wiber_harness.reads import DeliveryEvent, FinalReads


def ev(consumer: str, partition: int, offset: int, outcome: str = "stored") -> DeliveryEvent:
    return DeliveryEvent(consumer, partition, offset, f"m{partition}-{offset}", 0, outcome)


def test_no_log_is_valid_and_says_so() -> None:
    r = check_redelivery([], FinalReads())
    assert r.valid is True
    assert r.counts["events"] == 0
    assert "no delivery log" in r.details["note"]


def test_each_record_once_is_no_redelivery() -> None:
    r = check_redelivery([], FinalReads(delivery=[ev("c1", 0, 0), ev("c1", 0, 1), ev("c2", 1, 0)]))
    assert r.counts["redelivered"] == 0
    assert r.counts["records"] == 3
    assert r.counts["consumers"] == 2


def test_same_offset_twice_and_duplicate_outcomes_are_redeliveries() -> None:
    log = [
        ev("c1", 0, 0),
        ev("c2", 0, 0, "duplicate"),  # after a rebalance c2 handles it again
        ev("c1", 0, 1),
        ev("c1", 1, 5, "duplicate"),  # a producer replay at another offset
        ev("c2", 1, 6, "dlq"),
        ev("c2", 1, 7, "failed"),
    ]
    r = check_redelivery([], FinalReads(delivery=log))
    assert r.valid is True
    assert r.counts["events"] == 6
    assert r.counts["records"] == 5
    assert r.counts["redeliveries"] == 1
    assert r.counts["redelivered"] == 2
    assert r.counts["duplicate_outcomes"] == 2
    assert (r.counts["dlq"], r.counts["failed"]) == (1, 1)
    per = r.details["per_consumer"]
    assert per["c1"] == {
        "events": 3,
        "redelivered": 2,
        "duplicate_outcomes": 1,
        "dlq": 0,
        "failed": 0,
    }
    assert per["c2"] == {
        "events": 3,
        "redelivered": 1,
        "duplicate_outcomes": 1,
        "dlq": 1,
        "failed": 1,
    }
