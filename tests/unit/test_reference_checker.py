"""The reference checker against hand-worked examples of ``docs/verdicts.md``.

One small run per rule, its expected counts worked out by hand from the
spec's sentences, so the reference the differential test trusts is itself
checked against the spec and not only against the fast checkers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference import checker as ref
from wiber_harness import reads as reads_module
from wiber_harness.history import Op
from wiber_harness.reads import DeliveryEvent, FinalReads, StoredRecord

A, B = "a:b", "c:d"  # two conversations
HEADER = b'{"schema":"wiber-history/1"}'


class Run:
    """Ops written by hand: ``send`` is one attempt (invoke at t0, completion at t1)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def send(
        self,
        key: str,
        t0: int,
        outcome: str | None,
        t1: int = 0,
        *,
        conv: str | None = A,
        sender: str = "a",
        mid: str | None = "same",
        at: tuple[int, int] | None = None,
        **extra: Any,
    ) -> None:
        op_id = len(self.ops) + 1
        v: dict[str, Any] = {"key": key, "sender": sender, **extra}
        if conv is not None:
            v["conversation"] = conv
        self.ops.append(Op(op_id, "invoke", "send", f"client-{sender}", t0, v))
        if outcome is None:
            return
        reply: dict[str, Any] = {}
        if mid is not None:
            reply["messageId"] = f"m-{key}" if mid == "same" else mid
        if at is not None:
            reply["partition"], reply["offset"] = at
        self.ops.append(Op(op_id, outcome, "send", f"client-{sender}", max(t1, t0), reply))  # type: ignore[arg-type]

    def nemesis(
        self, f: str, t: int, value: dict[str, Any], outcome: str = "ok", **done: Any
    ) -> None:
        op_id = len(self.ops) + 1
        self.ops.append(Op(op_id, "invoke", f, "nemesis", t, value))
        self.ops.append(Op(op_id, outcome, f, "nemesis", t + 1, {**value, **done}))  # type: ignore[arg-type]


def rec(
    mid: str, key: str | None, conv: str | None = A, at: tuple[int, int] | None = (0, 0)
) -> StoredRecord:
    p, o = at if at is not None else (None, None)
    return StoredRecord(mid, key, conv, None, p, o, None)


def delivery(
    run: Run, store: list[StoredRecord], api: dict[str, list[str]], **kw: Any
) -> ref.Result:
    return ref.check_delivery(run.ops, FinalReads(store=store, api=api, **kw))


def ordering(
    run: Run, store: list[StoredRecord], api: dict[str, list[str]], **kw: Any
) -> ref.Result:
    return ref.check_ordering(run.ops, FinalReads(store=store, api=api, **kw))


def bad(result: ref.Result, **expected: int) -> None:
    """The verdict is False and the named counts are as expected."""
    assert result.valid is False
    assert {k: result.counts[k] for k in expected} == expected


# ---------------------------------------------------------------- section 1


def lines(*ops: bytes, newline: bool = True) -> bytes:
    return b"\n".join([HEADER, *ops]) + (b"\n" if newline else b"")


INV = b'{"id":1,"type":"invoke","f":"send","process":"client-a","time":5,"value":{"key":"k"}}'
OK = b'{"id":1,"type":"ok","f":"send","process":"client-a","time":6,"value":{"messageId":"m"}}'


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"", 1),
        (b'{"schema":"other"}\n', 1),
        (lines(INV, INV), 3),  # an invoke id used again
        (lines(INV, OK, OK), 4),  # two completions
        (lines(OK), 2),  # a completion without invoke
        (lines(OK, INV), 2),  # a completion before its invoke
        (lines(INV, OK.replace(b'"time":6', b'"time":4')), 3),  # earlier than its invoke
        (lines(INV, OK.replace(b"client-a", b"client-b")), 3),  # another process
        (lines(INV.replace(b'"time":5', b'"time":604800000000001')), 2),
        (lines(INV.replace(b'"time":5', b'"time":5.0')), 2),
        (lines(INV.replace(b'"id":1', b'"id":true')), 2),
        (lines(INV.replace(b'{"key":"k"}', b"{}")), 2),  # a send without key
        (lines(INV, OK.replace(b'"m"', b"5")), 3),  # messageId not a string
        (lines(INV, b"{oops", OK), 3),  # not JSON, not last
        (lines(INV, b'{"id":2}', newline=False), 3),  # a complete invalid last line
        (lines(INV, b"{oops"), 3),  # not JSON, but ends with a newline: not torn
        (lines(INV.replace(b"client-a", b"nemesis")), 2),  # a nemesis invoke without fault
        (lines(INV.replace(b'"k"', b'"\\ud800"')), 2),  # a lone surrogate: not I-JSON
    ],
)
def test_malformed_histories_name_their_first_bad_line(raw: bytes, line: int) -> None:
    problem = ref.parse_history(raw)
    assert isinstance(problem, ref.Problem)
    assert problem.line == line


def test_a_torn_last_line_is_dropped() -> None:
    ops = ref.parse_history(lines(INV, OK[:20], newline=False))
    assert isinstance(ops, list) and [o.type for o in ops] == ["invoke"]  # pending: allowed
    ops = ref.parse_history(lines(INV, OK, newline=False))  # complete, no newline: kept
    assert isinstance(ops, list) and [o.type for o in ops] == ["invoke", "ok"]
    null_mid = OK.replace(b'"m"', b"null")
    assert isinstance(ref.parse_history(lines(INV, null_mid)), list)


# ---------------------------------------------------------------- section 3


def test_a_clean_run_is_valid_and_vacuous_runs_are_unknown() -> None:
    r = Run()
    r.send("k1", 0, "ok", 1, at=(0, 0))
    out = delivery(r, [rec("m-k1", "k1")], {A: ["m-k1"]})
    assert out.valid is True
    assert out.counts["position_checked"] == 1
    assert ordering(r, [rec("m-k1", "k1")], {A: ["m-k1"]}).valid is True
    assert ordering(r, [rec("m-k1", "k1")], {}).valid == "unknown"  # nothing read
    nothing = Run()
    nothing.send("k1", 0, "info", 1)
    assert delivery(nothing, [], {}).valid == "unknown"  # nothing acknowledged
    assert delivery(Run(), [], {}).valid == "unknown"  # no ops


def test_lost_unexpected_aborted_recovered() -> None:
    r = Run()
    r.send("k1", 0, "ok", 1)  # acknowledged, never stored: lost
    r.send("k2", 2, "fail", 3)  # failed, yet stored: aborted
    r.send("k3", 4, "info", 5)  # indeterminate, stored: recovered
    store = [rec("m-k2", "k2"), rec("m-k3", "k3"), rec("ghost", None)]
    bad(delivery(r, store, {}), lost=1, aborted=1, recovered=1, unexpected=1, acknowledged=1)


def test_duplicates_same_id_and_one_key_two_ids() -> None:
    r = Run()
    r.send("k1", 0, "ok", 1)
    r.send("k2", 2, "ok", 3)
    store = [rec("m-k1", "k1"), rec("m-k1", "k1"), rec("m-k2", "k2"), rec("m2", "k2")]
    store += [rec("g", None), rec("g", None), rec("g", None)]  # unattributed, 3 copies
    bad(
        delivery(r, store, {}),
        duplicated=3,
        duplicated_ids=2,
        duplicated_keys=1,
        duplicate_copies=1 + 1 + 2,
        unexpected=3,
        id_mismatch=0,
    )


def test_attribution_by_key_then_by_owner() -> None:
    r = Run()
    r.send("k1", 0, "info", 1, mid="x")  # info returned x
    r.send("k2", 2, "ok", 3, mid="x")  # ok returned x too: k2 owns it
    out = delivery(r, [rec("x", None)], {})
    assert out.counts["stored_keys"] == 1 and out.counts["recovered"] == 0
    assert out.counts["lost"] == 0
    out = delivery(r, [rec("x", "k1")], {})  # the record's key wins
    assert out.counts["recovered"] == 1 and out.counts["lost"] == 1


def test_read_side_anomalies() -> None:
    r = Run()
    r.send("k1", 0, "ok", 1)
    r.send("k2", 2, "ok", 3, conv=B)
    r.send("k3", 4, "ok", 5)
    store = [rec("m-k1", "k1"), rec("m-k2", "k2", B), rec("m-k3", "k3")]
    # k3 unreadable; phantom unexpected; m-k2 read in A is foreign; m-k1 read twice
    api = {A: ["m-k1", "phantom", "m-k2", "m-k1"], B: ["m-k2"]}
    out = delivery(r, store, api)
    bad(out, unreadable=1, unexpected_reads=1, foreign_reads=1, duplicate_reads=1)
    o = ordering(r, store, api)
    assert o.counts["positioned"] == 2 and o.counts["unpositioned"] == 1
    # a failed read judges nothing; no API at all: no unreadable
    out = delivery(r, store, {A: ["m-k1"], B: ["m-k2"]}, api_errors={A: "503"})
    assert out.counts["unreadable"] == 0
    assert ordering(r, store, {A: ["m-k1"]}, api_errors={A: "503"}).valid == "unknown"


def test_misplaced_and_position_mismatch() -> None:
    r = Run()
    r.send("k1", 0, "ok", 1, at=(0, 5))  # below its record: a mismatch
    r.send("k2", 2, "fail", 3, at=(0, 9))
    r.send("k2", 4, "ok", 5, at=(0, 8))  # one attempt that did not fail: checked
    r.send("k3", 6, "info", 7)
    r.send("k3", 8, "ok", 9, at=(0, 1))  # two attempts that did not fail: not checked
    r.send("k4", 10, "ok", 11, at=(0, 12))  # a later copy of its record at (0, 10)
    r.send("k5", 12, "ok", 13, at=(0, 8))  # above its record, but k2's position
    store = [
        rec("m-k1", "k1", B, (0, 6)),
        rec("m-k2", "k2", A, (0, 8)),
        rec("m-k3", "k3", A, (0, 2)),
        rec("m-k4", "k4", A, (0, 10)),
        rec("m-k5", "k5", A, (0, 7)),
    ]
    out = delivery(r, store, {})
    bad(out, misplaced=1, position_checked=4, position_mismatch=2, position_later_copy=1)


def test_dead_letters_count_unless_a_send_was_invalid() -> None:
    cls = getattr(reads_module, "DeadLetter", None)
    if cls is None:
        pytest.skip("this harness has no dead letters yet")
    r = Run()
    r.send("k1", 0, "ok", 1)
    dl = [cls(0, 1, "m-x", "bad")]
    bad(delivery(r, [rec("m-k1", "k1")], {A: ["m-k1"]}, dead_letters=dl), dead_lettered=1)
    r.send("k2", 2, "fail", 3, invalid=True)
    out = delivery(r, [rec("m-k1", "k1")], {A: ["m-k1"]}, dead_letters=dl)
    assert out.valid is True and out.counts["dead_lettered"] == 0


# ---------------------------------------------------------------- section 4


def test_realtime_order_and_the_start_time_rule() -> None:
    r = Run()
    r.send("k1", 0, "ok", 10, sender="a")
    r.send("k2", 5, "fail", 6, sender="a")  # a failed first attempt does not count...
    r.send("k2", 20, "ok", 21, sender="a")  # ...so k2 was sent after k1's ack
    r.send("k3", 1, "ok", 30, sender="b")  # concurrent with everything: no constraint
    store = [rec(f"m-k{i}", f"k{i}") for i in (1, 2, 3)]
    o = ordering(r, store, {A: ["m-k3", "m-k2", "m-k1"]})
    bad(o, realtime_violations=1, realtime_messages=1, sender_order=1, conversations_checked=1)
    assert ordering(r, store, {A: ["m-k1", "m-k3", "m-k2"]}).valid is True


# ---------------------------------------------------------------- section 5

FP = {
    "fault": "f1",
    "kind": "failpoint",
    "params": {"name": ref.CRASH_FAILPOINT, "action": "crash"},
}


def crash_run(crashed: bool = True) -> Run:
    r = Run()
    r.nemesis("inject", 100, FP)
    heal = {"fault": "f1", "kind": "failpoint"}
    r.nemesis("heal", 200, heal, evidence={"nodes": {"c1": {"crashed": crashed}}})
    return r


def ev(offset: int, time: int | None, outcome: str = "stored") -> DeliveryEvent:
    return DeliveryEvent("c1", 0, offset, None, time, outcome)


def test_a_crash_window_needs_a_redelivery_after_the_inject() -> None:
    r = crash_run()
    missing = ref.check_redelivery(r.ops, FinalReads(delivery=[ev(1, 50), ev(1, 60)]))
    assert missing.valid is False and missing.counts["missing_redelivery"] == 1
    for events in (
        [ev(1, 50), ev(1, 150)],
        [ev(1, None), ev(1, 10), ev(2, 20)],
        [ev(3, 150, "duplicate")],
    ):
        out = ref.check_redelivery(r.ops, FinalReads(delivery=events))
        assert out.valid is True and out.counts["crash_windows"] == 1, events
    assert ref.check_redelivery(crash_run(False).ops, FinalReads()).counts["crash_windows"] == 0
    nothing_read = ref.check_redelivery(r.ops, FinalReads())  # no log: nothing to judge by
    assert nothing_read.valid == "unknown" and nothing_read.counts["missing_redelivery"] == 0
    out = ref.check_redelivery(r.ops, FinalReads(delivery=[ev(1, 50), ev(1, 150), ev(2, 1, "dlq")]))
    assert out.counts == {
        "events": 3,
        "records": 2,
        "redeliveries": 1,
        "redelivered": 1,
        "duplicate_outcomes": 0,
        "dlq": 1,
        "failed": 0,
        "consumers": 1,
        "crash_windows": 1,
        "missing_redelivery": 0,
    }
