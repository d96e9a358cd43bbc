"""Matching that needs nothing from the pipeline: the checkers attribute by content tag.

The pipeline these runs are shaped after (``tests/tutorial``) keeps no idempotency
key and answers with its own messageId; a send that timed out never learnt that id.
Before tags, every such send that was stored anyway looked *unexpected* (a false
VIOLATION on a run where nothing went wrong but latency); by its tag it is
*recovered*. The rule's order of preference (stored key, returned messageId, tag)
and the other shape-agnostic behaviours (skipped checks, approximate stored times,
a settled drain, the cause of a loss) are pinned here too.
"""

from __future__ import annotations

import math
from typing import Any

from wiber_harness.checkers import check_all
from wiber_harness.history import NEMESIS, Op
from wiber_harness.reads import FinalReads, StoredRecord

MS = 1_000_000
CONV = "u0:u1"


class Run:
    """Sends of one conversation, written op by op."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.n = 0

    def send(
        self,
        outcome: str,
        at_ms: int,
        mid: str | None = None,
        tag: str | None = None,
        key: str | None = None,
        took_ms: int = 5,
    ) -> str:
        self.n += 1
        key = key or f"k{self.n}"
        v: dict[str, Any] = {
            "key": key,
            "conversation": CONV,
            "from": "u0",
            "to": "u1",
            "sender": "u0",
            "seq": self.n,
            "intended": at_ms * MS,
        }
        if tag is not None:
            v["tag"] = tag
        self.ops.append(Op(self.n, "invoke", "send", "client-u0", at_ms * MS, v))
        done: dict[str, Any] = {"status": 200 if outcome == "ok" else None}
        if mid is not None:
            done["messageId"] = mid
        if outcome != "ok":
            done["error"] = "timeout after 10.0s"
        self.ops.append(Op(self.n, outcome, "send", "client-u0", (at_ms + took_ms) * MS, done))  # type: ignore[arg-type]
        return key

    def fault(self, start_ms: int, end_ms: int) -> None:
        v = {"fault": "0-partition", "kind": "partition", "target": "link(consumer, store)"}
        for i, (f, t) in enumerate((("inject", start_ms), ("heal", end_ms))):
            self.ops.append(Op(900 + i, "invoke", f, NEMESIS, t * MS, v))
            self.ops.append(Op(900 + i, "ok", f, NEMESIS, t * MS, {**v, "effective": True}))


def rec(
    mid: str, tag: str | None, key: str | None = None, at_ms: int | None = None
) -> StoredRecord:
    """A document as the tutorial stores it: its own id, no key, no position."""
    return StoredRecord(
        mid, key, CONV, "u0", None, None, None if at_ms is None else at_ms * MS, tag
    )


def tutorial_run() -> tuple[Run, FinalReads]:
    """One answered send and one that timed out although its message was stored."""
    r = Run()
    r.send("ok", 0, mid="uuid-a", tag="aaaaaa-1")
    r.send("info", 10, tag="aaaaaa-2", took_ms=10_000)  # no answer: no messageId
    store = [rec("uuid-a", "aaaaaa-1", at_ms=20), rec("uuid-b", "aaaaaa-2", at_ms=30)]
    return r, FinalReads(store=store, api={CONV: ["uuid-a", "uuid-b"]})


def test_a_timed_out_send_found_stored_by_its_tag_is_recovered_not_unexpected() -> None:
    r, reads = tutorial_run()
    out = check_all(r.ops, reads)
    d = out["delivery"]
    assert d.valid is True, d.counts
    assert (d.counts["unexpected"], d.counts["recovered"], d.counts["by_tag"]) == (0, 1, 1)
    assert d.counts["unexpected_reads"] == 0 and d.counts["stored_keys"] == 2
    o = out["ordering"]
    assert o.valid is True and o.counts["positioned"] == 2


def test_without_the_tag_the_same_run_is_the_false_alarm() -> None:
    r, reads = tutorial_run()
    untagged = FinalReads(
        store=[rec(x.message_id, None, at_ms=1) for x in reads.store], api=reads.api
    )
    d = check_all(r.ops, untagged)["delivery"]
    assert d.valid is False and d.counts["unexpected"] == 1 and d.counts["unexpected_reads"] == 1


def test_order_of_preference_stored_key_then_returned_id_then_tag() -> None:
    r = Run()
    k1 = r.send("ok", 0, mid="m1", tag="aaaaaa-1")
    r.send("ok", 10, mid="m2", tag="aaaaaa-2")
    r.send("ok", 20, mid="m3", tag="aaaaaa-3")
    reads = FinalReads(
        store=[
            rec("m2", "aaaaaa-3", key=k1),  # key field first: k1 (a second id for k1)
            rec("m2", "aaaaaa-3"),  # then the returned id: k2
            rec("m9", "aaaaaa-3"),  # then the tag: k3
        ]
    )
    d = check_all(r.ops, reads, ["delivery"])["delivery"]
    assert d.counts["stored_keys"] == 3 and d.counts["by_tag"] == 1
    assert d.counts["unexpected"] == 0 and d.counts["lost"] == 0
    assert d.counts["duplicated_ids"] == 1  # m2 stored twice, under two keys
    assert d.counts["id_mismatch"] == 2  # k1 stored as m2, k3 as m9: not what they were answered


def test_a_read_item_is_attributed_by_its_own_tag() -> None:
    """An API that reads back under another id than the one it answered and stored."""
    r = Run()
    r.send("ok", 0, mid="m1", tag="aaaaaa-1")
    r.send("info", 10, tag="aaaaaa-2")
    reads = FinalReads(
        store=[rec("m1", "aaaaaa-1"), rec("s2", "aaaaaa-2")],
        api={CONV: ["r1", "r2"]},
        api_tags={CONV: ["aaaaaa-1", "aaaaaa-2"]},
    )
    out = check_all(r.ops, reads, ["delivery", "ordering"])
    assert out["delivery"].counts["unexpected_reads"] == 0
    assert out["ordering"].counts["positioned"] == 2 and out["ordering"].valid is True


def test_checks_a_pipeline_cannot_support_are_skipped_with_a_reason() -> None:
    r, reads = tutorial_run()
    nowhere = FinalReads(
        store=[
            StoredRecord(x.message_id, None, None, None, None, None, 1, x.tag) for x in reads.store
        ],
        api=reads.api,
    )
    d = check_all(r.ops, nowhere, ["delivery"])["delivery"]
    assert d.valid is True and d.counts["position_checked"] == 0
    assert "no Kafka partition and offset" in d.details["skipped"]["position"]
    assert "unreadable and misplaced were not judged" in d.details["skipped"]["unreadable"]


def test_lost_messages_are_placed_in_the_fault_window() -> None:
    r = Run()
    r.fault(1_000, 7_000)
    for i, at in enumerate((500, 2_000, 3_000, 9_000)):
        r.send("ok", at, mid=f"m{i}", tag=f"aaaaaa-{i}")
    reads = FinalReads(store=[rec("m3", "aaaaaa-3")], api={CONV: ["m3"]})
    d = check_all(r.ops, reads, ["delivery"])["delivery"]
    assert d.counts["lost"] == 3
    assert d.details["cause"] == (
        "lost 3: all acknowledged from 0.51 s to 3.00 s, while fault 0-partition "
        "(partition link(consumer, store)) was in effect (1.0 s to 7.0 s) or at most 0.49 s "
        "before it took effect"
    )
    # a loss after every window is not blamed on one
    late = FinalReads(store=[rec(f"m{i}", f"aaaaaa-{i}") for i in range(3)], api={})
    assert "cause" not in check_all(r.ops, late, ["delivery"])["delivery"].details


def test_observed_stored_times_are_approximate_and_give_no_e2e() -> None:
    r, reads = tutorial_run()
    reads.stored_at_observed = True
    c = check_all(r.ops, reads, ["convergence"])["convergence"]
    assert c.valid is True and "approximate" in c.details
    assert math.isnan(c.counts["e2e_mean_s"]) and math.isnan(c.counts["e2e_max_s"])


def test_a_settled_drain_leaves_the_loss_to_delivery() -> None:
    r, reads = tutorial_run()
    lost = FinalReads(store=reads.store[1:], api={}, drained=False)
    lost.extra = {"drain": {"missing": 1, "lag": 0, "settled": True}}
    c = check_all(r.ops, lost, ["convergence"])["convergence"]
    assert c.valid is True and "lost" in c.details["settled"]
    lost.extra = {"drain": {"missing": 1, "lag": 12, "settled": False}}  # ran out of time
    assert check_all(r.ops, lost, ["convergence"])["convergence"].valid is False
    lost.extra = {}  # an older run folder: as before
    assert check_all(r.ops, lost, ["convergence"])["convergence"].valid is False
