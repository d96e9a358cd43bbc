"""Delivery: every acknowledged message stored exactly once, read where it belongs, nothing else.

Keys, attempts, attribution, read items and their identities are defined in
:mod:`wiber_harness.checkers.analysis` (and, as the specification, in
``docs/verdicts.md`` section 3). Counts (``CheckResult.counts``):

* ``attempts``: send invokes; ``resends``: those carrying ``retry_of``;
* ``attempted``: distinct keys; ``acknowledged`` / ``failed`` /
  ``indeterminate``: keys by status (they sum to ``attempted``);
* ``stored``: records in the store; ``stored_keys``: keys with at least one
  attributed record; ``by_tag``: records attributed by their content tag
  alone (neither their key field nor their messageId named a key; see
  *attribution* in :mod:`wiber_harness.checkers.analysis`; informational);
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
  happen; not a failure). Attribution by content tag is what finds them in
  a pipeline that keeps no idempotency key: a send that timed out never
  got its messageId, yet the stored message carries the send's tag, so it
  is *recovered*, never *unexpected*;
* ``unreadable``: acknowledged, stored keys that the API's read of their
  conversation does not return (that read succeeded, yet none of the key's
  stored messageIds is in it): the write path kept the message but the read
  path lost it, which breaks "each conversation reads back";
* ``id_mismatch``: stored acknowledged keys none of whose records carries a
  messageId the API returned for it (informational: the API handed the
  client an id the store does not know);
* ``unexpected_reads``: read items with no key: the API returned a message
  that was never written (Jepsen's *unexpected* read);
* ``foreign_reads``: read items whose key belongs to another conversation:
  the read of one conversation returned another's message;
* ``duplicate_reads``: per successful read, its items minus its distinct
  identities: the same message read twice;
* ``misplaced``: attributed records whose stored conversation is not null
  and differs from their key's conversation;
* ``position_checked``: acknowledged keys with exactly one attempt that did
  not complete ``fail``, that attempt ``ok`` with an integer ``partition``
  and ``offset`` in its answer, and an attributed record with a known
  partition and offset; ``position_mismatch``: those none of whose
  attributed records is at the answered position (the API acknowledged a
  position where the message is not: it answered before the record was
  durable, or the write landed elsewhere), except a *later copy*;
  ``position_later_copy`` (informational): those whose answered position
  holds no record of the store while one of their attributed records is in
  the answered partition at a lower offset. The log held the message twice
  within one attempt (librdkafka's idempotent producer, after a timed-out
  request during a leader change, may bump its epoch and write a batch
  again), the ack named the second copy and dedup kept the first. An answer
  that names another message's position, an offset at or below every stored
  copy's, or another partition is still a mismatch. Keys with several attempts that may have
  written are not checked: a retry's produce writes a second record at
  another position, and which one the store kept is not fixed;
* ``dead_lettered``: records in the dead-letter topic (``reads.dead_letters``)
  when no send was invalid on purpose (``invalid: true``): transient errors
  must be retried, not dead-lettered. Each example carries its reason.

``valid`` is False when ``lost``, ``unreadable``, ``unexpected``,
``aborted``, ``duplicated``, ``duplicated_ids``, ``unexpected_reads``,
``foreign_reads``, ``duplicate_reads``, ``misplaced``, ``position_mismatch``
or ``dead_lettered`` is positive; else ``"unknown"`` when nothing was
acknowledged (the run tested nothing); else True. When the final reads were
taken before the pipeline drained (``reads.drained`` False) the verdict
stands but ``details["drained"]`` says so: lost messages may have been in
flight.

Checks that need what a pipeline may not keep are skipped, never guessed:
``details["skipped"]`` says which and why (no Kafka position in the
answers or in the store: ``position_checked`` stays 0; no stored
conversation: ``unreadable`` and ``misplaced`` stay 0). When messages were
lost and the history has fault windows, ``details["cause"]`` is one
sentence placing them: how many were acknowledged while which fault was in
effect (the runner adds it to the run's reasons).
"""

from __future__ import annotations

from itertools import repeat
from operator import is_
from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import (
    ACKED,
    FAIL,
    FAILED,
    I64,
    INDETERMINATE,
    NS,
    OK,
    Analysis,
    B,
    seconds,
)
from wiber_harness.checkers.base import MAX_EXAMPLES, CheckResult, Ops, Validity
from wiber_harness.checkers.codes import Codes
from wiber_harness.distinct import unique
from wiber_harness.reads import DeadLetter, FinalReads

NAME = "delivery"
VIOLATIONS: tuple[str, ...] = (
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


def check_delivery(ops: Ops, reads: FinalReads) -> CheckResult:
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

    sc = st.cols
    unreadable = _unreadable(an, acked & stored)
    multi_keys = np.flatnonzero(st.k_records > 1)
    # the few keys stored more than once: gather their messageIds
    multi = set(multi_keys.tolist())
    mids_of: dict[int, list[str]] = {k: [] for k in multi}
    if multi:
        for i in np.flatnonzero(np.isin(st.r_key, multi_keys)).tolist():
            mids_of[int(st.r_key[i])].append(sc.message_id[i])
    dup_keys = [k for k in multi_keys.tolist() if len(set(mids_of[k])) > 1]
    names = s.mids.names
    dup_ids = [names[c] for c in np.flatnonzero(st.mid_count > 1).tolist()]
    loose_count = np.bincount(st.r_mid[unexpected], minlength=len(names))
    dup_unattributed = {
        names[c]: int(loose_count[c]) for c in np.flatnonzero(loose_count > 1).tolist()
    }
    duplicated = len(multi_keys) + len(dup_unattributed)
    copies = int((st.k_records[multi_keys] - 1).sum()) + sum(
        n - 1 for n in dup_unattributed.values()
    )

    pos = an.positions
    unexpected_reads = np.flatnonzero(pos.i_key < 0)
    foreign_reads = np.flatnonzero(pos.i_foreign)
    misplaced = _misplaced(an)
    checked_pos, mismatched, later_copy = _positions(an)
    dead = _dead_letters(an)

    counts: dict[str, int | float] = {
        "attempts": len(s.a_key),
        "resends": int(s.a_retry.sum()),
        "attempted": len(s.keys),
        "acknowledged": int(acked.sum()),
        "failed": int((status == FAILED).sum()),
        "indeterminate": int((status == INDETERMINATE).sum()),
        "stored": len(sc),
        "stored_keys": int(stored.sum()),
        "by_tag": int(st.r_by_tag.sum()),
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
        "unexpected_reads": len(unexpected_reads),
        "foreign_reads": len(foreign_reads),
        "duplicate_reads": pos.duplicate_reads,
        "misplaced": len(misplaced),
        "position_checked": checked_pos,
        "position_mismatch": len(mismatched),
        "position_later_copy": len(later_copy),
        "dead_lettered": len(dead),
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
            {"message_id": sc.message_id[i], "key": sc.key[i], "conversation": sc.conversation[i]}
            for i in unexpected[:MAX_EXAMPLES].tolist()
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

    def item_ex(i: int) -> dict[str, Any]:
        k = int(pos.i_key[i])
        ex: dict[str, Any] = {
            "read_conversation": pos.read_names[int(pos.i_read[i])],
            "message_id": pos.i_mid[i],
        }
        if k >= 0:
            ex |= {"key": s.keys[k], "conversation": s.k_conversation[k]}
        return ex

    if len(unexpected_reads):
        examples["unexpected_reads"] = [
            item_ex(i) for i in unexpected_reads[:MAX_EXAMPLES].tolist()
        ]
    if len(foreign_reads):
        examples["foreign_reads"] = [item_ex(i) for i in foreign_reads[:MAX_EXAMPLES].tolist()]
    if misplaced:
        examples["misplaced"] = [
            {
                **key_ex(int(st.r_key[i])),
                "stored_id": sc.message_id[i],
                "stored_conversation": sc.conversation[i],
            }
            for i in misplaced[:MAX_EXAMPLES]
        ]
    if mismatched:
        examples["position_mismatch"] = [
            key_ex(k, answered=answered, stored=stored)
            for k, answered, stored in mismatched[:MAX_EXAMPLES]
        ]
    if later_copy:
        examples["position_later_copy"] = [
            key_ex(k, answered=answered, stored=stored)
            for k, answered, stored in later_copy[:MAX_EXAMPLES]
        ]
    if dead:
        examples["dead_lettered"] = [
            {
                "partition": d.partition,
                "offset": d.offset,
                "message_id": d.message_id,
                "reason": d.reason,
            }
            for d in dead[:MAX_EXAMPLES]
        ]

    details: dict[str, Any] = {"drained": reads.drained}
    if not reads.drained:
        details["note"] = (
            "final reads were taken before the pipeline drained; "
            "lost messages may still have been in flight"
        )
    if reads.dead_letters is None:
        details["dead_letters"] = "the dead-letter topic was not read"
    skipped = _skipped(an)
    if skipped:
        details["skipped"] = skipped
    cause = _lost_cause(an, lost)
    if cause:
        details["cause"] = cause
    valid: Validity = not any(counts[b] for b in VIOLATIONS)
    if valid and not counts["acknowledged"]:
        valid = "unknown"
        details["vacuous"] = "no send was acknowledged, so the run tested nothing"
    return CheckResult(
        name=NAME,
        valid=valid,
        counts=counts,
        examples=examples,
        details=details,
    )


def _record_convs(an: Analysis) -> tuple[I64, I64]:
    """Per store record: its conversation's index among the keys' conversations
    (-1 null, -2 a conversation no key has), and among the successful reads (-1 none)."""
    s, st, pos = an.sends, an.store, an.positions
    conv = st.cols.conversation
    by_key = s.conv_codes.lookup(conv)
    unknown = by_key < 0
    by_key[unknown] = np.where(
        np.fromiter(map(is_, conv, repeat(None)), np.bool_, len(conv))[unknown], -1, -2
    )
    reads = Codes()
    reads.encode(pos.read_names)
    by_read = reads.lookup(conv)
    return by_key, by_read


def _misplaced(an: Analysis) -> list[int]:
    """Records attributed to a key whose stored conversation is another one."""
    s, st = an.sends, an.store
    by_key: I64 = an.memo("record_convs", lambda: _record_convs(an))[0]
    att = st.r_key >= 0
    wrong = att & (by_key != -1)
    wrong[wrong] = by_key[wrong] != s.k_conv[st.r_key[wrong]]
    return np.flatnonzero(wrong).tolist()


Placed = tuple[int, list[int], list[list[int]]]  # (key, answered [p, o], stored [[p, o], ...])


def _positions(an: Analysis) -> tuple[int, list[Placed], list[Placed]]:
    """(keys checked, the keys that mismatch, the keys whose answer names a later copy).

    A key's answer is accepted when one of its attributed records is at the
    answered position, or when the answer names a *later copy*: no record of
    the store is at the answered position, and one of the key's attributed
    records is in the answered partition at a lower offset. The log then held
    the message twice (a producer's internal retry wrote it again: an
    idempotent producer that bumps its epoch after a timed-out request can do
    so), the ack named the second copy and the store kept the first.
    """
    s, st = an.sends, an.store
    part, off = st.cols.partition, st.cols.offset
    live = s.a_outcome != FAIL
    # keys with exactly one attempt that did not fail, and that attempt ok with a position
    single = s.k_live == 1
    cand = np.flatnonzero(live & single[s.a_key] & (s.a_outcome == OK) & s.a_has_pos)
    if not len(cand):
        return 0, [], []
    nk = len(s.keys)
    has_ans = np.zeros(nk, dtype=bool)
    ans_p = np.zeros(nk, dtype=np.int64)
    ans_o = np.zeros(nk, dtype=np.int64)
    ck = s.a_key[cand]
    has_ans[ck] = True
    ans_p[ck] = s.a_part[cand]
    ans_o[ck] = s.a_off[cand]
    placed = ~np.isnan(part) & ~np.isnan(off)
    rec = np.flatnonzero(placed & (st.r_key >= 0))
    rec = rec[has_ans[st.r_key[rec]]]
    rk = st.r_key[rec]
    rp, ro = part[rec].astype(np.int64), off[rec].astype(np.int64)
    checked = np.zeros(nk, dtype=bool)
    checked[rk] = True
    hit = np.zeros(nk, dtype=bool)
    hit[rk[(rp == ans_p[rk]) & (ro == ans_o[rk])]] = True
    bad_keys = np.flatnonzero(checked & ~hit)
    if not len(bad_keys):
        return int(checked.sum()), [], []
    # the rare path: which misses are later copies
    earlier = np.zeros(nk, dtype=bool)
    earlier[rk[(rp == ans_p[rk]) & (ro < ans_o[rk])]] = True
    occupied = set(
        zip(
            part[placed].astype(np.int64).tolist(),
            off[placed].astype(np.int64).tolist(),
            strict=True,
        )
    )
    stored: dict[int, list[list[int]]] = {}
    for i, k in zip(rec.tolist(), rk.tolist(), strict=True):
        if not hit[k]:
            stored.setdefault(k, []).append([int(part[i]), int(off[i])])
    bad: list[Placed] = []
    later: list[Placed] = []
    for k in bad_keys.tolist():
        answered = (int(ans_p[k]), int(ans_o[k]))
        into = later if earlier[k] and answered not in occupied else bad
        into.append((k, list(answered), stored[k]))
    return int(checked.sum()), bad, later


def _skipped(an: Analysis) -> dict[str, str]:
    """The checks this run could not make, each with the reason."""
    s, sc = an.sends, an.store.cols
    out: dict[str, str] = {}
    if not len(sc):
        return out
    if not bool(s.a_has_pos.any()):
        out["position"] = (
            "the API's answers named no Kafka partition and offset, so no acknowledged "
            "position was compared with the stored one"
        )
    elif bool((np.isnan(sc.partition) | np.isnan(sc.offset)).all()):
        out["position"] = (
            "no stored message has a Kafka partition and offset (the profile's [stored] "
            "partition/offset), so no acknowledged position was compared with the stored one"
        )
    if all(c is None for c in sc.conversation):
        out["unreadable"] = (
            "no stored message names its conversation (the profile's [stored] "
            "conversation, or sender and recipient), so unreadable and misplaced were not judged"
        )
    return out


# a message acknowledged this long before a fault took effect may still have been on
# its way through the pipeline (consumed, being stored) when it did
LOST_LEAD_S = 2.0


def _lost_cause(an: Analysis, lost: I64) -> str | None:
    """One sentence placing the lost keys' ack times against the fault windows.

    Each lost key goes to the window it was acknowledged in, or the nearest
    one it was acknowledged before; the window with the most keys within
    :data:`LOST_LEAD_S` before or during it is named. A key acknowledged
    after a window ended is not placed in it.
    None without lost keys, or when none falls in or just before a window.
    """
    windows = an.faults.windows
    if not len(lost) or not windows:
        return None
    ack = an.sends.k_ack[lost]
    start = np.asarray([w.start for w in windows])
    end = np.asarray([w.end for w in windows])
    # how long before each window each key was acknowledged (0 inside; after it: never)
    dist = np.where(
        ack[:, None] <= end[None, :], np.maximum(start[None, :] - ack[:, None], 0), np.inf
    )
    nearest = np.argmin(dist, axis=1)
    near = dist[np.arange(len(ack)), nearest] <= LOST_LEAD_S * NS
    best = int(np.bincount(nearest[near], minlength=len(windows)).argmax()) if near.any() else -1
    total = len(lost)
    if best < 0:
        return None  # no fault explains it: the counts and examples say the rest
    w = windows[best]
    mine = near & (nearest == best)
    n = int(mine.sum())
    lead = float(np.max(w.start - ack[mine], initial=0.0))
    span = f"{(seconds(ack[mine].min()) or 0):.2f} s to {(seconds(ack[mine].max()) or 0):.2f} s"
    where = (
        f"while fault {w.fault} ({w.kind} {w.target}) was in effect "
        f"({(seconds(w.start) or 0):.1f} s to {(seconds(w.end) or 0):.1f} s)"
    )
    if lead > 0:
        where += f" or at most {lead / NS:.2f} s before it took effect"
    if n == total:
        return f"lost {total}: all acknowledged from {span}, {where}"
    return f"lost {total}: {n} acknowledged from {span}, {where}; the others at other times"


def _dead_letters(an: Analysis) -> list[DeadLetter]:
    """Dead letters, unless the workload sent invalid requests on purpose."""
    dead = an.reads.dead_letters or []
    if bool(an.sends.a_invalid.any()):
        return []
    return list(dead)


def _unreadable(an: Analysis, acked_stored: B) -> list[int]:
    """Acknowledged, stored keys missing from a successful API read of their conversation.

    A key is *seen* when one of its records names a conversation whose read
    succeeded, and *readable* when such a record's messageId is in that read.
    """
    reads, st, pos = an.reads, an.store, an.positions
    if not reads.api:
        return []  # this pipeline was not read through an API: nothing to compare
    by_read: I64 = an.memo("record_convs", lambda: _record_convs(an))[1]
    n_codes = len(an.sends.mids) + 1
    rec = np.flatnonzero((st.r_key >= 0) & (by_read >= 0))
    rec = rec[acked_stored[st.r_key[rec]]]
    ic = pos.i_code
    if len(ic) and ic.min() >= 0 and np.bincount(ic).max() <= 1:
        # each messageId in one read item at most: its read, by lookup instead of sorts
        read_of = np.full(n_codes, -1, dtype=np.int64)
        read_of[ic] = pos.i_read
        found = read_of[st.r_mid[rec]] == by_read[rec]
    else:
        items = unique(pos.i_read * n_codes + ic)
        found = np.isin(by_read[rec] * n_codes + st.r_mid[rec], items, assume_unique=False)
    nk = len(acked_stored)
    seen = np.bincount(st.r_key[rec], minlength=nk) > 0
    readable = np.bincount(st.r_key[rec[found]], minlength=nk) > 0
    return np.flatnonzero(seen & ~readable).tolist()


__all__ = ["NAME", "VIOLATIONS", "check_delivery", "delivery_from"]
