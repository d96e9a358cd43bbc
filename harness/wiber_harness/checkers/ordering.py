"""Ordering: each conversation reads back in real-time order.

The rule (per conversation, on the API's final read): if message A was
acknowledged before message B was invoked, A must read before B. A's time
is its key's earliest ``ok`` completion; B's its key's *invoke time*: the
earliest invoke among its attempts that did not complete ``fail`` (a resend
of a key is the same message, so that is the first moment B could have been
written; a ``fail`` promises its attempt did not happen, so a failed first
attempt does not move B earlier; a key whose every attempt failed uses its
earliest invoke, and if it was stored anyway delivery reports it
*aborted*). A must be acknowledged; B may be any
key that appears in the read (a stored indeterminate message still cannot
have been written before it was sent). Both must be in the read: messages
missing from it are the delivery checker's business, not ordering's.

Counts (``CheckResult.counts``):

* ``conversations``: conversations with at least one acknowledged send;
  ``conversations_checked`` of those whose API read succeeded;
  ``conversations_unknown`` of those whose read failed or is absent;
* ``positioned``: keys found in their conversation's read;
  ``unpositioned``: acknowledged keys of checked conversations not found;
* ``realtime_violations``: pairs (A, B) of one conversation with A
  acknowledged before B was invoked and B reading before A;
  ``realtime_messages``: distinct B of such pairs (messages read too early);
* ``sender_order``: the same pairs restricted to A and B of one sender: the
  per-sender sequence read out of order although the earlier one was
  acknowledged before the later was sent. The workload numbers a sender's
  messages in send order, so these are ``seq`` inversions the real-time
  rule makes binding; ``sender_order_messages`` as above;
* ``duplicate_reads``: the delivery checker's count of the same name (per
  read, its items minus its distinct messages; informational here: a key
  reads at its first place).

``valid``: False if ``realtime_violations`` > 0; else ``"unknown"`` if any
conversation with acknowledged sends could not be read (``details["cause"]``
says how many and why the first failed, e.g. a read without paging that
came back full), or if no
conversation was checked at all (nothing acknowledged, or nothing read:
order was not tested); else True. ``docs/verdicts.md`` section 4 states the
same rules as the specification.

Counting is O(n log n): events (A at its ack time, B at its invoke time)
sorted by (conversation, time) with B first on ties (the rule is strict);
a running maximum of A's read positions finds every B read too early, a
running minimum from the right every A involved, and only those are fed to
a vectorised merge-sort pair count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import ACKED, F64, I64, Analysis, B, seconds
from wiber_harness.checkers.base import MAX_EXAMPLES, CheckResult, Ops, Validity
from wiber_harness.distinct import unique_inverse
from wiber_harness.reads import FinalReads

NAME = "ordering"


@dataclass(frozen=True, slots=True)
class Violations:
    pairs: int
    messages: int
    examples: list[tuple[int, int]]  # (A, B) as indexes into the inputs


def check_ordering(ops: Ops, reads: FinalReads) -> CheckResult:
    """Real-time and per-sender order of each conversation's API read."""
    return ordering_from(Analysis(ops, reads))


def ordering_from(an: Analysis) -> CheckResult:
    s, pos = an.sends, an.positions
    acked = s.k_status == ACKED
    kc = s.k_conv[acked]
    # conversation codes are below len(conversations): a count per code, not a sort
    present = np.bincount(kc[kc >= 0], minlength=len(s.conversations))
    acked_convs = {s.conversations[c] for c in np.flatnonzero(present).tolist()}
    unknown = sorted(c for c in acked_convs if c not in pos.checked)
    checked_conv = np.zeros(len(s.conversations) + 1, dtype=np.bool_)
    both = sorted(acked_convs & pos.checked)
    checked_conv[s.conv_codes.lookup(both)] = True
    has_pos = ~np.isnan(pos.k_pos)
    unpositioned = int((acked & ~has_pos & checked_conv[s.k_conv]).sum())

    # (each call's inputs are built in the call: none outlives it, on a million keys
    # these arrays are the checker's peak memory)
    ent = np.flatnonzero(has_pos)
    rt = realtime_violations(
        s.k_conv[ent], s.k_ack[ent], s.k_invoke[ent], pos.k_pos[ent].astype(np.int64)
    )
    sent = ent[s.k_sndr[ent] >= 0]
    pair_ids = s.k_conv[sent] * (len(s.senders) + 1) + s.k_sndr[sent]
    groups = unique_inverse(pair_ids)[1].astype(np.int64)
    del pair_ids
    so = realtime_violations(
        groups, s.k_ack[sent], s.k_invoke[sent], pos.k_pos[sent].astype(np.int64)
    )
    del groups

    def ex(a: int, b: int) -> dict[str, Any]:
        name = s.conversations[int(s.k_conv[a])]
        off = pos.read_offset[name]
        return {
            "conversation": name,
            "earlier": {
                "key": s.keys[a],
                "sender": s.k_sender[a],
                "seq": s.k_seq[a],
                "acked_at_s": seconds(s.k_ack[a]),
                "read_index": int(pos.k_pos[a]) - off,
            },
            "later": {
                "key": s.keys[b],
                "sender": s.k_sender[b],
                "seq": s.k_seq[b],
                "invoked_at_s": seconds(s.k_invoke[b]),
                "read_index": int(pos.k_pos[b]) - off,
            },
        }

    counts: dict[str, int | float] = {
        "conversations": len(acked_convs),
        "conversations_checked": len(acked_convs) - len(unknown),
        "conversations_unknown": len(unknown),
        "positioned": len(ent),
        "unpositioned": unpositioned,
        "realtime_violations": rt.pairs,
        "realtime_messages": rt.messages,
        "sender_order": so.pairs,
        "sender_order_messages": so.messages,
        "duplicate_reads": pos.duplicate_reads,
    }
    examples: dict[str, list[Any]] = {}
    if rt.examples:
        examples["realtime"] = [ex(int(ent[a]), int(ent[b])) for a, b in rt.examples]
    if so.examples:
        examples["sender_order"] = [ex(int(sent[a]), int(sent[b])) for a, b in so.examples]
    details: dict[str, Any] = {}
    if unknown:
        details["unknown_conversations"] = unknown[:MAX_EXAMPLES]
        errors = an.reads.api_errors
        details["api_errors"] = {c: errors[c] for c in unknown[:MAX_EXAMPLES] if c in errors}
        first = next((c for c in unknown if c in errors), None)
        why = f"; {first}: {errors[first]}" if first is not None else " (not read)"
        details["cause"] = (
            f"{len(unknown)} of {len(acked_convs)} conversations could not be read{why}"
        )
    checked = len(acked_convs) - len(unknown)
    valid: Validity = False if rt.pairs else ("unknown" if unknown or not checked else True)
    if not rt.pairs and not checked:
        details["vacuous"] = "no conversation with an acknowledged send was read"
    return CheckResult(
        name=NAME,
        valid=valid,
        counts=counts,
        examples=examples,
        details=details,
    )


def realtime_violations(group: I64, ack: F64, inv: F64, val: I64) -> Violations:
    """Pairs (a, b), a != b, same ``group``, ``ack[a] < inv[b]``, ``val[a] > val[b]``.

    ``ack`` is NaN for entities that can only play B. Positions ``val`` must
    be non-negative; equal positions are never a violation.
    """
    n = len(group)
    if n == 0:
        return Violations(0, 0, [])
    # (each temporary is let go as soon as it is used: on a million keys this
    # function set the check's peak memory)
    a_ent = np.flatnonzero(~np.isnan(ack))
    m = int(val.max()) + 1
    ev_ent = np.concatenate([a_ent, np.arange(n)])
    ev_is_a = np.zeros(len(ev_ent), np.bool_)
    ev_is_a[: len(a_ent)] = True
    ev_time = np.concatenate([ack[a_ent], inv])
    del a_ent
    # B before A on equal times: the rule needs ack strictly before invoke
    order = _event_order(group[ev_ent], ev_time, ev_is_a)
    del ev_time
    is_a = ev_is_a[order]
    del ev_is_a
    ent = ev_ent[order]
    del ev_ent, order
    x = group[ent].astype(np.int64) * m + val[ent]
    # an A of an earlier group has a smaller x than any B of a later group,
    # so running extremes over the whole sequence never mix groups
    run_max = np.where(is_a, x, -1)
    np.maximum.accumulate(run_max, out=run_max)
    late = ~is_a & (run_max > x)
    if not late.any():
        return Violations(0, 0, [])
    shown = np.flatnonzero(late)[:MAX_EXAMPLES]
    shown_max = run_max[shown]
    del run_max
    b_x = np.where(is_a, np.iinfo(np.int64).max, x)
    run_min = np.minimum.accumulate(b_x[::-1])[::-1]
    del b_x
    keep = late | (is_a & (x > run_min))
    del run_min
    pairs = count_cross_pairs(is_a[keep], x[keep])
    examples = []
    for j, mx in zip(shown.tolist(), shown_max.tolist(), strict=True):
        # the A that set the running maximum j saw (x >= 0, so -1 never matches)
        i = int(np.flatnonzero(is_a[:j] & (x[:j] == mx))[-1])
        examples.append((int(ent[i]), int(ent[j])))
    return Violations(pairs, int(late.sum()), examples)


def _event_order(group: I64, time: F64, is_a: B) -> I64:
    """The stable order by group, then time, then B before A (``np.lexsort`` of the
    three), as one stable sort of a packed integer key when the groups and the times
    (whole nanoseconds, non-negative) fit 63 bits together: half the memory and time."""
    if len(time) and group.min() >= 0:
        with np.errstate(invalid="ignore"):  # NaN, infinities: numbers unequal to them
            t = time.astype(np.int64)
        if t.min() >= 0 and bool((t == time).all()):
            t_bits = int(t.max()).bit_length()
            g_bits = int(group.max()).bit_length()
            if g_bits + t_bits + 1 <= 63:
                key = group.astype(np.int64)  # a copy: shifted in place
                key <<= t_bits + 1
                t <<= 1
                key |= t
                del t
                key |= is_a
                return np.argsort(key, kind="stable")
    return np.lexsort((is_a, time, group))


def count_cross_pairs(is_a: B, x: I64) -> int:
    """Count i < j with ``is_a[i]``, not ``is_a[j]`` and ``x[i] > x[j]``.

    Bottom-up merge counting, one vectorised pass per level: at width w a
    pair is counted when i is in the left and j in the right half of the
    same 2w block, by binary search among the left half's sorted A values.
    """
    n = len(x)
    if n < 2:
        return 0
    rank = unique_inverse(x)[1].astype(np.int64)
    idx = np.arange(n, dtype=np.int64)
    total = 0
    w = 1
    while w < n:
        block = idx // (2 * w)
        right = ((idx // w) & 1).astype(np.bool_)
        left_a = ~right & is_a
        right_b = right & ~is_a
        if left_a.any() and right_b.any():
            a_keys = np.sort(block[left_a] * n + rank[left_a])
            qb = block[right_b]
            lo = np.searchsorted(a_keys, qb * n + rank[right_b], side="right")
            hi = np.searchsorted(a_keys, (qb + 1) * n, side="left")
            total += int((hi - lo).sum())
        w *= 2
    return total


__all__ = [
    "NAME",
    "Violations",
    "check_ordering",
    "count_cross_pairs",
    "ordering_from",
    "realtime_violations",
]
