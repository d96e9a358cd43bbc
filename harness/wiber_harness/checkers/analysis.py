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
  otherwise to the key whose sends carried the record's content ``tag``
  (the first attempt carrying it, in history order: every written value is
  unique, so this needs nothing from the pipeline); otherwise to no key (it
  is *unexpected*). Each record belongs to at most one key, so a messageId
  returned for two keys cannot make both look stored;
* **read item**: one messageId of a successful conversation read. Its key
  is the attribution of the first attributed store record with that
  messageId, else the messageId's owner (the key whose completion returned
  it), else the key of the item's own tag (``reads.api_tags``), else none;
  its *identity* is its key, or its messageId when it has none;
* **position**: a key's position in its conversation's API read is the
  smallest index of a read item of that key in the read of the key's own
  conversation (items read in another conversation give no position).

``docs/verdicts.md`` states the same terms as the specification that the
slow reference checker in ``tests/reference`` implements too.

Times stay nanoseconds since run start (float64, NaN when unknown; exact
for runs shorter than 100 days).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import eq, itemgetter
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from wiber_harness.checkers.codes import Codes, factorize, pick
from wiber_harness.checkers.windows import NS, Faults, FaultWindow, build_faults, seconds
from wiber_harness.columns import FAIL, INFO, OK, PENDING, History, as_history
from wiber_harness.distinct import unique, unique_first
from wiber_harness.errors import CheckerError
from wiber_harness.history import Op
from wiber_harness.reads import FinalReads, StoreColumns, store_columns

T = TypeVar("T")
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
B = npt.NDArray[np.bool_]

# attempt outcomes (OK, FAIL, INFO, PENDING) are the columns' codes
OUTCOME_NAMES = ("ok", "fail", "info", "pending")
# key statuses
ACKED, FAILED, INDETERMINATE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Sends:
    """Send attempts and the keys they group into."""

    keys: list[str]
    key_codes: Codes  # the keys as codes (index = key index)
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
    a_mid_code: I64  # code of a_mid in ``mids`` (-1: none)
    a_part: I64  # partition the ok answer named; meaningful where a_has_pos
    a_off: I64
    a_has_pos: B  # the completion carried integer partition and offset
    a_invalid: B  # the invoke says the request is invalid on purpose
    a_tag: I64  # code of the invoke's content tag in ``tags`` (-1: none)
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
    k_mid_code: I64  # its code (-1: none)
    k_extra_mids: dict[int, set[str]]  # further, different ok messageIds
    mids: Codes  # every messageId seen, as codes (grows as views encode more)
    owner: I64  # per messageId code returned by an attempt: its owner key
    tags: Codes  # every content tag the sends carried, as codes
    tag_owner: I64  # per tag code: the key of the first attempt that carried it
    conversations: list[str]
    conv_codes: Codes  # conversations as codes (index into conversations)
    senders: list[str]
    end: float  # time of the last op of the history (any process), ns

    def key_example(self, ki: int) -> dict[str, Any]:
        return {
            "key": self.keys[ki],
            "conversation": self.k_conversation[ki],
            "sender": self.k_sender[ki],
            "seq": self.k_seq[ki],
        }


def owners(a_key: I64, a_code: I64, outcome: I8, n_codes: int) -> I64:
    """Per messageId code, the key whose completion returned it (-1: none).

    An ``ok`` outranks ``fail``/``info``; among equals the first attempt in
    history order wins. (Two first-index passes, no sort: on half a million
    attempts the sort set the check's peak memory.)
    """
    n = len(a_code)
    idx = np.arange(n, dtype=np.int64)
    has = a_code >= 0
    ok = has & (outcome == OK)
    first_ok = np.full(n_codes, n, dtype=np.int64)
    np.minimum.at(first_ok, a_code[ok], idx[ok])
    first = np.full(n_codes, n, dtype=np.int64)
    np.minimum.at(first, a_code[has], idx[has])
    del idx
    pick = np.where(first_ok < n, first_ok, first)
    owner = np.full(n_codes, -1, dtype=np.int64)
    got = pick < n
    owner[got] = a_key[pick[got]]
    return owner


def build_sends(history: History | Sequence[Op]) -> tuple[Sends, list[Op]]:
    """Group send attempts by key; also return the nemesis ops, in order."""
    h = as_history(history)
    a = h.sends
    nemesis = h.nemesis
    key_codes = Codes()
    ak = key_codes.encode(a.key)
    keys = key_codes.names
    nk = len(keys)
    firsts = unique_first(ak)[1]  # first attempt of each key
    fl = firsts.tolist()
    k_conversation: list[str | None] = pick(a.conversation, fl)
    k_sender: list[str | None] = pick(a.sender, fl)
    k_seq: list[Any] = pick(a.seq, fl)

    inv = a.invoke.astype(np.float64)
    a_int = a.intended.copy()
    no_int = np.isnan(a_int)
    a_int[no_int] = inv[no_int]
    dn = a.done
    out = a.outcome
    a_mid = a.mid

    mids = Codes()
    a_code = mids.encode(a_mid)
    ok_mid = np.flatnonzero((out == OK) & (a_code >= 0))
    first_ok = ok_mid[unique_first(ak[ok_mid])[1]]  # per key, in history order
    k_mid_code = np.full(nk, -1, dtype=np.int64)
    k_mid_code[ak[first_ok]] = a_code[first_ok]
    names = mids.names
    k_mid: list[str | None] = pick([*names, None], k_mid_code.tolist())  # -1: None
    k_extra: dict[int, set[str]] = {}
    for i in ok_mid[a_code[ok_mid] != k_mid_code[ak[ok_mid]]].tolist():
        k_extra.setdefault(int(ak[i]), set()).add(names[int(a_code[i])])

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
    tags = Codes()
    a_tag = tags.encode(a.tag)
    tag_owner = np.full(len(tags), -1, dtype=np.int64)
    tagged = np.flatnonzero(a_tag >= 0)
    t_codes, t_first = unique_first(a_tag[tagged])
    tag_owner[t_codes] = ak[tagged[t_first]]  # first attempt in history order
    conv_codes = Codes()
    k_conv = conv_codes.encode(k_conversation)
    conversations = conv_codes.names
    senders, k_sndr = factorize(k_sender)
    sends = Sends(
        keys=keys,
        key_codes=key_codes,
        a_id=a.op_id,
        a_process=a.process,
        a_key=ak,
        a_invoke=inv,
        a_done=dn,
        a_outcome=out,
        a_intended=a_int,
        a_retry=a.retry,
        a_mid=a_mid,
        a_mid_code=a_code,
        a_part=a.part,
        a_off=a.off,
        a_has_pos=a.has_pos,
        a_invalid=a.invalid,
        a_tag=a_tag,
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
        k_mid_code=k_mid_code,
        k_extra_mids=k_extra,
        mids=mids,
        owner=owners(ak, a_code, out, len(names)),
        tags=tags,
        tag_owner=tag_owner,
        conversations=conversations,
        conv_codes=conv_codes,
        senders=senders,
        end=float(h.end),
    )
    return sends, nemesis


@dataclass(frozen=True, slots=True)
class Store:
    """Store records attributed to keys."""

    cols: StoreColumns  # the records themselves, as columns
    r_key: I64  # key index per record, -1 when unattributed
    r_by_tag: B  # attributed by its content tag (neither its key nor its messageId named one)
    r_mid: I64  # messageId code per record (in ``sends.mids``)
    r_stored_at: F64
    r_mid_known: B  # the record's messageId is one the API returned for its key
    mid_count: I64  # records per messageId code (codes of other origins may be beyond it)
    k_records: I64  # records attributed per key
    k_stored_at: F64  # earliest known stored_at per key, NaN if none known
    k_mid_known: I64  # attributed records whose messageId the API returned


def _owner_of(sends: Sends, codes: I64) -> I64:
    """The owner key of each messageId code (-1 where none, or a code no attempt returned)."""
    owner = sends.owner
    inside = (codes >= 0) & (codes < len(owner))
    out = np.full(len(codes), -1, dtype=np.int64)
    out[inside] = owner[codes[inside]]
    return out


def _tag_owner_of(sends: Sends, tags: Sequence[str | None]) -> I64:
    """The key whose sends carried each tag (-1 where none did, or no tag)."""
    codes = sends.tags.lookup(tags)
    out = np.full(len(codes), -1, dtype=np.int64)
    has = codes >= 0
    out[has] = sends.tag_owner[codes[has]]
    return out


def _keys_of(sends: Sends, keys: Sequence[str | None], r_mid: I64) -> I64:
    """``sends.key_codes.lookup(keys)``, found faster: a record's key is usually the
    owner of its messageId, so that guess is compared first (one string comparison,
    2.3x faster than a lookup in a table of 500k keys) and only the rest is looked up.
    Equal strings give the same answer either way, so the result is the lookup's."""
    guess = _owner_of(sends, r_mid)
    same = _same_strings(keys, sends.keys, guess)
    out = np.where(same, guess, -1)
    del same
    rest = np.flatnonzero(out < 0)
    if len(rest):
        out[rest] = sends.key_codes.lookup(pick(keys, rest.tolist()))
    return out


def _same_strings(values: Sequence[str | None], names: Sequence[str], guess: I64) -> B:
    """Per value, whether ``guess`` (an index into ``names``; -1 none) names an equal
    string. One C-level pass; the guessed strings are held as a tuple of references."""
    n = len(values)
    if not n or not len(names):
        return np.zeros(n, dtype=np.bool_)
    at = np.maximum(guess, 0).tolist()  # -1 looks at names[0]: masked out below
    guessed = itemgetter(*at)(names) if n > 1 else (names[at[0]],)
    del at
    same = np.fromiter(map(eq, values, guessed), np.bool_, n)
    del guessed
    same &= guess >= 0
    return same


def build_store(sends: Sends, reads: FinalReads) -> Store:
    """Attribute records to keys: by their ``key`` field when that key was sent,
    else by the owner of their messageId, else by the key of their content tag."""
    cols = store_columns(reads.store)
    nk = len(sends.keys)
    r_mid = sends.mids.encode(cols.message_id)
    r_key = _keys_of(sends, cols.key, r_mid)
    unkeyed = r_key < 0
    r_key[unkeyed] = _owner_of(sends, r_mid[unkeyed])
    loose = np.flatnonzero(r_key < 0)
    r_by_tag = np.zeros(len(cols), dtype=np.bool_)
    if len(loose) and len(sends.tags):
        by_tag = _tag_owner_of(sends, [cols.tag[i] for i in loose.tolist()])
        r_key[loose] = by_tag
        r_by_tag[loose] = by_tag >= 0
    att = r_key >= 0
    r_known = np.zeros(len(cols), dtype=np.bool_)
    r_known[att] = r_mid[att] == sends.k_mid_code[r_key[att]]
    if sends.k_extra_mids:
        mids = cols.message_id
        for i in np.flatnonzero(att & ~r_known).tolist():
            extra = sends.k_extra_mids.get(int(r_key[i]))
            if extra is not None and mids[i] in extra:
                r_known[i] = True
    st = cols.stored_at
    k_records = np.bincount(r_key[att], minlength=nk).astype(np.int64)
    k_known = np.bincount(r_key[att & r_known], minlength=nk).astype(np.int64)
    k_st = np.full(nk, np.inf)
    has = att & ~np.isnan(st)
    np.minimum.at(k_st, r_key[has], st[has])
    k_st[np.isinf(k_st)] = np.nan
    return Store(
        cols=cols,
        r_key=r_key,
        r_by_tag=r_by_tag,
        r_mid=r_mid,
        r_stored_at=st,
        r_mid_known=r_known,
        mid_count=np.bincount(r_mid, minlength=len(sends.mids.names)).astype(np.int64),
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
    read_names: list[str]  # the successful reads' conversations, in read order
    i_read: I64  # per read item (global numbering): index into read_names
    i_key: I64  # per read item: its key, -1 when it has none
    i_mid: list[str]  # per read item: the messageId
    i_code: I64  # per read item: the messageId's code
    i_foreign: B  # the item's key belongs to another conversation


def _read_codes(sends: Sends, store: Store, flat: list[str], read_conv: I64, lengths: I64) -> I64:
    """``sends.mids.encode(flat)`` (the read items' messageId codes), found faster:
    the t-th item of a read of conversation c is usually c's t-th stored record in
    store order (a store listed by position, read back by position), so that guess
    is compared first and only the rest is encoded. Equal strings get the same code
    either way, and every record's messageId has a code already, so no code a guess
    gives is new: the result is the encode's."""
    n = len(flat)
    if not n or not len(store.r_mid):
        return sends.mids.encode(flat)
    rc = sends.conv_codes.lookup(store.cols.conversation)
    has = np.flatnonzero(rc >= 0)
    by_conv = has[np.argsort(rc[has], kind="stable")]  # records grouped, store order within
    count = np.bincount(rc[has], minlength=len(sends.conversations))
    first = np.cumsum(count) - count
    del rc, has
    # per item: its place in its read (t) and its read's conversation (c; <0 none)
    t = np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    c = np.repeat(read_conv, lengths)
    ok = c >= 0
    ok[ok] = t[ok] < count[c[ok]]
    guess = np.full(n, -1, dtype=np.int64)
    guess[ok] = by_conv[first[c[ok]] + t[ok]]
    del t, c, ok, by_conv
    same = _same_strings(flat, store.cols.message_id, guess)
    out = np.where(same, store.r_mid[guess], -1)
    del same, guess
    rest = np.flatnonzero(out < 0)
    if len(rest):
        out[rest] = sends.mids.encode(pick(flat, rest.tolist()))
    return out


def build_positions(sends: Sends, store: Store, reads: FinalReads) -> Positions:
    nk = len(sends.keys)
    flat: list[str] = []
    flat_tags: list[str | None] = []
    names: list[str] = []
    conv_of_read: list[str] = []
    lengths: list[int] = []
    offsets: dict[str, int] = {}
    for conv, mids in reads.api.items():
        if conv in reads.api_errors:
            continue
        names.append(conv)
        offsets[conv] = len(flat)
        flat.extend(mids)
        tags = reads.api_tags.get(conv)
        if tags is not None and len(tags) != len(mids):
            raise CheckerError(
                f"the read of {conv!r} has {len(tags)} tags for {len(mids)} items; "
                "api_tags must have one per item"
            )
        flat_tags.extend(tags if tags is not None else [None] * len(mids))
        conv_of_read.append(conv)
        lengths.append(len(mids))
    read_conv = sends.conv_codes.lookup(conv_of_read)
    i_code = _read_codes(sends, store, flat, read_conv, np.asarray(lengths, dtype=np.int64))
    n_codes = len(sends.mids.names)
    # per messageId code, the key of its first attributed record (store order)
    stored_key = np.full(n_codes, -1, dtype=np.int64)
    att = np.flatnonzero(store.r_key >= 0)
    if len(store.mid_count) and store.mid_count.max() <= 1 and store.r_mid.min(initial=0) >= 0:
        stored_key[store.r_mid[att]] = store.r_key[att]  # one record per messageId: no sort
    else:
        codes, first = unique_first(store.r_mid[att])
        stored_key[codes] = store.r_key[att[first]]
    ka = stored_key[i_code]
    loose = ka < 0
    ka[loose] = _owner_of(sends, i_code[loose])
    untied = np.flatnonzero(ka < 0)
    if len(untied) and len(sends.tags):
        ka[untied] = _tag_owner_of(sends, [flat_tags[i] for i in untied.tolist()])
    read_no = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    read_conv[read_conv < 0] = -2  # a conversation no key has: never a key's own
    rconv = np.repeat(read_conv, lengths)
    keyed = ka >= 0
    own = keyed.copy()
    own[keyed] = sends.k_conv[ka[keyed]] == rconv[keyed]  # read in the key's own conversation
    k_pos = np.full(nk, np.inf)
    np.minimum.at(k_pos, ka[own], np.flatnonzero(own).astype(np.float64))
    k_pos[np.isinf(k_pos)] = np.nan
    # identities per read: the key for keyed items, the messageId for the others
    ident = np.where(keyed, ka, nk + i_code)
    if len(ident) and ident.min() >= 0 and np.bincount(ident).max() <= 1:
        distinct = len(ident)  # no identity twice anywhere, so none twice in a read
    else:
        distinct = len(unique(read_no * (nk + n_codes + 1) + ident))
    return Positions(
        k_pos=k_pos,
        read_offset=offsets,
        checked=frozenset(names),
        duplicate_reads=len(flat) - distinct,
        read_names=names,
        i_read=read_no,
        i_key=ka,
        i_mid=flat,
        i_code=i_code,
        i_foreign=keyed & ~own,
    )


class Analysis:
    """Lazily computed, cached views of ``(ops, reads)``.

    Build one per run and pass it to :func:`check_all` and the metrics so
    the groundwork is done once. Views are computed on first use, so an
    error surfaces inside the checker that needed it (and makes that
    checker ``unknown``), not at construction.
    """

    def __init__(self, ops: History | Sequence[Op], reads: FinalReads) -> None:
        self.ops = ops
        self.reads = reads
        self._memo: dict[str, Any] = {}

    def memo(self, name: str, compute: Callable[[], T]) -> T:
        """A checker's own derived view, computed once per analysis."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]  # type: ignore[no-any-return]

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
    def store(self) -> Store:
        return build_store(self.sends, self.reads)

    @cached_property
    def positions(self) -> Positions:
        pos = build_positions(self.sends, self.store, self.reads)
        # the last join by messageId and key is done: their tables go before the
        # checkers' own peaks (a later lookup rebuilds them, with the same codes)
        self.sends.mids.compact()
        self.sends.key_codes.compact()
        return pos

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
    "owners",
    "seconds",
]
