"""Redelivery: how often consumers handled the same record again.

At-least-once delivery means redelivery is expected after crashes and
rewinds; what matters is that the store deduplicated it (the delivery
checker's ``duplicated``). This checker only measures it, from the
consumers' delivery logs (``reads.delivery``). A *record* is a
(partition, offset) of the topic.

Counts (``CheckResult.counts``):

* ``events``: delivery-log lines; ``records``: distinct records handled;
* ``redeliveries``: ``events - records`` (surplus handlings);
* ``redelivered``: records handled more than once, or whose handling ended
  ``duplicate`` (the consumer found the messageId already stored: a replay
  at another offset, e.g. a producer-level resend);
* ``duplicate_outcomes``, ``dlq``, ``failed``: events by outcome;
* ``consumers``: distinct consumers in the logs.

``details["per_consumer"][name]`` has ``events``, ``redelivered`` (this
consumer's events whose record was handled more than once by anyone, or
ended ``duplicate``), ``duplicate_outcomes``, ``dlq``, ``failed``.

One rule gates (``docs/verdicts.md`` section 5). A *crash window* is an
effective ``failpoint`` fault (its inject completed ``ok``) with params
``name: consumer.after_store_before_commit`` and ``action: crash`` whose
heal completion's evidence shows a crash
(``value.evidence.nodes.<node>.crashed`` is true for some node). Each must
be followed by a *redelivery*: a delivery event whose ``time`` is null or
at or after the inject's invoke time, and whose record has two or more
events in all the logs, or whose outcome is ``duplicate``. A consumer that
crashed after storing a batch and before committing it must see that batch
again; if nothing was redelivered, it committed before it wrote.
``crash_windows`` counts crash windows, ``missing_redelivery`` those with
no redelivery (examples name the fault).

``valid``: False when ``missing_redelivery`` > 0; ``"unknown"`` when there
were crash windows but no delivery log was read (nothing to judge by); else
True.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import MAX_EXAMPLES, CheckResult, Ops, Validity
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads, delivery_columns

NAME = "redelivery"
CRASH_POINT = "consumer.after_store_before_commit"


def check_redelivery(ops: Ops, reads: FinalReads) -> CheckResult:
    """Records delivered to consumers more than once (informational)."""
    return redelivery_from(Analysis(ops, reads))


def redelivery_from(an: Analysis) -> CheckResult:
    events = delivery_columns(an.reads.delivery)
    n = len(events)
    part = events.partition
    off = events.offset
    code = {"duplicate": 1, "dlq": 2, "failed": 3}
    outcome = np.fromiter(map(code.get, events.outcome, repeat(0)), np.int8, n)
    dup_out = outcome == 1
    dlq = outcome == 2
    failed = outcome == 3
    # consumers numbered in order of first appearance (C-level passes: few distinct)
    consumers = {c: i for i, c in enumerate(dict.fromkeys(events.consumer))}
    cons = np.fromiter(map(consumers.__getitem__, events.consumer), np.int64, n)
    # one record = one (partition, offset), grouped by sorting both columns (no
    # packing into one integer, which far-apart offsets could make collide)
    order = np.lexsort((off, part))
    new_group = np.ones(n, dtype=np.bool_)
    if n:
        new_group[1:] = (part[order][1:] != part[order][:-1]) | (off[order][1:] != off[order][:-1])
    group = np.cumsum(new_group) - 1
    rec = np.empty(n, dtype=np.int64)
    rec[order] = group
    seen = np.bincount(rec, minlength=int(group[-1]) + 1 if n else 0)
    rec = rec.reshape(-1)
    n_rec = len(seen)
    dup_rec = (seen > 1) | (np.bincount(rec[dup_out], minlength=n_rec) > 0)
    ev_redelivered = dup_rec[rec]
    nc = len(consumers)

    def per(mask: np.ndarray) -> list[int]:
        return [int(x) for x in np.bincount(cons[mask], minlength=nc)]

    cols = {
        "events": per(np.ones(n, dtype=np.bool_)),
        "redelivered": per(ev_redelivered),
        "duplicate_outcomes": per(dup_out),
        "dlq": per(dlq),
        "failed": per(failed),
    }
    per_consumer = {c: {k: v[i] for k, v in cols.items()} for c, i in consumers.items()}
    counts: dict[str, int | float] = {
        "events": n,
        "records": n_rec,
        "redeliveries": n - n_rec,
        "redelivered": int(dup_rec.sum()),
        "duplicate_outcomes": int(dup_out.sum()),
        "dlq": int(dlq.sum()),
        "failed": int(failed.sum()),
        "consumers": nc,
    }
    details: dict[str, Any] = {"per_consumer": per_consumer}
    if not n:
        details["note"] = "no delivery log was read"
    windows = crash_windows(an.nemesis)
    ev_time = events.time
    again = dup_rec[rec] | dup_out if n else np.zeros(0, dtype=np.bool_)
    missing = [
        (fault, t)
        for fault, t in windows
        if not bool((again & (np.isnan(ev_time) | (ev_time >= t))).any())
    ]
    counts["crash_windows"] = len(windows)
    counts["missing_redelivery"] = len(missing) if n else 0
    valid: Validity = True
    examples: dict[str, list[Any]] = {}
    if windows and not n:
        valid = "unknown"
        details["crash_windows"] = (
            "a consumer crashed between its store write and its commit, but no delivery log "
            "was read, so whether it redelivered is unknown"
        )
    elif missing:
        valid = False
        examples["missing_redelivery"] = [
            {
                "fault": fault,
                "armed_at_s": round(t / 1e9, 6),
                "why": "the consumer crashed after its store write and before its commit, "
                "yet no record was delivered again: the offsets were committed before the write",
            }
            for fault, t in missing[:MAX_EXAMPLES]
        ]
    return CheckResult(name=NAME, valid=valid, counts=counts, examples=examples, details=details)


def crash_windows(nemesis: Sequence[Op]) -> list[tuple[str, int]]:
    """(fault id, inject invoke time) of every crash between store write and commit."""
    invokes: dict[int, Op] = {}
    done: dict[int, Op] = {}
    for op in nemesis:
        if op.f in ("inject", "heal"):
            (invokes if op.type == "invoke" else done)[op.id] = op
    injected: dict[str, int] = {}
    crashed: set[str] = set()
    for op_id, inv in invokes.items():
        c = done.get(op_id)
        v = inv.value
        if c is None or v.get("kind") != "failpoint":
            continue
        fault = str(v.get("fault"))
        if inv.f == "inject":
            params = v.get("params")
            if (
                c.type == "ok"
                and isinstance(params, dict)
                and params.get("name") == CRASH_POINT
                and params.get("action") == "crash"
            ):
                injected.setdefault(fault, inv.time)
        elif _crash_seen(c.value):
            crashed.add(fault)
    return sorted(((f, t) for f, t in injected.items() if f in crashed), key=lambda x: x[1])


def _crash_seen(value: dict[str, Any]) -> bool:
    ev = value.get("evidence")
    nodes = ev.get("nodes") if isinstance(ev, dict) else None
    if not isinstance(nodes, dict):
        return False
    return any(isinstance(x, dict) and x.get("crashed") is True for x in nodes.values())


__all__ = ["CRASH_POINT", "NAME", "check_redelivery", "crash_windows", "redelivery_from"]
