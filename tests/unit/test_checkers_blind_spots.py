"""The checkers' former blind spots (issue 13): each test plants one anomaly and
requires the verdict ``docs/verdicts.md`` gives it. Every test here failed on
the checkers before that issue (they passed, or crashed into exit 1).

Classes: 1 extra and misplaced reads, 2 well-formed histories, 3 vacuous runs,
4 a failed attempt's interval, 6 the new invariants (answered positions, a
crash between write and commit, dead letters). Class 5 (malformed run
folders) is in ``test_check_malformed.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.histories import H, conv
from wiber_harness.checkers import check_all, check_delivery, check_ordering, check_redelivery
from wiber_harness.errors import CheckerError
from wiber_harness.history import NEMESIS, Op, read_history, write_history
from wiber_harness.reads import DeadLetter, DeliveryEvent, StoredRecord

AB = conv("alice", "bob")
CD = conv("carol", "dave")


# --- 1. reads are checked for what is extra, not only for what is missing ------


def test_a_read_of_a_message_never_sent_nor_stored_is_an_unexpected_read() -> None:
    h = H()
    a = h.send()
    h.store(a)
    h.read(AB, [a, "phantom-id"])
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["unexpected_reads"] == 1
    assert r.examples["unexpected_reads"][0]["message_id"] == "phantom-id"


def test_a_read_that_returns_another_conversations_message_is_a_foreign_read() -> None:
    h = H()
    a = h.send("alice", "bob")
    c = h.send("carol", "dave")
    h.store(a)
    h.store(c)
    h.read(AB, [a, c])  # carol's message in alice and bob's conversation
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["foreign_reads"] == 1 and r.counts["unexpected_reads"] == 0
    assert r.examples["foreign_reads"][0]["key"] == c


def test_a_read_that_repeats_a_message_is_a_duplicate_read() -> None:
    h = H()
    a = h.send()
    b = h.send()
    h.store(a)
    h.store(b)
    h.read(AB, [a, b, a])
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["duplicate_reads"] == 1
    assert check_ordering(h.ops, h.reads()).counts["duplicate_reads"] == 1


def test_a_message_stored_under_another_conversation_is_misplaced() -> None:
    h = H()
    a = h.send("alice", "bob")
    h.store(h.send("carol", "dave"))
    h.store(a, conversation=CD)  # stored (and readable) in the wrong conversation
    h.read(CD, [h.mid(a)])
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["misplaced"] == 1
    assert r.examples["misplaced"][0]["stored_conversation"] == CD


# --- 2. well-formed histories -----------------------------------------------------


def _write(path: Path, lines: list[dict[str, Any] | str | bytes], newline: bool = True) -> Path:
    out = [orjson.dumps({"schema": "wiber-history/1"})]
    for x in lines:
        out.append(
            x if isinstance(x, bytes) else orjson.dumps(x) if isinstance(x, dict) else x.encode()
        )
    path.write_bytes(b"\n".join(out) + (b"\n" if newline else b""))
    return path


def _op(id_: int, type_: str, t: int, **value: Any) -> dict[str, Any]:
    return {"id": id_, "type": type_, "f": "send", "process": "client-a", "time": t, "value": value}


INV = {"key": "k1", "conversation": AB, "from": "alice", "to": "bob", "sender": "alice"}


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        pytest.param(
            [_op(1, "invoke", 1, **INV), _op(1, "invoke", 2, **INV)],
            3,
            "invoked again",
            id="reused-invoke-id",
        ),
        pytest.param(
            [_op(1, "invoke", 1, **INV), _op(1, "ok", 2, messageId="m"), _op(1, "fail", 3)],
            4,
            "completed a second time",
            id="two-completions",
        ),
        pytest.param([_op(7, "ok", 2, messageId="m")], 2, "no earlier invoke", id="orphan"),
        pytest.param(
            [_op(1, "ok", 2, messageId="m"), _op(1, "invoke", 1, **INV)],
            2,
            "no earlier invoke",
            id="completion-before-invoke",
        ),
        pytest.param(
            [_op(1, "invoke", 5, **INV), _op(1, "ok", 4, messageId="m")],
            3,
            "before its invoke",
            id="completion-earlier-in-time",
        ),
        pytest.param(["[1, 2, 3]"], 2, "not an op object", id="json-array"),
        pytest.param(["null"], 2, "not an op object", id="json-null"),
        pytest.param(  # found by test_columns: an unhashable type crashed the reader
            [{**_op(1, "invoke", 1, **INV), "type": []}], 2, "field type", id="type-is-a-list"
        ),
        pytest.param(
            [_op(1, "invoke", 1, **{**INV, "intended": "soon"})],
            2,
            "value.intended",
            id="intended-not-a-number",
        ),
        pytest.param(
            [_op(1, "invoke", 1_733_300_000_000_000_000, **INV)],
            2,
            "outside",
            id="epoch-ns-time",
        ),
        pytest.param(
            [{**_op(1, "invoke", 1, **INV), "value": {"conversation": AB}}],
            2,
            "value.key",
            id="send-without-key",
        ),
    ],
)
def test_a_malformed_history_is_refused_with_its_line(
    tmp_path: Path, lines: list[Any], line: int, words: str
) -> None:
    p = _write(tmp_path / "history.jsonl", lines)
    with pytest.raises(CheckerError) as e:
        read_history(p)
    assert f"history.jsonl:{line}:" in str(e.value) and words in str(e.value)
    assert "\n" not in str(e.value)


def test_a_complete_but_invalid_last_line_is_malformed_not_torn(tmp_path: Path) -> None:
    ok = [_op(1, "invoke", 1, **INV), _op(1, "ok", 2, messageId="m")]
    p = _write(tmp_path / "h.jsonl", [*ok, '{"id": 2, "type": "ok"'])  # ends with a newline
    with pytest.raises(CheckerError, match=r"h\.jsonl:4: the line is not JSON"):
        read_history(p)
    torn = _write(tmp_path / "t.jsonl", [*ok, '{"id": 2, "type": "ok"'], newline=False)
    assert len(read_history(torn)[1]) == 2  # a torn last line is dropped


def test_ok_then_fail_no_longer_hides_an_acknowledged_loss(tmp_path: Path) -> None:
    # before: the fail (the last completion) won, so the lost ack was never counted
    p = _write(
        tmp_path / "h.jsonl",
        [_op(1, "invoke", 1, **INV), _op(1, "ok", 2, messageId="m"), _op(1, "fail", 3)],
    )
    with pytest.raises(CheckerError, match="completed a second time"):
        read_history(p)


# --- 3. runs that tested nothing ---------------------------------------------------


def test_an_empty_history_is_unknown_not_valid() -> None:
    results = check_all([], H().reads())
    assert results["delivery"].valid == "unknown"
    assert results["ordering"].valid == "unknown"


def test_a_run_where_every_send_failed_is_unknown() -> None:
    h = H()
    for _ in range(5):
        h.send(outcome="fail")
    results = check_all(h.ops, h.reads())
    assert results["delivery"].valid == "unknown"
    assert results["ordering"].valid == "unknown"


def test_a_run_whose_reads_all_failed_tested_no_order() -> None:
    h = H()
    h.store(h.send())
    r = check_ordering(h.ops, h.reads(api={}, api_errors={AB: "GET answered 500"}))
    assert r.valid == "unknown"


# --- 4. a failed attempt does not count in a message's start --------------------------


def test_a_failed_first_attempt_does_not_hide_a_realtime_violation() -> None:
    h = H()
    b = h.send("alice", "bob", outcome="fail")  # 503: surely did not happen
    a = h.send("alice", "bob")  # acknowledged ...
    h.retry(b)  # ... before b's retry, the attempt that did happen, was sent
    h.store(a)
    h.store(b)
    h.read(AB, [b, a])  # yet b reads first
    r = check_ordering(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["realtime_violations"] == 1


def test_an_indeterminate_first_attempt_still_counts() -> None:
    h = H()
    b = h.send("alice", "bob", outcome="info")  # may have happened now
    a = h.send("alice", "bob")
    h.retry(b)
    h.store(a)
    h.store(b)
    h.read(AB, [b, a])  # b may have been written during its first attempt
    assert check_ordering(h.ops, h.reads()).valid is True


# --- 6. new invariants ------------------------------------------------------------------


def _with_position(h: H, key: str, partition: int, offset: int) -> None:
    """Give ``key``'s ok completion the Kafka position the API answered."""
    for i, op in enumerate(h.ops):
        if op.type == "ok" and op.f == "send" and op.value.get("messageId") == h.mid(key):
            h.ops[i] = Op(
                op.id,
                op.type,
                op.f,
                op.process,
                op.time,
                {**op.value, "partition": partition, "offset": offset},
            )


def test_an_answered_position_that_is_not_where_the_message_is_stored_is_a_violation() -> None:
    h = H()
    a, b = h.send(), h.send()
    ra, _rb = h.store(a), h.store(b)
    _with_position(h, a, ra.partition or 0, ra.offset or 0)
    _with_position(h, b, 0, -1001)  # acks=0: librdkafka's "invalid offset"
    r = check_delivery(h.ops, h.reads())
    assert r.valid is False
    assert r.counts["position_checked"] == 2 and r.counts["position_mismatch"] == 1
    assert r.examples["position_mismatch"][0]["key"] == b


def test_an_answer_that_names_a_later_copy_of_the_message_is_not_a_mismatch() -> None:
    """The shape of leader-kill-frozen-followers --quick --seed 9 (session 6): a
    produce request timed out during the leader change, librdkafka bumped its
    epoch and wrote the batch again, so the log held each message at offsets
    150 and 155. The ack named 155; the consumer stored 150 and dropped 155 as
    a duplicate. No record is at the answered position."""
    h = H()
    a, b = h.send(), h.send()
    ra, rb = h.store(a), h.store(b)  # at (0, 0) and (0, 1)
    _with_position(h, a, 0, (ra.offset or 0) + 5)
    _with_position(h, b, 0, (rb.offset or 0) + 5)
    r = check_delivery(h.ops, h.reads())
    assert r.valid is True
    assert r.counts["position_checked"] == 2
    assert r.counts["position_mismatch"] == 0 and r.counts["position_later_copy"] == 2
    assert r.examples["position_later_copy"][0]["answered"] == [0, 5]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda ra, rb: (0, rb.offset), id="another-messages-position"),
        pytest.param(lambda ra, rb: (1, ra.offset + 5), id="another-partition"),
        pytest.param(lambda ra, rb: (0, ra.offset - 1), id="a-lower-offset"),
    ],
)
def test_an_answer_that_cannot_be_a_later_copy_is_still_a_mismatch(answer: Any) -> None:
    """A later copy sits in the same partition, after the stored copy, at a
    position no other stored message holds; any other answer is a mismatch."""
    h = H()
    h.store(None)  # (0, 0): keeps a - 1 a real offset
    a, b = h.send(), h.send()
    ra, rb = h.store(a), h.store(b)  # (0, 1), (0, 2)
    _with_position(h, a, *answer(ra, rb))
    _with_position(h, b, rb.partition or 0, rb.offset or 0)
    r = check_delivery(h.ops, h.reads())
    assert r.counts["position_mismatch"] == 1 and r.counts["position_later_copy"] == 0
    assert r.examples["position_mismatch"][0]["key"] == a


def test_a_retried_key_is_not_position_checked() -> None:
    h = H()
    a = h.send(outcome="info")
    h.retry(a)
    h.store(a)
    _with_position(h, a, 3, 99)  # the retry's produce wrote elsewhere; the store kept the first
    r = check_delivery(h.ops, h.reads())
    assert r.counts["position_checked"] == 0 and r.valid is True


def _crash_run(redelivered: bool) -> tuple[list[Op], Any]:
    h = H()
    h.store(h.send())
    fid = "0-failpoint"
    params = {"name": "consumer.after_store_before_commit", "action": "crash", "hit": 3}
    inv = {"fault": fid, "kind": "failpoint", "target": "consumer.1", "params": params}
    h.ops += [
        Op(90, "invoke", "inject", NEMESIS, h.tick(), inv),
        Op(90, "ok", "inject", NEMESIS, h.tick(), {**inv, "effective": True}),
    ]
    heal = {"fault": fid, "kind": "failpoint", "target": "consumer.1"}
    crashed = {"nodes": {"consumer-1": {"crashed": True, "effective": True}}, "effective": True}
    h.ops += [
        Op(91, "invoke", "heal", NEMESIS, h.tick(), heal),
        Op(91, "ok", "heal", NEMESIS, h.tick(), {**heal, "evidence": crashed}),
    ]
    log = [DeliveryEvent("consumer-1", 0, 0, "m-k1", 1, "stored")]
    if redelivered:
        log.append(DeliveryEvent("consumer-2", 0, 0, "m-k1", h.tick(), "duplicate"))
    return h.ops, h.reads(delivery=log)


def test_a_crash_between_write_and_commit_without_redelivery_is_a_violation() -> None:
    ops, reads = _crash_run(redelivered=False)
    r = check_redelivery(ops, reads)
    assert r.valid is False
    assert r.counts["crash_windows"] == 1 and r.counts["missing_redelivery"] == 1
    ops, reads = _crash_run(redelivered=True)
    r = check_redelivery(ops, reads)
    assert r.valid is True and r.counts["missing_redelivery"] == 0


def test_a_dead_letter_in_a_run_without_invalid_sends_is_a_violation() -> None:
    h = H()
    a = h.send()
    h.store(h.send())
    dead = [DeadLetter(2, 7, h.mid(a), "store write failed: timeout")]
    r = check_delivery(h.ops, h.reads(dead_letters=dead))
    assert r.valid is False and r.counts["dead_lettered"] == 1
    assert r.examples["dead_lettered"][0]["reason"] == "store write failed: timeout"
    assert check_delivery(h.ops, h.reads(dead_letters=[])).counts["dead_lettered"] == 0


def test_history_round_trip_keeps_the_answered_position(tmp_path: Path) -> None:
    h = H()
    a = h.send()
    _with_position(h, a, 4, 12)
    write_history(tmp_path / "h.jsonl", h.ops)
    _, ops = read_history(tmp_path / "h.jsonl")
    done = next(o for o in ops if o.type == "ok")
    assert (done.value["partition"], done.value["offset"]) == (4, 12)


def test_stored_records_need_no_position_to_be_judged() -> None:
    h = H()
    a = h.send()
    h.store_records.append(StoredRecord(h.mid(a), a, AB, "alice", None, None, None))
    _with_position(h, a, 0, 5)
    r = check_delivery(h.ops, h.reads())
    assert r.counts["position_checked"] == 0 and r.valid is True
