"""Delivery: every acknowledged message stored exactly once, nothing else.

Keys, attribution and key statuses are defined in
:mod:`wiber_harness.checkers.analysis`. Counts (``CheckResult.counts``):

* ``attempts``: send invokes; ``resends``: those carrying ``retry_of``;
* ``attempted``: distinct keys; ``acknowledged`` / ``failed`` /
  ``indeterminate``: keys by status (they sum to ``attempted``);
* ``stored``: records in the store; ``stored_keys``: keys with at least one
  attributed record;
* ``lost``: acknowledged keys with no attributed record;
* ``unexpected``: records attributed to no key (their key was never sent, or
  they carry none and their messageId was never returned by the API);
* ``aborted``: failed keys (every attempt completed ``fail``) that have an
  attributed record: the API said it did not happen, yet it did;
* ``duplicated``: messages stored more than once: keys with two or more
  attributed records, plus messageIds stored more than once among
  unattributed records. Its two causes are also counted on their own:
  ``duplicated_ids`` (messageIds with more than one record in the store)
  and ``duplicated_keys`` (keys stored under two or more distinct
  messageIds, i.e. one request became two messages);
  ``duplicate_copies`` is the number of surplus records behind
  ``duplicated``;
* ``recovered``: indeterminate keys that were stored (the request did
  happen; not a failure);
* ``unreadable``: acknowledged, stored keys that the API's read of their
  conversation does not return (that read succeeded, yet none of the key's
  stored messageIds is in it): the write path kept the message but the read
  path lost it, which breaks "each conversation reads back";
* ``id_mismatch``: stored acknowledged keys none of whose records carries a
  messageId the API returned for it (informational: the API handed the
  client an id the store does not know).

``valid`` is False when ``lost``, ``unreadable``, ``unexpected``,
``aborted``, ``duplicated`` or ``duplicated_ids`` is positive, else True. When the final
reads were taken before the pipeline drained (``reads.drained`` False) the
verdict stands but ``details["drained"]`` says so: lost messages may have
been in flight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import ACKED, FAILED, INDETERMINATE, Analysis, seconds
from wiber_harness.checkers.base import MAX_EXAMPLES, CheckResult
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads

NAME = "delivery"


def check_delivery(ops: Sequence[Op], reads: FinalReads) -> CheckResult:
    """Lost, unexpected, aborted, duplicated and recovered messages."""
    return delivery_from(Analysis(ops, reads))


def delivery_from(an: Analysis) -> CheckResult:
    s, st, reads = an.sends, an.store, an.reads
    status = s.k_status
    stored = st.k_records > 0
    acked = status == ACKED
    lost = np.flatnonzero(acked & ~stored)
    aborted = np.flatnonzero((status == FAILED) & stored)
    recovered = np.flatnonzero((status == INDETERMINATE) & stored)
    mismatch = [
        k
        for k in np.flatnonzero(acked & stored & (st.k_mid_known == 0)).tolist()
        if s.k_mid[k] is not None  # no messageId returned: nothing to mismatch
    ]
    unexpected = np.flatnonzero(st.r_key < 0)

    recs = reads.store
    unreadable = _unreadable(an, acked & stored)
    multi_keys = np.flatnonzero(st.k_records > 1)
    # the few keys stored more than once: gather their messageIds
    multi = set(multi_keys.tolist())
    mids_of: dict[int, list[str]] = {k: [] for k in multi}
    if multi:
        for i in np.flatnonzero(np.isin(st.r_key, multi_keys)).tolist():
            mids_of[int(st.r_key[i])].append(recs[i].message_id)
    dup_keys = [k for k in multi_keys.tolist() if len(set(mids_of[k])) > 1]
    dup_ids = [m for m, n in st.mid_counts.items() if n > 1]
    unattributed_ids = [recs[i].message_id for i in unexpected.tolist()]
    dup_unattributed = {m: n for m, n in Counter(unattributed_ids).items() if n > 1}
    duplicated = len(multi_keys) + len(dup_unattributed)
    copies = int((st.k_records[multi_keys] - 1).sum()) + sum(
        n - 1 for n in dup_unattributed.values()
    )

    counts: dict[str, int | float] = {
        "attempts": len(s.a_key),
        "resends": int(s.a_retry.sum()),
        "attempted": len(s.keys),
        "acknowledged": int(acked.sum()),
        "failed": int((status == FAILED).sum()),
        "indeterminate": int((status == INDETERMINATE).sum()),
        "stored": len(recs),
        "stored_keys": int(stored.sum()),
        "lost": len(lost),
        "unreadable": len(unreadable),
        "unexpected": len(unexpected),
        "aborted": len(aborted),
        "duplicated": duplicated,
        "duplicated_ids": len(dup_ids),
        "duplicated_keys": len(dup_keys),
        "duplicate_copies": copies,
        "recovered": len(recovered),
        "id_mismatch": len(mismatch),
    }

    def key_ex(ki: int, **extra: Any) -> dict[str, Any]:
        return {**s.key_example(ki), "message_id": s.k_mid[ki], **extra}

    examples: dict[str, list[Any]] = {}
    if len(lost):
        examples["lost"] = [
            key_ex(k, acked_at_s=seconds(s.k_ack[k]), attempts=int(s.k_attempts[k]))
            for k in lost[:MAX_EXAMPLES].tolist()
        ]
    if unreadable:
        examples["unreadable"] = [key_ex(k) for k in unreadable[:MAX_EXAMPLES]]
    if len(unexpected):
        examples["unexpected"] = [
            {"message_id": r.message_id, "key": r.key, "conversation": r.conversation}
            for r in (recs[i] for i in unexpected[:MAX_EXAMPLES].tolist())
        ]
    if len(aborted):
        examples["aborted"] = [
            key_ex(k, attempts=int(s.k_attempts[k])) for k in aborted[:MAX_EXAMPLES].tolist()
        ]
    if duplicated:
        ex: list[Any] = [
            key_ex(k, stored_ids=sorted(set(mids_of[k])), copies=int(st.k_records[k]))
            for k in multi_keys[:MAX_EXAMPLES].tolist()
        ]
        ex += [
            {"key": None, "message_id": m, "copies": n}
            for m, n in list(dup_unattributed.items())[: MAX_EXAMPLES - len(ex)]
        ]
        examples["duplicated"] = ex
    if recovered.size:
        examples["recovered"] = [key_ex(k) for k in recovered[:MAX_EXAMPLES].tolist()]
    if mismatch:
        examples["id_mismatch"] = [key_ex(k) for k in mismatch[:MAX_EXAMPLES]]

    bad = ("lost", "unreadable", "unexpected", "aborted", "duplicated", "duplicated_ids")
    details: dict[str, Any] = {"drained": reads.drained}
    if not reads.drained:
        details["note"] = (
            "final reads were taken before the pipeline drained; "
            "lost messages may still have been in flight"
        )
    return CheckResult(
        name=NAME,
        valid=not any(counts[b] for b in bad),
        counts=counts,
        examples=examples,
        details=details,
    )


def _unreadable(an: Analysis, acked_stored: np.ndarray) -> list[int]:
    """Acknowledged, stored keys missing from a successful API read of their conversation."""
    reads, st = an.reads, an.store
    if not reads.api:
        return []  # this pipeline was not read through an API: nothing to compare
    api_sets = {c: set(ids) for c, ids in reads.api.items() if c not in reads.api_errors}
    wanted = set(np.flatnonzero(acked_stored).tolist())
    seen: set[int] = set()
    readable: set[int] = set()
    for i, r in enumerate(reads.store):
        k = int(st.r_key[i])
        if k not in wanted:
            continue
        ids = api_sets.get(r.conversation) if r.conversation is not None else None
        if ids is None:
            continue
        seen.add(k)
        if r.message_id in ids:
            readable.add(k)
    return sorted(seen - readable)


__all__ = ["NAME", "check_delivery", "delivery_from"]
