"""Reference checker: ``docs/verdicts.md`` sections 3, 4 and 5, the slow and plain way.

It promises to be obviously right rather than fast: every rule is one small
function whose docstring quotes the sentence of the spec it implements, in
plain loops, lists and dicts (quadratic where that reads better). It imports
nothing from ``wiber_harness.checkers``; ``Op`` and ``FinalReads`` serve as
plain containers. Where the spec is silent the choice is said in a comment
marked SPEC-GAP.

* :func:`parse_history` (from :mod:`tests.reference.wellformed`): the raw bytes
  of ``history.jsonl`` -> the ops, or the first :class:`Problem`;
* :func:`check_delivery`, :func:`check_ordering`, :func:`check_redelivery`
  -> :class:`Result` (verdict True / False / ``"unknown"`` and every count the
  spec defines); :func:`check_all` runs the three. The terms they use are
  :class:`tests.reference.terms.Run`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tests.reference.terms import Run
from tests.reference.wellformed import Problem, is_int, parse_history
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads

Verdict = bool | Literal["unknown"]
CRASH_FAILPOINT = "consumer.after_store_before_commit"


@dataclass(frozen=True)
class Result:
    """One checker's verdict and every count the spec defines for it."""

    valid: Verdict
    counts: dict[str, int]


# ---------------------------------------------------------------- section 3


def keys_with(run: Run, status: str) -> list[str]:
    return [k for k in run.keys if run.status(k) == status]


def duplicated(run: Run) -> tuple[int, int]:
    """ "duplicated: keys with two or more attributed records, plus messageIds that
    occur on two or more unattributed records"; "duplicate_copies: sum over keys
    with k >= 2 attributed records of k - 1, plus over messageIds with n >= 2
    unattributed records of n - 1". Returns (duplicated, duplicate_copies)."""
    count = copies = 0
    for k in run.keys:
        n = len(run.records_of(k))
        if n >= 2:
            count, copies = count + 1, copies + n - 1
    loose = [r.message_id for r in run.reads.store if run.attribution(r) is None]
    for mid in set(loose):
        n = loose.count(mid)
        if n >= 2:
            count, copies = count + 1, copies + n - 1
    return count, copies


def duplicated_ids(run: Run) -> int:
    """ "messageIds that occur on two or more records (attributed or not)"."""
    mids = [r.message_id for r in run.reads.store]
    return sum(1 for m in set(mids) if mids.count(m) >= 2)


def duplicated_keys(run: Run) -> int:
    """ "keys whose attributed records carry two or more distinct messageIds"."""
    return sum(1 for k in run.keys if len({r.message_id for r in run.records_of(k)}) >= 2)


def unreadable(run: Run) -> int:
    """ "acknowledged keys with an attributed record, such that some attributed record
    has a non-null conversation whose read succeeded, and no attributed record with
    a non-null conversation whose read succeeded has its messageId in that read
    (when api is empty the pipeline was not read through an API: 0)"."""
    if not run.reads.api:
        return 0
    reads = run.successful_reads()
    n = 0
    for k in keys_with(run, "acknowledged"):
        judged = [r for r in run.records_of(k) if r.conversation in reads]
        if judged and not any(r.message_id in reads[str(r.conversation)] for r in judged):
            n += 1
    return n


def id_mismatch(run: Run) -> int:
    """ "acknowledged keys with a returned id and an attributed record, none of whose
    attributed records carries the returned id or an other returned id"."""
    n = 0
    for k in keys_with(run, "acknowledged"):
        ids, recs = run.returned_ids(k), run.records_of(k)
        if ids and recs and not any(r.message_id in ids for r in recs):
            n += 1
    return n


def read_items(run: Run) -> list[tuple[str, str, str | None]]:
    """Every read item as (conversation read, messageId, tag)."""
    return [(c, m, t) for c in run.successful_reads() for m, t in run.items(c)]


def unexpected_reads(run: Run) -> int:
    """ "read items with no key (a value that was never written)"."""
    return sum(1 for _, m, t in read_items(run) if run.read_key(m, t) is None)


def foreign_reads(run: Run) -> int:
    """ "read items whose key's conversation is not the conversation that was read"."""
    n = 0
    for c, m, t in read_items(run):
        key = run.read_key(m, t)
        if key is not None and run.conversation(key) != c:
            n += 1
    return n


def duplicate_reads(run: Run) -> int:
    """ "over successful reads, read items minus distinct identities in that read"."""
    return sum(
        len(run.items(c)) - len({run.identity(m, t) for m, t in run.items(c)})
        for c in run.successful_reads()
    )


def misplaced(run: Run) -> int:
    """ "attributed records whose conversation is not null and differs from their
    key's conversation"."""
    n = 0
    for r in run.reads.store:
        key = run.attribution(r)
        if (
            key is not None
            and r.conversation is not None
            and r.conversation != run.conversation(key)
        ):
            n += 1
    return n


def answered_position(run: Run, key: str) -> tuple[int, int] | None:
    """ "acknowledged keys with exactly one attempt that did not complete fail, that
    attempt ok with integer partition and offset" -> that (partition, offset)."""
    live = [a for a in run.attempts_of(key) if a.outcome != "fail"]
    if run.status(key) != "acknowledged" or len(live) != 1 or live[0].done is None:
        return None
    v = live[0].done.value
    if live[0].outcome == "ok" and is_int(v.get("partition")) and is_int(v.get("offset")):
        return v["partition"], v["offset"]
    return None


def positions(run: Run) -> tuple[int, int, int]:
    """ "position_checked: ... and at least one attributed record with non-null
    partition and offset"; "position_mismatch: position-checked keys none of whose
    attributed records has the answered partition and offset, unless the answer
    names a later copy"; "position_later_copy: position-checked keys none of whose
    attributed records has the answered partition and offset, such that no record
    of the store has the answered partition and offset, and an attributed record
    has the answered partition and an offset lower than the answered one".
    Returns the three."""
    checked = mismatch = later = 0
    occupied = [
        (r.partition, r.offset)
        for r in run.reads.store
        if r.partition is not None and r.offset is not None
    ]
    for k in run.keys:
        answered = answered_position(run, k)
        placed = [
            (r.partition, r.offset)
            for r in run.records_of(k)
            if r.partition is not None and r.offset is not None
        ]
        if answered is None or not placed:
            continue
        checked += 1
        if answered in placed:
            continue
        earlier = any(p == answered[0] and o < answered[1] for p, o in placed)
        if earlier and answered not in occupied:
            later += 1
        else:
            mismatch += 1
    return checked, mismatch, later


def dead_lettered(run: Run) -> int:
    """ "records in dead_letters (the dead-letter topic), when no send invoke carries
    invalid: true; 0 otherwise"."""
    if any(a.invoke.value.get("invalid") is True for a in run.attempts):
        return 0
    return len(getattr(run.reads, "dead_letters", None) or [])


DELIVERY_BAD = (
    "lost",
    "unreadable",
    "unexpected",
    "aborted",
    "duplicated",
    "duplicated_ids",
    "unexpected_reads",
    "foreign_reads",
    "duplicate_reads",
    "misplaced",
    "position_mismatch",
    "dead_lettered",
)


def check_delivery(ops: Sequence[Op], reads: FinalReads) -> Result:
    """Section 3. "Verdict: False when any of lost, unreadable, unexpected, aborted,
    duplicated, duplicated_ids, unexpected_reads, foreign_reads, duplicate_reads,
    misplaced, position_mismatch, dead_lettered is positive; else unknown when
    acknowledged is 0 ...; else True"."""
    run = Run(ops, reads)
    stored = {k for k in run.keys if run.records_of(k)}
    dup, copies = duplicated(run)
    checked, mismatch, later = positions(run)
    counts = {
        "attempts": len(run.attempts),
        "resends": sum(1 for a in run.attempts if a.invoke.value.get("retry_of") is not None),
        "attempted": len(run.keys),
        "acknowledged": len(keys_with(run, "acknowledged")),
        "failed": len(keys_with(run, "failed")),
        "indeterminate": len(keys_with(run, "indeterminate")),
        "stored": len(reads.store),
        "stored_keys": len(stored),
        "by_tag": sum(1 for r in reads.store if run.by_tag(r)),
        "lost": sum(1 for k in keys_with(run, "acknowledged") if k not in stored),
        "unexpected": sum(1 for r in reads.store if run.attribution(r) is None),
        "aborted": sum(1 for k in keys_with(run, "failed") if k in stored),
        "duplicated": dup,
        "duplicated_ids": duplicated_ids(run),
        "duplicated_keys": duplicated_keys(run),
        "duplicate_copies": copies,
        "recovered": sum(1 for k in keys_with(run, "indeterminate") if k in stored),
        "unreadable": unreadable(run),
        "id_mismatch": id_mismatch(run),
        "unexpected_reads": unexpected_reads(run),
        "foreign_reads": foreign_reads(run),
        "duplicate_reads": duplicate_reads(run),
        "misplaced": misplaced(run),
        "position_checked": checked,
        "position_mismatch": mismatch,
        "position_later_copy": later,
        "dead_lettered": dead_lettered(run),
    }
    valid: Verdict
    if any(counts[b] > 0 for b in DELIVERY_BAD):
        valid = False
    elif counts["acknowledged"] == 0:
        valid = "unknown"
    else:
        valid = True
    return Result(valid, counts)


# ---------------------------------------------------------------- section 4


def realtime_pairs(run: Run, same_sender: bool) -> list[tuple[str, str]]:
    """ "For two keys A and B of the same conversation, both with a position: if A's
    ack time is strictly before B's invoke time ..., then A must read before B. A
    pair that reads the other way round is a real-time violation." With
    ``same_sender``, only pairs with the same (non-null: SPEC-GAP) sender."""
    placed = [k for k in run.keys if run.position(k) is not None]
    out = []
    for a in placed:
        ack = run.ack_time(a)
        if ack is None:
            continue
        for b in placed:
            if run.conversation(a) != run.conversation(b):
                continue
            if same_sender and (run.sender(a) is None or run.sender(a) != run.sender(b)):
                continue
            if ack < run.invoke_time(b) and run.position(a) > run.position(b):  # type: ignore[operator]
                out.append((a, b))
    return out


def check_ordering(ops: Sequence[Op], reads: FinalReads) -> Result:
    """Section 4. "Verdict: False when realtime_violations > 0; else unknown when
    conversations_unknown > 0 or conversations_checked is 0 ...; else True"."""
    run = Run(ops, reads)
    read = run.successful_reads()
    acked = keys_with(run, "acknowledged")
    convs = {run.conversation(k) for k in acked} - {None}
    checked = {c for c in convs if c in read}
    rt = realtime_pairs(run, same_sender=False)
    so = realtime_pairs(run, same_sender=True)
    counts = {
        "conversations": len(convs),
        "conversations_checked": len(checked),
        "conversations_unknown": len(convs - checked),
        "positioned": sum(1 for k in run.keys if run.position(k) is not None),
        "unpositioned": sum(
            1 for k in acked if run.position(k) is None and run.conversation(k) in checked
        ),
        "realtime_violations": len(rt),
        "realtime_messages": len({b for _, b in rt}),
        "sender_order": len(so),
        "sender_order_messages": len({b for _, b in so}),
        "duplicate_reads": duplicate_reads(run),
    }
    valid: Verdict
    if counts["realtime_violations"] > 0:
        valid = False
    elif counts["conversations_unknown"] > 0 or counts["conversations_checked"] == 0:
        valid = "unknown"
    else:
        valid = True
    return Result(valid, counts)


# ---------------------------------------------------------------- section 5


def _get(d: object, *path: str) -> object:
    for name in path:
        if not isinstance(d, dict):
            return None
        d = d.get(name)
    return d


def completion(ops: Sequence[Op], invoke: Op) -> Op | None:
    later = ops[ops.index(invoke) + 1 :]
    done = [c for c in later if c.id == invoke.id and c.type != "invoke"]
    return done[0] if done else None


def crash_windows(ops: Sequence[Op]) -> list[Op]:
    """ "an effective failpoint fault (its inject completed ok) with params name:
    consumer.after_store_before_commit and action: crash, whose heal completion's
    evidence shows a crash (value.evidence.nodes.<node>.crashed is true for some
    node)". Returns the injects' invokes. SPEC-GAP: the spec does not say which heal
    is the fault's; here any heal invoke of the same fault id, wherever it is in the
    file (the nemesis heals a fault once), whose completion, of any type, shows it.
    A heal written before its inject still counts (a shuffle of the lines must not
    change a verdict)."""
    out = []
    for op in ops:
        v = op.value
        if not (op.process == "nemesis" and op.f == "inject" and op.type == "invoke"):
            continue
        if v.get("kind") != "failpoint" or _get(v, "params", "action") != "crash":
            continue
        if _get(v, "params", "name") != CRASH_FAILPOINT:
            continue
        done = completion(ops, op)
        if done is None or done.type != "ok":
            continue
        heals = [
            h
            for h in ops
            if h.process == "nemesis"
            and h.f == "heal"
            and h.type == "invoke"
            and h.value.get("fault") == v.get("fault")
        ]
        if any(crash_shown(completion(ops, h)) for h in heals):
            out.append(op)
    return out


def crash_shown(heal: Op | None) -> bool:
    """ "value.evidence.nodes.<node>.crashed is true for some node"."""
    nodes = _get(heal.value if heal else None, "evidence", "nodes")
    return isinstance(nodes, dict) and any(_get(n, "crashed") is True for n in nodes.values())


def redelivered_after(reads: FinalReads, t: int) -> bool:
    """ "a delivery event whose time is null or at or after the inject's invoke time,
    and whose record has two or more events in all the logs, or whose outcome is
    duplicate"."""
    for e in reads.delivery:
        if e.time is not None and e.time < t:
            continue
        same = [x for x in reads.delivery if (x.partition, x.offset) == (e.partition, e.offset)]
        if len(same) >= 2 or e.outcome == "duplicate":
            return True
    return False


def check_redelivery(ops: Sequence[Op], reads: FinalReads) -> Result:
    """Section 5. "Verdict: False when missing_redelivery > 0; unknown when
    crash_windows > 0 and no delivery log was read (nothing to judge by); else
    True." SPEC-GAP: read in that order, with ``missing_redelivery`` counting every
    window "without such an event", the unknown clause could never apply (no log:
    no event: every window missing). As the fast checker does and the parenthesis
    "(nothing to judge by)" means: with no delivery log, ``missing_redelivery`` is 0
    and crash windows make the verdict unknown."""
    events = reads.delivery
    records = {(e.partition, e.offset) for e in events}
    redelivered = {
        rec
        for rec in records
        if sum(1 for e in events if (e.partition, e.offset) == rec) > 1
        or any(e.outcome == "duplicate" for e in events if (e.partition, e.offset) == rec)
    }
    windows = crash_windows(ops)
    missing = sum(1 for w in windows if events and not redelivered_after(reads, w.time))
    counts = {
        "events": len(events),
        "records": len(records),
        "redeliveries": len(events) - len(records),
        "redelivered": len(redelivered),
        "duplicate_outcomes": sum(1 for e in events if e.outcome == "duplicate"),
        "dlq": sum(1 for e in events if e.outcome == "dlq"),
        "failed": sum(1 for e in events if e.outcome == "failed"),
        "consumers": len({e.consumer for e in events}),
        "crash_windows": len(windows),
        "missing_redelivery": missing,
    }
    valid: Verdict
    if missing > 0:
        valid = False
    elif windows and not events:
        valid = "unknown"
    else:
        valid = True
    return Result(valid, counts)


def check_all(ops: Sequence[Op], reads: FinalReads) -> dict[str, Result]:
    """The three checkers this reference implements, by name."""
    return {
        "delivery": check_delivery(ops, reads),
        "ordering": check_ordering(ops, reads),
        "redelivery": check_redelivery(ops, reads),
    }


__all__ = [
    "Problem",
    "Result",
    "Run",
    "check_all",
    "check_delivery",
    "check_ordering",
    "check_redelivery",
    "parse_history",
]
