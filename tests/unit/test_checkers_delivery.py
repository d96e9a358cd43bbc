"""Delivery checker on hand-written histories: one anomaly per test."""

from __future__ import annotations

from tests.unit.histories import H
from wiber_harness.checkers import check_all, check_delivery
from wiber_harness.history import Op

ANOMALIES = ("lost", "unexpected", "aborted", "duplicated", "duplicated_ids", "duplicated_keys")


def anomalies(counts: dict[str, int | float]) -> dict[str, int | float]:
    return {k: counts[k] for k in (*ANOMALIES, "recovered", "id_mismatch") if counts[k]}


def test_clean_history_has_no_anomalies() -> None:
    h = H()
    a = h.send("alice", "bob")
    b = h.send("bob", "alice", outcome="fail")
    c = h.send("alice", "bob", outcome="info")  # indeterminate, never stored: fine
    h.store(a)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert anomalies(r.counts) == {}
    assert r.counts["attempted"] == 3
    assert r.counts["attempts"] == 3
    assert (r.counts["acknowledged"], r.counts["failed"], r.counts["indeterminate"]) == (1, 1, 1)
    assert r.counts["stored"] == r.counts["stored_keys"] == 1
    assert r.examples == {}
    assert {b, c}.isdisjoint({ex["key"] for exs in r.examples.values() for ex in exs})


def test_acknowledged_but_never_stored_is_lost() -> None:
    h = H()
    a = h.send()
    b = h.send()
    h.store(b)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert anomalies(r.counts) == {"lost": 1}
    (ex,) = r.examples["lost"]
    assert ex["key"] == a and ex["message_id"] == h.mid(a) and ex["conversation"] == "alice:bob"


def test_record_without_key_is_matched_by_the_acknowledged_message_id() -> None:
    h = H()
    a = h.send()
    h.store(a, record_key=None)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert anomalies(r.counts) == {}


def test_a_message_id_returned_for_two_keys_cannot_make_both_stored() -> None:
    h = H()
    a = h.send(mid="m1")
    b = h.send(mid="m1")  # the API handed out the same id twice
    h.store(a, mid="m1")
    r = check_delivery(h.ops, h.reads())
    assert anomalies(r.counts) == {"lost": 1}
    assert r.examples["lost"][0]["key"] == b


def test_stored_but_never_sent_is_unexpected() -> None:
    h = H()
    a = h.send()
    h.store(a)
    h.store(None, mid="x1", record_key="never-sent")
    h.store(None, mid="x2", record_key=None)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert anomalies(r.counts) == {"unexpected": 2}
    assert [e["message_id"] for e in r.examples["unexpected"]] == ["x1", "x2"]


def test_failed_yet_stored_is_aborted() -> None:
    h = H()
    a = h.send(outcome="fail")
    h.retry(a, outcome="fail")
    h.store(a)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert anomalies(r.counts) == {"aborted": 1}
    assert r.examples["aborted"][0]["attempts"] == 2


def test_fail_then_info_is_indeterminate_so_storing_it_is_recovered() -> None:
    h = H()
    a = h.send(outcome="fail")
    h.retry(a, outcome="info")
    h.store(a)
    h.store(h.send())  # one acknowledged, stored message: the run tested something
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert anomalies(r.counts) == {"recovered": 1}


def test_indeterminate_or_pending_yet_stored_is_recovered_not_a_failure() -> None:
    h = H()
    a = h.send(outcome="info")
    b = h.send(outcome="pending")
    h.store(a)
    h.store(b)
    h.store(h.send())  # one acknowledged, stored message: the run tested something
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["indeterminate"] == 2
    assert anomalies(r.counts) == {"recovered": 2}


def test_same_message_id_stored_twice_is_duplicated() -> None:
    h = H()
    a = h.send()
    h.store(a)
    h.store(a)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert anomalies(r.counts) == {"duplicated": 1, "duplicated_ids": 1}
    assert r.counts["duplicate_copies"] == 1
    assert r.examples["duplicated"][0]["copies"] == 2


def test_one_key_stored_under_two_message_ids_is_duplicated() -> None:
    h = H()
    a = h.send()
    h.store(a)
    h.store(a, mid="m-other")
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert anomalies(r.counts) == {"duplicated": 1, "duplicated_keys": 1}
    assert r.examples["duplicated"][0]["stored_ids"] == sorted([h.mid(a), "m-other"])


def test_unattributed_message_id_stored_twice_is_duplicated_and_unexpected() -> None:
    h = H()
    h.store(None, mid="x", record_key=None)
    h.store(None, mid="x", record_key=None)
    r = check_delivery(h.ops, h.reads())
    assert anomalies(r.counts) == {"unexpected": 2, "duplicated": 1, "duplicated_ids": 1}


def test_retries_and_resends_of_a_key_are_one_message() -> None:
    h = H()
    a = h.send(outcome="info")
    h.retry(a)  # the client retries: ok
    h.retry(a, outcome="fail", resend=True)  # duplicate injection: a failed resend
    h.retry(a, resend=True)
    h.store(a)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert anomalies(r.counts) == {}
    assert (r.counts["attempts"], r.counts["resends"], r.counts["attempted"]) == (4, 2, 1)
    assert r.counts["acknowledged"] == 1


def test_an_ok_of_any_attempt_acknowledges_the_key() -> None:
    h = H()
    a = h.send(outcome="fail")
    h.retry(a)
    r = check_delivery(h.ops, h.reads())
    assert anomalies(r.counts) == {"lost": 1}


def test_stored_under_an_id_the_api_never_returned_is_id_mismatch_only() -> None:
    h = H()
    a = h.send()
    h.store(a, mid="m-else")
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert anomalies(r.counts) == {"id_mismatch": 1}


def test_not_drained_is_noted_and_the_verdict_stands() -> None:
    h = H()
    h.send()
    r = check_delivery(h.ops, h.reads(drained=False))
    assert r.valid is False
    assert r.details["drained"] is False and "drained" in r.details["note"]
    h2 = H()
    h2.store(h2.send())
    ok = check_delivery(h2.ops, h2.reads(drained=False))
    assert ok.valid is True and ok.details["drained"] is False


def test_examples_are_capped() -> None:
    h = H()
    for _ in range(12):
        h.send()
    r = check_delivery(h.ops, h.reads())
    assert r.counts["lost"] == 12
    assert len(r.examples["lost"]) == 5


def test_a_send_without_key_makes_the_checkers_unknown() -> None:
    h = H()
    h.send()
    bad = Op(id=99, type="invoke", f="send", process="c", time=h.now, value={"conversation": "x"})
    results = check_all([*h.ops, bad], h.reads())
    assert results["delivery"].valid == "unknown"
    assert "op 99" in (results["delivery"].error or "")
    assert results["ordering"].valid == "unknown"
    # redelivery reads the nemesis ops through the same groundwork: unknown too
    assert results["redelivery"].valid == "unknown"


def test_empty_run_is_unknown_because_it_tested_nothing() -> None:
    r = check_delivery([], H().reads())
    assert r.valid == "unknown"
    assert r.counts["attempted"] == 0
    assert "tested nothing" in r.details["vacuous"]


def test_a_run_where_every_send_failed_and_nothing_is_stored_is_unknown() -> None:
    h = H()
    for _ in range(3):
        h.send(outcome="fail")
    r = check_delivery(h.ops, h.reads())
    assert r.valid == "unknown"
    assert r.counts["failed"] == 3 and r.counts["acknowledged"] == 0


def test_stored_but_missing_from_a_successful_api_read_is_unreadable() -> None:
    from tests.unit.histories import conv

    h = H()
    a = h.send("alice", "bob")
    b = h.send("alice", "bob")
    h.store(a)
    h.store(b)
    h.read(conv("alice", "bob"), [a])  # the read path dropped b
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["unreadable"] == 1 and r.counts["lost"] == 0
    assert [ex["key"] for ex in r.examples["unreadable"]] == [b]


def test_a_failed_api_read_is_not_counted_unreadable() -> None:
    from tests.unit.histories import conv

    h = H()
    a = h.send("alice", "bob")
    h.store(a)
    h.read(conv("alice", "bob"), [])
    r = check_delivery(h.ops, h.reads(api_errors={conv("alice", "bob"): "GET answered 503"}))
    assert r.counts["unreadable"] == 0 and r.valid is True
