"""Property tests: clean generated runs pass; planted anomalies are found exactly.

A generated run has many conversations and senders, client retries of
indeterminate and failed attempts, duplicate-injection resends of
acknowledged keys, pending attempts, records that carry no key (found by
messageId), fault windows, and API reads ordered by each message's write
point (a moment between its first invoke and its first ``ok``), so real
time order holds by construction. Each test plants anomalies of one or more
kinds and requires the counts to equal what was planted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from wiber_harness.checkers import CheckResult, check_all
from wiber_harness.history import NEMESIS, Op
from wiber_harness.reads import DeliveryEvent, FinalReads, StoredRecord

US = 1000
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class World:
    ops: list[Op]
    store: list[StoredRecord]
    api: dict[str, list[str]]
    delivery: list[DeliveryEvent]
    status: dict[str, str]  # key -> acked | failed | indeterminate
    stored: dict[str, StoredRecord]  # key -> its one record
    ack: dict[str, int] = field(default_factory=dict)
    invoke: dict[str, int] = field(default_factory=dict)
    sender: dict[str, str] = field(default_factory=dict)

    def reads(self, **kw: object) -> FinalReads:
        fields: dict[str, object] = {
            "store": list(self.store),
            "api": {c: list(m) for c, m in self.api.items()},
            "delivery": list(self.delivery),
        }
        fields.update(kw)
        return FinalReads(**fields)  # type: ignore[arg-type]


attempt = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "fail", "info", "pending"]),
    st.integers(0, 3000),  # wait before the attempt (after the previous one completed)
    st.integers(0, 3000),  # latency
)
message = st.tuples(
    st.integers(0, 3),  # conversation
    st.booleans(),  # which of its two users sends
    st.integers(0, 4000),  # gap since the previous message's schedule
    st.lists(attempt, min_size=1, max_size=3),
    st.booleans(),  # a duplicate-injection resend after an ok
    st.floats(0, 1),  # where between first invoke and ack the write lands
    st.booleans(),  # store an indeterminate message (recovered)
    st.booleans(),  # the stored record carries no key (found by messageId)
    st.integers(0, 50_000),  # store lag after the write point
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    specs = draw(st.lists(message, max_size=40))
    faults = draw(st.lists(st.tuples(st.integers(0, 60_000), st.integers(1, 20_000)), max_size=2))
    events: list[tuple[int, int, Op]] = []  # (time, creation order, op)
    next_id = 0
    seq: dict[str, int] = {}
    w = World([], [], {}, [], {}, {})
    write: dict[str, int] = {}
    t_sched = 0

    def emit(op: Op) -> None:
        events.append((op.time, len(events), op))

    for n, (c, side, gap, attempts, resend, frac, keep_indet, no_key, lag) in enumerate(specs):
        t_sched += gap * US
        users = (f"u{c}a", f"u{c}b")
        sender, to = users if side else users[::-1]
        seq[sender] = seq.get(sender, 0) + 1
        key = f"k{n}"
        value = {
            "key": key,
            "conversation": f"{users[0]}:{users[1]}",
            "from": sender,
            "to": to,
            "sender": sender,
            "seq": seq[sender],
            "intended": t_sched,
        }
        t = t_sched
        outcomes: list[str] = []
        first_ack: int | None = None
        plan = list(attempts)
        if resend and "ok" in [o for o, _, _ in plan]:
            plan.append(("ok", 1000, 1000))
        for i, (outcome, wait, latency) in enumerate(plan):
            t += wait * US
            next_id += 1
            v = dict(value)
            if i == len(attempts):  # the appended resend
                v["retry_of"] = key
            emit(Op(next_id, "invoke", "send", f"c-{sender}", t, v))
            if outcome != "fail" and key not in w.invoke:
                # a key's invoke time: its first attempt that did not fail (a fail
                # promises that attempt did not happen, so the write lands later)
                w.invoke[key] = t
            outcomes.append(outcome)
            if outcome == "pending":
                break  # nothing follows an attempt that never completed
            t += latency * US
            reply: dict[str, object] = {"status": {"ok": 201, "fail": 503}.get(outcome)}
            if outcome == "ok":
                reply["messageId"] = f"m-{key}"
                if first_ack is None:
                    first_ack = t
            emit(Op(next_id, outcome, "send", f"c-{sender}", t, reply))
        status = (
            "acked"
            if "ok" in outcomes
            else "failed"
            if set(outcomes) == {"fail"}
            else "indeterminate"
        )
        w.status[key] = status
        w.sender[key] = sender
        if key not in w.invoke:  # every attempt failed: nothing is written
            continue
        if first_ack is not None:
            w.ack[key] = first_ack
            write[key] = w.invoke[key] + int(frac * (first_ack - w.invoke[key]))
        elif status == "indeterminate" and keep_indet:
            write[key] = w.invoke[key] + int(frac * 10_000 * US)
        if key in write:
            rec = StoredRecord(
                message_id=f"m-{key}",
                key=None if (no_key and status == "acked") else key,
                conversation=str(value["conversation"]),
                sender=sender,
                partition=c,
                offset=len(w.store),
                stored_at=write[key] + lag * US,
            )
            w.store.append(rec)
            w.stored[key] = rec
            w.delivery.append(
                DeliveryEvent("c1", c, rec.offset or 0, rec.message_id, rec.stored_at, "stored")
            )

    for j, (start, length) in enumerate(faults):
        for f, at in (("inject", start * US), ("heal", (start + length) * US)):
            next_id += 1
            v = {"fault": f"f{j}", "kind": "kill", "target": "kafka.random"}
            emit(Op(next_id, "invoke", f, NEMESIS, at, v))
            emit(Op(next_id, "ok", f, NEMESIS, at + 5 * US, v))
    w.ops = [op for _, _, op in sorted(events, key=lambda e: (e[0], e[1]))]
    by_conv: dict[str, list[str]] = {}
    for key in sorted(write, key=lambda k: (write[k], k)):
        by_conv.setdefault(w.stored[key].conversation or "", []).append(f"m-{key}")
    w.api = by_conv
    return w


def zero_anomalies(world: World) -> dict[str, int]:
    return {
        "lost": 0,
        "unexpected": 0,
        "aborted": 0,
        "duplicated": 0,
        "duplicated_ids": 0,
        "duplicated_keys": 0,
        "recovered": sum(
            1 for k, s in world.status.items() if s == "indeterminate" and k in world.stored
        ),
    }


def delivery_counts(results: Mapping[str, CheckResult]) -> dict[str, int | float]:
    counts = results["delivery"].counts
    return {
        k: counts[k]
        for k in (
            "lost",
            "unexpected",
            "aborted",
            "duplicated",
            "duplicated_ids",
            "duplicated_keys",
            "recovered",
        )
    }


@PROPS
@given(worlds())
def test_clean_runs_pass_every_checker(w: World) -> None:
    results = check_all(w.ops, w.reads())
    # a run that acknowledged nothing tested nothing: delivery and ordering say unknown
    tested = any(s == "acked" for s in w.status.values())
    expected: dict[str, bool | str] = dict.fromkeys(results, True)
    if not tested:
        expected |= {"delivery": "unknown", "ordering": "unknown"}
    assert {n: r.valid for n, r in results.items()} == expected, {
        n: (r.counts, r.examples, r.error) for n, r in results.items() if r.valid is not True
    }
    assert delivery_counts(results) == zero_anomalies(w)
    d = results["delivery"].counts
    assert d["attempted"] == len(w.status)
    assert d["acknowledged"] == sum(s == "acked" for s in w.status.values())
    assert d["failed"] == sum(s == "failed" for s in w.status.values())
    assert results["ordering"].counts["positioned"] == len(w.stored)


@PROPS
@given(worlds(), st.data())
def test_planted_delivery_anomalies_are_found_exactly(w: World, data: st.DataObject) -> None:
    acked_stored = sorted(k for k, s in w.status.items() if s == "acked")
    failed = sorted(k for k, s in w.status.items() if s == "failed")
    lost = data.draw(st.sets(st.sampled_from(acked_stored)) if acked_stored else st.just(set()))
    rest = sorted(set(w.stored) - lost)
    dup_same = data.draw(st.sets(st.sampled_from(rest)) if rest else st.just(set()))
    rest2 = sorted(set(rest) - dup_same)
    dup_other = data.draw(st.sets(st.sampled_from(rest2)) if rest2 else st.just(set()))
    aborted = data.draw(st.sets(st.sampled_from(failed)) if failed else st.just(set()))
    ghosts = data.draw(st.lists(st.booleans(), max_size=3))  # True: a foreign key, False: none

    store = [
        r for r in w.store if r.key not in lost and r.message_id.removeprefix("m-") not in lost
    ]
    for k in sorted(dup_same):
        store.append(w.stored[k])
    for k in sorted(dup_other):
        store.append(StoredRecord(f"m2-{k}", k, w.stored[k].conversation, None, 0, 0, 0))
    for k in sorted(aborted):
        store.append(StoredRecord(f"m-{k}", k, None, None, 0, 0, 0))
    for i, foreign in enumerate(ghosts):
        store.append(
            StoredRecord(f"ghost-{i}", f"never-{i}" if foreign else None, None, None, 0, 0, 0)
        )

    target(float(len(lost) + len(ghosts) + len(aborted) + len(dup_same) + len(dup_other)))
    results = check_all(w.ops, w.reads(store=store))
    expected = zero_anomalies(w)
    expected.update(
        lost=len(lost),
        unexpected=len(ghosts),
        aborted=len(aborted),
        duplicated=len(dup_same) + len(dup_other),
        duplicated_ids=len(dup_same),
        duplicated_keys=len(dup_other),
    )
    assert delivery_counts(results) == expected
    planted = lost or ghosts or aborted or dup_same or dup_other
    tested = any(s == "acked" for s in w.status.values())
    assert results["delivery"].valid == (False if planted else True if tested else "unknown")
    assert {e["key"] for e in results["delivery"].examples.get("lost", [])} <= lost


@PROPS
@given(worlds(), st.data())
def test_planted_order_swaps_are_found_exactly(w: World, data: st.DataObject) -> None:
    # adjacent pairs whose order real time fixes: swapping one flips only that pair
    candidates: list[tuple[str, int]] = []
    for conv, mids in w.api.items():
        for i in range(len(mids) - 1):
            a, b = mids[i].removeprefix("m-"), mids[i + 1].removeprefix("m-")
            if a in w.ack and w.ack[a] < w.invoke[b]:
                candidates.append((conv, i))
    chosen = data.draw(
        st.lists(st.sampled_from(candidates), unique=True) if candidates else st.just([])
    )
    api = {c: list(m) for c, m in w.api.items()}
    swapped: list[tuple[str, str]] = []
    taken: set[tuple[str, int]] = set()
    for conv, i in chosen:
        if {(conv, i - 1), (conv, i), (conv, i + 1)} & taken:
            continue  # keep swaps disjoint
        taken.add((conv, i))
        m = api[conv]
        swapped.append((m[i].removeprefix("m-"), m[i + 1].removeprefix("m-")))
        m[i], m[i + 1] = m[i + 1], m[i]

    target(float(len(swapped)))
    r = check_all(w.ops, w.reads(api=api), ["ordering"])["ordering"]
    assert r.counts["realtime_violations"] == len(swapped)
    assert r.counts["realtime_messages"] == len(swapped)
    assert r.counts["sender_order"] == sum(w.sender[a] == w.sender[b] for a, b in swapped)
    tested = any(s == "acked" for s in w.status.values())
    assert r.valid == (False if swapped else True if tested else "unknown")
    found = {(e["earlier"]["key"], e["later"]["key"]) for e in r.examples.get("realtime", [])}
    assert found <= set(swapped)


@PROPS
@given(worlds(), st.data())
def test_a_failed_read_is_unknown_unless_something_is_wrong_elsewhere(
    w: World, data: st.DataObject
) -> None:
    convs = sorted(
        {
            str(w.stored[k].conversation)
            for k, s in w.status.items()
            if s == "acked" and k in w.stored
        }
    )
    if not convs:
        return
    broken = data.draw(st.sampled_from(convs))
    api = {c: m for c, m in w.api.items() if c != broken}
    r = check_all(w.ops, w.reads(api=api, api_errors={broken: "HTTP 503"}), ["ordering"])[
        "ordering"
    ]
    assert r.valid == "unknown"
    assert r.counts["conversations_unknown"] == 1
