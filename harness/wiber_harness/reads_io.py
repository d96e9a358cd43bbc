"""``final_reads.json``: writing it, and reading it back strictly and fast.

Two schemas are read: ``wiber-final-reads/2`` (written since issue 13: the
store and the delivery log as columns, one JSON list per field, all of one
length; compact JSON) and ``wiber-final-reads/1`` (records as objects).
Fields added since (issue 14) are optional in both, so older files read
as before: the store's ``tag`` column (absent: every tag null), ``api_tags``
(absent: no read item has a tag) and ``stored_at_observed`` (absent: false).
The fields and their types are in ``docs/formats.md``; every run-relative
time (``stored_at``, a delivery event's ``time``, ``healed_at``) must be
within a week of the run start (an epoch timestamp in such a field is an
error, not a time to allocate per-second bins for).

:func:`load` first tries a typed msgspec decoding that builds the columns
directly; anything it cannot vouch for goes to :func:`decode_strict`, the
authority, which checks field by field and raises :class:`MalformedReads`
naming the field (``store.partition[12]: ...``); :func:`load` turns that
into one :class:`~wiber_harness.errors.CheckerError` sentence with the file.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from wiber_harness.errors import CheckerError
from wiber_harness.memory import prefer_mmap, trim
from wiber_harness.reads import (
    SCHEMA,
    SCHEMA_V1,
    DeadLetter,
    DeliveryColumns,
    DeliveryEvent,
    DeliveryTable,
    FinalReads,
    StoreColumns,
    StoredRecord,
    StoreTable,
    delivery_columns,
    store_columns,
)
from wiber_harness.reads_strict import (
    DELIVERY_FIELDS,
    MAX_ABS_NS,
    OPTIONAL_STORE_FIELDS,
    STORE_FIELDS,
    MalformedReads,
    check_api_tags,
    decode_strict,
    floats,
    interned,
)
from wiber_harness.wellformed import INT64, LONG_NUMBER, MAX_DEPTH, has_digit_run, tree_problem

# --- writing -----------------------------------------------------------------------


def _ints(a: np.ndarray) -> list[int | None]:
    return [None if x != x else int(x) for x in a.tolist()]


def encode(reads: FinalReads) -> bytes:
    """The v2 file: compact JSON, the store and the delivery log as columns."""
    s = store_columns(reads.store)
    d = delivery_columns(reads.delivery)
    doc = {
        "schema": SCHEMA,
        "store": {
            "message_id": s.message_id,
            "key": s.key,
            "conversation": s.conversation,
            "sender": s.sender,
            "partition": _ints(s.partition),
            "offset": _ints(s.offset),
            "stored_at": _ints(s.stored_at),
            "tag": s.tag,
        },
        "api": reads.api,
        "api_tags": reads.api_tags,
        "api_errors": reads.api_errors,
        "delivery": {
            "consumer": d.consumer,
            "partition": d.partition.tolist(),
            "offset": d.offset.tolist(),
            "message_id": d.message_id,
            "time": _ints(d.time),
            "outcome": d.outcome,
        },
        "dead_letters": None
        if reads.dead_letters is None
        else [
            {
                "partition": x.partition,
                "offset": x.offset,
                "message_id": x.message_id,
                "reason": x.reason,
            }
            for x in reads.dead_letters
        ],
        "end_offsets": {str(k): v for k, v in reads.end_offsets.items()},
        "drained": reads.drained,
        "drain_s": reads.drain_s,
        "healed_at": reads.healed_at,
        "extra": reads.extra,
        "stored_at_observed": reads.stored_at_observed,
    }
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


# --- reading -----------------------------------------------------------------------


def load(path: Path) -> FinalReads:
    """Read ``final_reads.json``; every problem is one :class:`CheckerError` sentence."""
    prefer_mmap()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckerError(
            f"{path}: cannot read the final reads ({e.strerror}); re-run the scenario"
        ) from e
    # a number of 19 digits anywhere may be an integer beyond 64 bits, which a typed float
    # field would take: such a (rare) file is decoded exactly and walked, never fast
    # (the digit-run test first: the regular expression alone took 0.5 s on 56 MB)
    suspect = has_digit_run(raw) and LONG_NUMBER.search(raw) is not None
    fast = None if suspect else decode_fast(raw)
    if fast is not None:
        return fast
    try:  # msgspec keeps an integer of any size exact (orjson makes a float of it)
        d = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        raise CheckerError(
            f"{path}: the final reads are not JSON ({e}); re-run the scenario (or restore the file)"
        ) from None
    except RecursionError:
        raise CheckerError(
            f"{path}: a value in the final reads nests deeper than {MAX_DEPTH} levels; "
            "re-run the scenario (or restore the file)"
        ) from None
    del raw
    problem = tree_problem(d) if suspect else None
    if problem is not None:
        raise CheckerError(f"{path}: {problem}; re-run the scenario (or restore the file)")
    try:
        return decode_strict(d)
    except MalformedReads as e:
        raise CheckerError(f"{path}: {e}; re-run the scenario (or restore the file)") from None


# --- the fast path -----------------------------------------------------------------


# v2 is decoded in two passes over the same bytes: first the numbers and the few
# distinct strings (converted to arrays and interned, then freed), then the many
# distinct strings that stay (ids and keys). Decoding everything at once leaves
# the freed numbers interleaved with the kept strings, and the process keeps
# that memory (measured: ~250 MB more peak on a 500k-message run).


class _StoreLow(msgspec.Struct):
    conversation: list[str | None]
    sender: list[str | None]
    partition: list[int | None]
    offset: list[int | None]
    stored_at: list[int | None]


class _StoreHigh(msgspec.Struct):
    message_id: list[str]
    key: list[str | None]
    tag: list[str | None] | msgspec.UnsetType = msgspec.UNSET  # optional column (issue 14)


class _DeliveryLow(msgspec.Struct):
    consumer: list[str]
    partition: list[int]
    offset: list[int]
    time: list[int | None]
    outcome: list[str]


class _DeliveryHigh(msgspec.Struct):
    message_id: list[str | None]


class _LowV2(msgspec.Struct):
    schema: str  # read with the first pass, so the usual file needs no pass for it alone
    store: _StoreLow | None = None
    delivery: _DeliveryLow | None = None


class _Common(msgspec.Struct):
    schema: str
    api: dict[str, list[str]] = {}
    api_tags: dict[str, list[str | None]] = {}
    api_errors: dict[str, str] = {}
    dead_letters: list[DeadLetter] | None = None
    end_offsets: dict[str, int] = {}
    drained: bool = True
    drain_s: float | None = None
    healed_at: int | None = None
    extra: dict[str, Any] = {}
    stored_at_observed: bool = False


class _WireV2(_Common):
    store: _StoreHigh | None = None
    delivery: _DeliveryHigh | None = None


class _WireV1(_Common):
    store: list[StoredRecord] = []
    delivery: list[DeliveryEvent] = []


class _Schema(msgspec.Struct):
    schema: str


_SCHEMA = msgspec.json.Decoder(_Schema)
_V2 = msgspec.json.Decoder(_WireV2)
_LOW = msgspec.json.Decoder(_LowV2)
_V1 = msgspec.json.Decoder(_WireV1)


def decode_fast(raw: bytes) -> FinalReads | None:
    """The final reads decoded fast (typed), or None when anything is off.

    None sends the file to :func:`decode_strict`, which is the authority: it
    accepts what this accepts and says what is wrong with the rest.
    """
    if not _utf8(raw):
        return None
    try:
        try:
            first: _LowV2 | None = _LOW.decode(raw)
        except msgspec.DecodeError:  # v1, or not a final-reads file: the schema says
            first = None
        schema = first.schema if first is not None else _SCHEMA.decode(raw).schema
        if schema == SCHEMA:
            low = _low(first if first is not None else _LOW.decode(raw))
            del first
            trim()  # the first pass's numbers are arrays now: give their memory back
            return _from_v2(_V2.decode(raw), *low)
        if schema == SCHEMA_V1:
            return _from_v1(_V1.decode(raw))
    except (msgspec.DecodeError, MalformedReads, ValueError, OverflowError, RecursionError):
        return None
    return None


def _utf8(raw: bytes) -> bool:
    """Whether ``raw`` is UTF-8 (msgspec does not check the keys and values it skips),
    checked in slices so no copy of a large file is made."""
    if raw.isascii():  # the usual case, one C pass
        return True
    dec = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for i in range(0, len(raw), 1 << 22):
            dec.decode(view[i : i + (1 << 22)])
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        view.release()
    return True


def _common(w: _Common) -> dict[str, Any]:
    if w.drain_s is not None and not math.isfinite(w.drain_s):
        raise MalformedReads("drain_s")
    _check_ns([w.healed_at])
    _check_int64(w.end_offsets.values())
    if tree_problem(w.extra) is not None:
        raise MalformedReads("extra")
    check_api_tags(w.api, w.api_tags)
    return {
        "api": w.api,
        "api_tags": w.api_tags,
        "api_errors": w.api_errors,
        "dead_letters": w.dead_letters,
        "end_offsets": {int(k): v for k, v in w.end_offsets.items()},
        "drained": w.drained,
        "drain_s": w.drain_s,
        "healed_at": w.healed_at,
        "extra": w.extra,
        "stored_at_observed": w.stored_at_observed,
    }


def _check_int64(values: Iterable[int | None]) -> None:
    if any(v is not None and not -INT64 <= v < INT64 for v in values):
        raise MalformedReads("an integer beyond 64 bits")


def _check_int64_array(a: npt.NDArray[np.float64]) -> None:
    if bool(((a < -INT64) | (a >= INT64)).any()):  # NaN (null) compares false
        raise MalformedReads("an integer beyond 64 bits")


def _check_ns_array(a: npt.NDArray[np.float64]) -> None:
    if bool((np.abs(a) > MAX_ABS_NS).any()):  # NaN (null) compares false
        raise MalformedReads("a run-relative time beyond a week")


def _check_ns(values: Sequence[int | None]) -> None:
    if any(v is not None and not -MAX_ABS_NS <= v <= MAX_ABS_NS for v in values):
        raise MalformedReads("a run-relative time beyond a week")


_Low = tuple[dict[str, Any] | None, dict[str, Any] | None]


def _low(w: _LowV2) -> _Low:
    """The first pass: numbers as arrays, the few distinct strings interned."""
    store = delivery = None
    if w.store is not None:
        s = w.store
        part, off, at = floats(s.partition), floats(s.offset), floats(s.stored_at)
        # checked on the arrays: a time bound below 2**53 is exact in float64; a float
        # at the int64 edge may round up and refuse a valid value, which only sends the
        # file to the strict decoder (and 19-digit numbers never get here anyway)
        _check_ns_array(at)
        _check_int64_array(part)
        _check_int64_array(off)
        store = {
            "conversation": interned(s.conversation),
            "sender": interned(s.sender),
            "partition": part,
            "offset": off,
            "stored_at": at,
        }
    if w.delivery is not None:
        d = w.delivery
        times = floats(d.time)
        _check_ns_array(times)
        delivery = {
            "consumer": interned(d.consumer),
            "partition": np.asarray(d.partition, dtype=np.int64),
            "offset": np.asarray(d.offset, dtype=np.int64),
            "time": times,
            "outcome": interned(d.outcome),
        }
    return store, delivery


def _from_v2(
    w: _WireV2, low_store: dict[str, Any] | None, low_delivery: dict[str, Any] | None
) -> FinalReads:
    common = _common(w)
    store: Sequence[StoredRecord] = []
    delivery: Sequence[DeliveryEvent] = []
    if (w.store is None) != (low_store is None) or (w.delivery is None) != (low_delivery is None):
        raise MalformedReads("store or delivery present in one pass only")
    if w.store is not None and low_store is not None:
        n = len(w.store.message_id)
        tag = [None] * n if isinstance(w.store.tag, msgspec.UnsetType) else w.store.tag
        cols = {"message_id": w.store.message_id, "key": w.store.key, "tag": tag, **low_store}
        if len({len(cols[f]) for f in (*STORE_FIELDS, *OPTIONAL_STORE_FIELDS)}) > 1:
            raise MalformedReads("store columns of different lengths")
        store = StoreTable(StoreColumns(**cols))
    if w.delivery is not None and low_delivery is not None:
        dcols = {"message_id": w.delivery.message_id, **low_delivery}
        if len({len(dcols[f]) for f in DELIVERY_FIELDS}) > 1:
            raise MalformedReads("delivery columns of different lengths")
        delivery = DeliveryTable(DeliveryColumns(**dcols))
    return FinalReads(store=store, delivery=delivery, **common)


def _from_v1(w: _WireV1) -> FinalReads:
    common = _common(w)
    _check_ns([r.stored_at for r in w.store])
    _check_ns([e.time for e in w.delivery])
    _check_int64(x for r in w.store for x in (r.partition, r.offset))
    _check_int64(x for e in w.delivery for x in (e.partition, e.offset))
    return FinalReads(store=w.store, delivery=w.delivery, **common)


__all__ = ["MAX_ABS_NS", "MalformedReads", "decode_fast", "decode_strict", "encode", "load"]
