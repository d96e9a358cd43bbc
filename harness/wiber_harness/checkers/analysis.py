"""Derived views of one run that every checker and the metrics share.

The checkers are pure functions of ``(ops, reads)``, but each of them needs
the same groundwork: send attempts grouped by idempotency key, store records
attributed to keys, API read positions, fault windows. :class:`Analysis`
computes each view once, lazily, as numpy arrays indexed by *key index*
(the order in which keys first appear in the history), so a
million-op history is handled with a few passes of Python and the rest in
numpy.

Terms used by every checker:

* **attempt**: one send invoke and its completion (``ok``, ``fail``,
  ``info``, or *pending* when the history has no completion);
* **key**: an idempotency key; all attempts carrying it (client retries,
  duplicate-injection resends with ``retry_of``) are one logical message.
  A key is *acknowledged* if any attempt completed ``ok``; *failed* if every
  attempt completed ``fail`` (the API promised it did not happen);
  *indeterminate* otherwise (some ``info`` or pending attempt, no ``ok``).
  Its *ack time* is the earliest ``ok`` completion; its *invoke time* the
  earliest invoke among its attempts that did not complete ``fail`` (a
  ``fail`` promises the attempt did not happen, so its interval does not
  count), or, when every attempt failed, the earliest invoke of all; its
  conversation, sender, seq and intended time are those of its first
  attempt in history order;
* **attribution**: a stored record belongs to the key named by its ``key``
  field when that key was sent; otherwise to the key whose completion
  returned the record's ``messageId`` (``ok`` completions take precedence);
  otherwise to no key (it is *unexpected*). Each record belongs to at most
  one key, so a messageId returned for two keys cannot make both look stored;
* **read item**: one messageId of a successful conversation read. Its key
  is the attribution of the first attributed store record with that
  messageId, else the messageId's owner (the key whose completion returned
  it), else none; its *identity* is its key, or its messageId when it has
  none;
* **position**: a key's position in its conversation's API read is the
  smallest index of a read item of that key in the read of the key's own
  conversation (items read in another conversation give no position).

``docs/verdicts.md`` states the same terms as the specification that the
slow reference checker in ``tests/reference`` implements too.

Times stay nanoseconds since run start (float64, NaN when unknown; exact
for runs shorter than 100 days).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wiber_harness.errors import CheckerError
from wiber_harness.history import NEMESIS, Op
from wiber_harness.reads import FinalReads

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
B = npt.NDArray[np.bool_]

# attempt outcomes
OK, FAIL, INFO, PENDING = 0, 1, 2, 3
OUTCOME_NAMES = ("ok", "fail", "info", "pending")
# key statuses
ACKED, FAILED, INDETERMINATE = 0, 1, 2

NS = 1_000_000_000


def seconds(ns: float | None) -> float | None:
    """ns -> s for reports; None/NaN stay None so results remain JSON."""
    if ns is None or math.isnan(ns):
        return None
    return round(ns / NS, 6)


@dataclass(frozen=True, slots=True)
class Sends:
    """Send attempts and the keys they group into."""

    keys: list[str]
    key_index: dict[str, int]
    # per attempt, in history order of invokes
    a_id: I64
    a_process: list[str]
    a_key: I64
    a_invoke: F64
    a_done: F64  # NaN when pending
    a_outcome: I8
    a_intended: F64  # the invoke's time when the op carries no intended time
    a_retry: B
    a_mid: list[str | None]
    a_part: I64  # partition the ok answer named; meaningful where a_has_pos
    a_off: I64
    a_has_pos: B  # the completion carried integer partition and offset
    a_invalid: B  # the invoke says the request is invalid on purpose
    # per key
    k_conversation: list[str | None]
    k_conv: I64  # index into conversations, -1 for None
    k_sender: list[str | None]
    k_sndr: I64  # index into senders, -1 for None
    k_seq: list[Any]
    k_intended: F64
    k_invoke: F64  # earliest invoke of an attempt that did not fail (of all, if all failed)
    k_ack: F64  # earliest ok completion, NaN if never acknowledged
    k_status: I8
    k_attempts: I64
    k_live: I64  # attempts that did not complete fail
    k_mid: list[str | None]  # first messageId an ok completion returned
    k_extra_mids: dict[int, set[str]]  # further, different ok messageIds
    conversations: list[str]
    conv_index: dict[str, int]
    senders: list[str]
    end: float  # time of the last op of the history (any process), ns

    def key_example(self, ki: int) -> dict[str, Any]:
        return {
            "key": self.keys[ki],
            "conversation": self.k_conversation[ki],
            "sender": self.k_sender[ki],
            "seq": self.k_seq[ki],
        }


def mid_owner(sends: Sends) -> dict[str, int]:
    """messageId -> the key whose completion returned it (an ``ok`` outranks
    ``fail``/``info``; among equals the first in history order)."""
    a_key = sends.a_key.tolist()
    a_mid = sends.a_mid
    out = sends.a_outcome
    ok = np.flatnonzero(out == OK).tolist()
    other = np.flatnonzero((out == FAIL) | (out == INFO)).tolist()
    # reversed, so the first in history order is what stays
    owner = {m: a_key[i] for i in reversed(other) if (m := a_mid[i]) is not None}
    owner.update({m: a_key[i] for i in reversed(ok) if (m := a_mid[i]) is not None})
    return owner


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int_or(x: object, default: int) -> int:
    return x if isinstance(x, int) and not isinstance(x, bool) else default


def _index(values: list[Any]) -> tuple[list[Any], dict[Any, int], I64]:
    """(distinct values in order of appearance, value -> index, index per value; None -> -1)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    names = uniques.tolist()
    return names, {v: i for i, v in enumerate(names)}, codes.astype(np.int64)


def build_sends(ops: Sequence[Op]) -> tuple[Sends, list[Op]]:
    """Group send attempts by key; also return the nemesis ops, in order."""
    # comprehensions, not one loop with branches: per-op cost is what a
    # million-op history is made of
    send_ops = [op for op in ops if op.f == "send"]
    invokes = [op for op in send_ops if op.type == "invoke"]
    done = {op.id: op for op in send_ops if op.type != "invoke"}
    nemesis = [op for op in ops if op.process == NEMESIS and op.f != "send"]
    end = max(map(attrgetter("time"), ops), default=0)

    values = [op.value for op in invokes]
    attempt_keys: list[Any] = [v.get("key") for v in values]
    if None in attempt_keys:
        op = invokes[attempt_keys.index(None)]
        raise CheckerError(
            f"send op {op.id} has no idempotency key in its value; "
            "the history was not written by this harness's workload"
        )
    keys, key_index, ak = _index(attempt_keys)
    nk = len(keys)
    firsts = np.unique(ak, return_index=True)[1].tolist()  # first attempt of each key
    first_values = [values[i] for i in firsts]
    k_conversation: list[str | None] = [v.get("conversation") for v in first_values]
    k_sender: list[str | None] = [v.get("sender", v.get("from")) for v in first_values]
    k_seq: list[Any] = [v.get("seq") for v in first_values]

    inv = np.fromiter((op.time for op in invokes), dtype=np.float64, count=len(invokes))
    a_int = np.asarray([v.get("intended") for v in values], dtype=np.float64)
    no_int = np.isnan(a_int)
    a_int[no_int] = inv[no_int]
    comps = [done.get(op.id) for op in invokes]
    dn = np.asarray([c.time if c is not None else None for c in comps], dtype=np.float64)
    code = {"ok": OK, "fail": FAIL, "info": INFO}
    out = np.asarray([code[c.type] if c is not None else PENDING for c in comps], dtype=np.int8)
    a_mid: list[str | None] = [c.value.get("messageId") if c is not None else None for c in comps]

    mids = np.asarray(a_mid, dtype=object)
    has_mid = np.asarray([m is not None for m in a_mid], dtype=np.bool_)
    ok_mid = np.flatnonzero((out == OK) & has_mid)
    first_ok = ok_mid[np.unique(ak[ok_mid], return_index=True)[1]]  # per key, in history order
    k_mid_arr = np.full(nk, None, dtype=object)
    k_mid_arr[ak[first_ok]] = mids[first_ok]
    k_mid: list[str | None] = k_mid_arr.tolist()
    k_extra: dict[int, set[str]] = {}
    for i in ok_mid[mids[ok_mid] != k_mid_arr[ak[ok_mid]]].tolist():
        k_extra.setdefault(int(ak[i]), set()).add(mids[i])

    ok = out == OK
    attempts = np.bincount(ak, minlength=nk).astype(np.int64)
    n_ok = np.bincount(ak[ok], minlength=nk)
    n_fail = np.bincount(ak[out == FAIL], minlength=nk)
    status = np.where(n_ok > 0, ACKED, np.where(n_fail == attempts, FAILED, INDETERMINATE))
    k_ack = np.full(nk, np.inf)
    np.minimum.at(k_ack, ak[ok], dn[ok])
    k_ack[np.isinf(k_ack)] = np.nan
    live = out != FAIL
    k_inv = np.full(nk, np.inf)
    np.minimum.at(k_inv, ak[live], inv[live])
    k_any = np.full(nk, np.inf)
    np.minimum.at(k_any, ak, inv)
    k_inv = np.where(np.isinf(k_inv), k_any, k_inv)
    a_part = np.asarray(
        [_int_or(c.value.get("partition"), -1) if c is not None else -1 for c in comps],
        dtype=np.int64,
    )
    a_off = np.asarray(
        [_int_or(c.value.get("offset"), -1) if c is not None else -1 for c in comps],
        dtype=np.int64,
    )
    a_has_pos = np.asarray(
        [
            c is not None and _is_int(c.value.get("partition")) and _is_int(c.value.get("offset"))
            for c in comps
        ],
        dtype=np.bool_,
    )
    conversations, conv_index, k_conv = _index(k_conversation)
    senders, _, k_sndr = _index(k_sender)
    sends = Sends(
        keys=keys,
        key_index=key_index,
        a_id=np.fromiter((op.id for op in invokes), dtype=np.int64, count=len(invokes)),
        a_process=[op.process for op in invokes],
        a_key=ak,
        a_invoke=inv,
        a_done=dn,
        a_outcome=out,
        a_intended=a_int,
        a_retry=np.asarray([v.get("retry_of") is not None for v in values], dtype=np.bool_),
        a_mid=a_mid,
        a_part=a_part,
        a_off=a_off,
        a_has_pos=a_has_pos,
        a_invalid=np.asarray([v.get("invalid") is True for v in values], dtype=np.bool_),
        k_conversation=k_conversation,
        k_conv=k_conv,
        k_sender=k_sender,
        k_sndr=k_sndr,
        k_seq=k_seq,
        k_intended=a_int[firsts] if nk else np.zeros(0),
        k_invoke=k_inv,
        k_ack=k_ack,
        k_status=status.astype(np.int8),
        k_attempts=attempts,
        k_live=np.bincount(ak[live], minlength=nk).astype(np.int64),
        k_mid=k_mid,
        k_extra_mids=k_extra,
        conversations=conversations,
        conv_index=conv_index,
        senders=senders,
        end=float(end),
    )
    return sends, nemesis


@dataclass(frozen=True, slots=True)
class Store:
    """Store records attributed to keys."""

    r_key: I64  # key index per record, -1 when unattributed
    r_stored_at: F64
    r_mid_known: B  # the record's messageId is one the API returned for its key
    mid_counts: Counter[str]
    k_records: I64  # records attributed per key
    k_stored_at: F64  # earliest known stored_at per key, NaN if none known
    k_mid_known: I64  # attributed records whose messageId the API returned


def build_store(
    sends: Sends, reads: FinalReads, owner: Callable[[], dict[str, int]] | None = None
) -> Store:
    """Attribute records to keys; ``owner`` gives :func:`mid_owner` (lazily:
    only records without a sent key need it)."""
    store = reads.store
    nk = len(sends.keys)
    mids = [r.message_id for r in store]
    kget = sends.key_index.get
    r_key = np.asarray([kget(r.key, -1) for r in store], dtype=np.int64)  # type: ignore[arg-type]
    unkeyed = np.flatnonzero(r_key < 0).tolist()
    if unkeyed:
        oget = (owner or (lambda: mid_owner(sends)))().get
        for i in unkeyed:
            r_key[i] = oget(mids[i], -1)
    st = np.asarray([r.stored_at for r in store], dtype=np.float64)  # None -> NaN
    k_mid = sends.k_mid
    rk = r_key.tolist()
    r_known = np.asarray(
        [ki >= 0 and m == k_mid[ki] for m, ki in zip(mids, rk, strict=True)], dtype=np.bool_
    )
    for ki, extra in sends.k_extra_mids.items():
        for i in np.flatnonzero(r_key == ki).tolist():
            r_known[i] |= mids[i] in extra
    att = r_key >= 0
    k_records = np.bincount(r_key[att], minlength=nk).astype(np.int64)
    k_known = np.bincount(r_key[att & r_known], minlength=nk).astype(np.int64)
    k_st = np.full(nk, np.inf)
    has = att & ~np.isnan(st)
    np.minimum.at(k_st, r_key[has], st[has])
    k_st[np.isinf(k_st)] = np.nan
    return Store(
        r_key=r_key,
        r_stored_at=st,
        r_mid_known=r_known,
        mid_counts=Counter(mids),
        k_records=k_records,
        k_stored_at=k_st,
        k_mid_known=k_known,
    )


@dataclass(frozen=True, slots=True)
class Positions:
    """Read items attributed to keys, and where each key reads in its conversation."""

    k_pos: F64  # global position (read offset of the conversation + index), NaN if absent
    read_offset: dict[str, int]  # conversation -> offset of its read in the global numbering
    checked: frozenset[str]  # conversations whose read succeeded
    duplicate_reads: int  # per read: items minus distinct identities
    i_key: I64  # per read item (global numbering): its key, -1 when it has none
    i_conv: list[str]  # per read item: the conversation that was read
    i_mid: list[str]  # per read item: the messageId
    i_foreign: B  # the item's key belongs to another conversation


def build_positions(
    sends: Sends,
    store: Store,
    reads: FinalReads,
    owner: Callable[[], dict[str, int]] | None = None,
) -> Positions:
    nk = len(sends.keys)
    attributed = np.flatnonzero(store.r_key >= 0)
    recs = reads.store
    # reversed so that the first record of a messageId wins
    stored_mid_key = {recs[i].message_id: int(store.r_key[i]) for i in attributed[::-1].tolist()}
    flat: list[str] = []
    item_conv: list[str] = []
    conv_of_read: list[int] = []
    lengths: list[int] = []
    offsets: dict[str, int] = {}
    checked: set[str] = set()
    for conv, mids in reads.api.items():
        if conv in reads.api_errors:
            continue
        checked.add(conv)
        offsets[conv] = len(flat)
        flat.extend(mids)
        item_conv.extend([conv] * len(mids))
        conv_of_read.append(sends.conv_index.get(conv, -2))
        lengths.append(len(mids))
    sget = stored_mid_key.get
    ka = np.asarray([sget(m, -1) for m in flat], dtype=np.int64)
    unstored = np.flatnonzero(ka < 0).tolist()
    if unstored:  # read but not in the store: fall back to the API's own ids
        oget = (owner or (lambda: mid_owner(sends)))().get
        for i in unstored:
            ka[i] = oget(flat[i], -1)
    rconv = np.repeat(np.asarray(conv_of_read, dtype=np.int64), lengths)
    read_no = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    gpos = np.arange(len(flat), dtype=np.float64)
    keyed = ka >= 0
    own = keyed.copy()
    own[keyed] = sends.k_conv[ka[keyed]] == rconv[keyed]  # read in the key's own conversation
    k_pos = np.full(nk, np.inf)
    np.minimum.at(k_pos, ka[own], gpos[own])
    k_pos[np.isinf(k_pos)] = np.nan
    # identities per read: (read, key) for keyed items, (read, messageId) for the others
    distinct = len(
        {(r, k) for r, k in zip(read_no[keyed].tolist(), ka[keyed].tolist(), strict=True)}
    )
    loose = np.flatnonzero(~keyed).tolist()
    distinct += len({(int(read_no[i]), flat[i]) for i in loose})
    return Positions(
        k_pos=k_pos,
        read_offset=offsets,
        checked=frozenset(checked),
        duplicate_reads=len(flat) - distinct,
        i_key=ka,
        i_conv=item_conv,
        i_mid=flat,
        i_foreign=keyed & ~own,
    )


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One inject..heal interval of a fault, in ns since run start.

    ``start`` is the inject's ``ok`` completion, or its invoke when the
    completion is ``info`` or missing (then ``start_uncertain``);
    ``end`` the completion of the heal that closed it, or the end of the
    history when it was never healed (``healed`` False).
    """

    fault: str
    kind: str | None
    target: Any
    start: float
    end: float
    healed: bool
    start_uncertain: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "kind": self.kind,
            "target": self.target,
            "start_s": seconds(self.start),
            "end_s": seconds(self.end),
            "duration_s": seconds(self.end - self.start),
            "healed": self.healed,
            "start_uncertain": self.start_uncertain,
        }


@dataclass(frozen=True, slots=True)
class Faults:
    windows: list[FaultWindow]
    failed_injects: int
    failed_heals: int
    unmatched_heals: int
    reinjects: int
    last_heal: float | None  # completion of the last heal that closed a window


def build_faults(nemesis: Sequence[Op], end: float) -> Faults:
    """Pair inject/heal nemesis ops by ``value["fault"]`` into windows.

    A failed inject opens nothing (the fault did not take effect); a failed
    heal closes nothing. An inject of a fault that is already open is
    counted (``reinjects``) and otherwise ignored; a heal of a fault that is
    not open (the end-of-run heal-everything pass) is counted
    (``unmatched_heals``). A nemesis op without a fault id cannot be placed:
    that raises :class:`CheckerError`.
    """
    invokes: list[Op] = []
    done: dict[int, Op] = {}
    for op in nemesis:
        if op.f not in ("inject", "heal"):
            continue
        if "fault" not in op.value and op.type == "invoke":
            raise CheckerError(f"nemesis op {op.id} ({op.f}) carries no fault id")
        if op.type == "invoke":
            invokes.append(op)
        else:
            done[op.id] = op
    open_: dict[str, tuple[Op, float, bool]] = {}
    windows: list[FaultWindow] = []
    failed_injects = failed_heals = unmatched = reinjects = 0
    last_heal: float | None = None
    for op in sorted(invokes, key=lambda o: (o.time, o.id)):
        fault = str(op.value["fault"])
        c = done.get(op.id)
        if op.f == "inject":
            if c is not None and c.type == "fail":
                failed_injects += 1
            elif fault in open_:
                reinjects += 1
            elif c is None or c.type == "info":
                # it may have taken effect any time after the invoke
                open_[fault] = (op, float(op.time), True)
            else:
                open_[fault] = (op, float(c.time), False)
            continue
        if c is not None and c.type == "fail":
            failed_heals += 1
            continue
        if fault not in open_:
            unmatched += 1
            continue
        inj, start, uncertain = open_.pop(fault)
        stop = float(c.time) if c is not None else end
        windows.append(_window(inj, fault, start, max(stop, start), c is not None, uncertain))
        if c is not None:
            last_heal = stop if last_heal is None else max(last_heal, stop)
    for fault, (inj, start, uncertain) in open_.items():
        windows.append(_window(inj, fault, start, max(end, start), False, uncertain))
    windows.sort(key=lambda w: (w.start, w.fault))
    return Faults(windows, failed_injects, failed_heals, unmatched, reinjects, last_heal)


def _window(inj: Op, fault: str, start: float, end: float, healed: bool, unc: bool) -> FaultWindow:
    return FaultWindow(
        fault=fault,
        kind=inj.value.get("kind"),
        target=inj.value.get("target"),
        start=start,
        end=end,
        healed=healed,
        start_uncertain=unc,
    )


class Analysis:
    """Lazily computed, cached views of ``(ops, reads)``.

    Build one per run and pass it to :func:`check_all` and the metrics so
    the groundwork is done once. Views are computed on first use, so an
    error surfaces inside the checker that needed it (and makes that
    checker ``unknown``), not at construction.
    """

    def __init__(self, ops: Sequence[Op], reads: FinalReads) -> None:
        self.ops = ops
        self.reads = reads

    @cached_property
    def _sends_and_nemesis(self) -> tuple[Sends, list[Op]]:
        return build_sends(self.ops)

    @property
    def sends(self) -> Sends:
        return self._sends_and_nemesis[0]

    @property
    def nemesis(self) -> list[Op]:
        """The nemesis ops (injects and heals, invokes and completions), in history order."""
        return self._sends_and_nemesis[1]

    @cached_property
    def mid_owner(self) -> dict[str, int]:
        return mid_owner(self.sends)

    @cached_property
    def store(self) -> Store:
        return build_store(self.sends, self.reads, lambda: self.mid_owner)

    @cached_property
    def positions(self) -> Positions:
        return build_positions(self.sends, self.store, self.reads, lambda: self.mid_owner)

    @cached_property
    def faults(self) -> Faults:
        sends, nemesis = self._sends_and_nemesis
        return build_faults(nemesis, sends.end)


__all__ = [
    "ACKED",
    "FAIL",
    "FAILED",
    "INDETERMINATE",
    "INFO",
    "NS",
    "OK",
    "OUTCOME_NAMES",
    "PENDING",
    "Analysis",
    "FaultWindow",
    "Faults",
    "Positions",
    "Sends",
    "Store",
    "build_faults",
    "build_positions",
    "build_sends",
    "build_store",
    "mid_owner",
    "seconds",
]
