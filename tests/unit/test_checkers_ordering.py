"""Ordering checker: hand-written histories, and the pair counting against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.histories import H, conv
from wiber_harness.checkers import check_ordering
from wiber_harness.checkers.ordering import _event_order, count_cross_pairs, realtime_violations

AB = conv("alice", "bob")


def sequential(h: H, n: int, sender: str = "alice") -> list[str]:
    keys = [h.send(sender, "bob" if sender == "alice" else "alice") for _ in range(n)]
    for k in keys:
        h.store(k)
    return keys


def test_reading_in_send_order_is_valid() -> None:
    h = H()
    sequential(h, 5)
    r = check_ordering(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["realtime_violations"] == 0
    assert r.counts["positioned"] == 5
    assert r.counts["conversations"] == r.counts["conversations_checked"] == 1


def test_later_message_read_first_is_a_violation() -> None:
    h = H()
    a, b = sequential(h, 2)
    h.read(AB, [b, a])
    r = check_ordering(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["realtime_violations"] == 1
    assert r.counts["realtime_messages"] == 1
    assert r.counts["sender_order"] == 1
    (ex,) = r.examples["realtime"]
    assert ex["conversation"] == AB
    assert (ex["earlier"]["key"], ex["later"]["key"]) == (a, b)
    assert (ex["earlier"]["read_index"], ex["later"]["read_index"]) == (1, 0)
    assert ex["earlier"]["acked_at_s"] < ex["later"]["invoked_at_s"]


def test_violations_are_counted_as_pairs() -> None:
    h = H()
    keys = sequential(h, 3)
    h.read(AB, list(reversed(keys)))
    r = check_ordering(h.ops, h.reads())
    assert r.counts["realtime_violations"] == 3
    assert r.counts["realtime_messages"] == 2  # the 2nd and 3rd read too early


def test_concurrent_sends_may_read_in_either_order() -> None:
    h = H()
    pa = h.begin("alice", "bob")
    pb = h.begin("bob", "alice")
    a = h.end(pa)
    b = h.end(pb)
    h.store(b)
    h.store(a)
    assert check_ordering(h.ops, h.reads()).valid is True


def test_ack_is_the_first_ok_and_invoke_the_earliest_attempt() -> None:
    h = H()
    a = h.send(outcome="info")  # a's first attempt: the write may happen from here on
    b = h.send("bob", "alice")
    h.retry(a)  # a acknowledged only now
    c = h.send()
    h.store(b)
    h.store(a)
    h.store(c)
    assert check_ordering(h.ops, h.reads()).valid is True  # b, a: a was invoked before b's ack
    h.read(AB, [a, b, c])
    assert check_ordering(h.ops, h.reads()).valid is True
    h.read(AB, [a, c, b])
    r = check_ordering(h.ops, h.reads())
    assert r.counts["realtime_violations"] == 1
    assert r.examples["realtime"][0]["earlier"]["key"] == b


def test_an_indeterminate_message_still_cannot_precede_what_was_acked_before_it_was_sent() -> None:
    h = H()
    a = h.send()
    b = h.send(outcome="info")
    h.store(a)
    h.store(b)
    h.read(AB, [b, a])
    r = check_ordering(h.ops, h.reads())
    assert r.counts["realtime_violations"] == 1


def test_messages_missing_from_the_read_are_not_ordering_violations() -> None:
    h = H()
    a, _, c = sequential(h, 3)
    h.read(AB, [a, c])
    r = check_ordering(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["unpositioned"] == 1
    assert r.counts["positioned"] == 2


def test_sender_order_counts_only_pairs_of_one_sender() -> None:
    h = H()
    a1 = h.send("alice", "bob")
    b1 = h.send("bob", "alice")
    a2 = h.send("alice", "bob")
    for k in (a1, b1, a2):
        h.store(k)
    h.read(AB, [b1, a2, a1])
    r = check_ordering(h.ops, h.reads())
    # (a1, b1) and (a1, a2) are real-time violations; only (a1, a2) is one sender's
    assert r.counts["realtime_violations"] == 2
    assert r.counts["sender_order"] == 1
    (ex,) = r.examples["sender_order"]
    assert (ex["earlier"]["seq"], ex["later"]["seq"]) == (1, 2)


def test_conversations_are_checked_separately() -> None:
    h = H()
    a = h.send("alice", "bob")
    c = h.send("carol", "dave")
    h.store(c)
    h.store(a)
    h.read(AB, [a])
    h.read(conv("carol", "dave"), [c])
    assert check_ordering(h.ops, h.reads()).valid is True


def test_failed_read_of_a_conversation_makes_it_unknown() -> None:
    h = H()
    sequential(h, 2)
    r = check_ordering(h.ops, h.reads(api={}, api_errors={AB: "HTTP 500"}))
    assert r.valid == "unknown"
    assert r.counts["conversations_unknown"] == 1
    assert r.details["unknown_conversations"] == [AB]
    assert r.details["api_errors"] == {AB: "HTTP 500"}


def test_absent_read_is_unknown_too() -> None:
    h = H()
    sequential(h, 1)
    assert check_ordering(h.ops, h.reads(api={})).valid == "unknown"


def test_a_violation_elsewhere_beats_unknown() -> None:
    h = H()
    a, b = sequential(h, 2)
    c = h.send("carol", "dave")
    h.store(c)
    reads = h.reads(api={AB: [h.mid(b), h.mid(a)]}, api_errors={conv("carol", "dave"): "timeout"})
    r = check_ordering(h.ops, reads)
    assert r.valid is False
    assert r.counts["conversations_unknown"] == 1


def test_a_conversation_without_acknowledged_sends_needs_no_read() -> None:
    h = H()
    h.send(outcome="fail")
    c = h.send("carol", "dave")
    h.store(c)
    reads = h.reads(api_errors={AB: "down"})
    assert check_ordering(h.ops, reads).valid is True


def test_a_run_that_read_no_conversation_tested_no_order() -> None:
    h = H()
    h.send(outcome="fail")
    r = check_ordering(h.ops, h.reads(api_errors={AB: "down"}))
    assert r.valid == "unknown"
    assert r.counts["conversations_checked"] == 0 and "vacuous" in r.details


def test_duplicate_entries_in_a_read_use_the_first_place() -> None:
    h = H()
    a, b = sequential(h, 2)
    h.read(AB, [a, b, a])
    r = check_ordering(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["duplicate_reads"] == 1


# -- the counting core against brute force -----------------------------------


def brute_pairs(
    group: list[int], ack: list[float], inv: list[float], val: list[int]
) -> tuple[int, int]:
    pairs = 0
    late: set[int] = set()
    for a in range(len(group)):
        for b in range(len(group)):
            if a != b and group[a] == group[b] and ack[a] < inv[b] and val[a] > val[b]:
                pairs += 1
                late.add(b)
    return pairs, len(late)


entities = st.lists(
    st.tuples(
        st.integers(0, 3),  # group
        st.integers(0, 30),  # invoke
        st.one_of(st.none(), st.integers(0, 10)),  # ack delay, None: never acked
        st.integers(0, 40),  # read position
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(entities)
def test_realtime_violations_match_brute_force(
    rows: list[tuple[int, int, int | None, int]],
) -> None:
    group = [g for g, *_ in rows]
    inv = [float(i) for _, i, _, _ in rows]
    ack = [float("nan") if d is None else float(i + d) for _, i, d, _ in rows]
    val = [v for *_, v in rows]
    got = realtime_violations(
        np.asarray(group, dtype=np.int64),
        np.asarray(ack, dtype=np.float64),
        np.asarray(inv, dtype=np.float64),
        np.asarray(val, dtype=np.int64),
    )
    assert (got.pairs, got.messages) == brute_pairs(group, ack, inv, val)
    for a, b in got.examples:
        assert group[a] == group[b] and ack[a] < inv[b] and val[a] > val[b]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(-5, 20)), max_size=60))
def test_count_cross_pairs_matches_brute_force(rows: list[tuple[bool, int]]) -> None:
    is_a = np.asarray([a for a, _ in rows], dtype=np.bool_)
    x = np.asarray([v for _, v in rows], dtype=np.int64)
    expected = sum(
        1
        for i in range(len(rows))
        for j in range(i + 1, len(rows))
        if rows[i][0] and not rows[j][0] and rows[i][1] > rows[j][1]
    )
    assert count_cross_pairs(is_a, x) == expected


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.one_of(
                st.integers(0, 20).map(float),
                st.floats(0, 20),
                st.sampled_from([float(2**60), float("nan"), float("inf"), -1.0]),
            ),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_the_packed_event_order_is_the_lexsort(events: list[tuple[int, float, bool]]) -> None:
    """One stable sort of a packed key orders events exactly as ``np.lexsort`` of
    (group, time, B before A), ties included; fractional or huge times take the
    lexsort itself."""
    group = np.asarray([e[0] for e in events], np.int64)
    time = np.asarray([e[1] for e in events], np.float64)
    is_a = np.asarray([e[2] for e in events], np.bool_)
    want = np.lexsort((is_a, time, group))
    assert _event_order(group, time, is_a).tolist() == want.tolist()
