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
``valid`` is always True.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import CheckResult
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads

NAME = "redelivery"


def check_redelivery(ops: Sequence[Op], reads: FinalReads) -> CheckResult:
    """Records delivered to consumers more than once (informational)."""
    return redelivery_from(Analysis(ops, reads))


def redelivery_from(an: Analysis) -> CheckResult:
    events = an.reads.delivery
    n = len(events)
    part = np.fromiter(map(attrgetter("partition"), events), dtype=np.int64, count=n)
    off = np.fromiter(map(attrgetter("offset"), events), dtype=np.int64, count=n)
    code = {"duplicate": 1, "dlq": 2, "failed": 3}
    outcome = np.asarray([code.get(o, 0) for o in map(attrgetter("outcome"), events)], np.int8)
    dup_out = outcome == 1
    dlq = outcome == 2
    failed = outcome == 3
    consumers: dict[str, int] = {}
    cons = np.asarray(
        [consumers.setdefault(c, len(consumers)) for c in map(attrgetter("consumer"), events)],
        dtype=np.int64,
    )
    # one record = one (partition, offset), packed into one integer
    span = int(off.max()) - int(off.min()) + 1 if n else 1
    packed = (part - (int(part.min()) if n else 0)) * span + (off - (int(off.min()) if n else 0))
    _, rec, seen = np.unique(packed, return_inverse=True, return_counts=True)
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
    if not events:
        details["note"] = "no delivery log was read"
    return CheckResult(name=NAME, valid=True, counts=counts, details=details)


__all__ = ["NAME", "check_redelivery", "redelivery_from"]
