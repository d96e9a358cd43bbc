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

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
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
from wiber_harness.words import kind

MAX_ABS_NS = 7 * 86_400 * 1_000_000_000  # run-relative times: a week either way
_STORE_FIELDS = ("message_id", "key", "conversation", "sender", "partition", "offset", "stored_at")
_OPTIONAL_STORE_FIELDS = ("tag",)  # added in issue 14: absent in older files means all null
_DELIVERY_FIELDS = ("consumer", "partition", "offset", "message_id", "time", "outcome")


class MalformedReads(ValueError):
    """A field of the final reads has the wrong type or an impossible value."""


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
    fast = decode_fast(raw)
    if fast is not None:
        return fast
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise CheckerError(
            f"{path}: the final reads are not JSON ({e}); re-run the scenario (or restore the file)"
        ) from None
    del raw
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
    try:
        schema = _SCHEMA.decode(raw).schema
        if schema == SCHEMA:
            low = _low(_LOW.decode(raw))
            trim()  # the first pass's numbers are arrays now: give their memory back
            return _from_v2(_V2.decode(raw), *low)
        if schema == SCHEMA_V1:
            return _from_v1(_V1.decode(raw))
    except (msgspec.DecodeError, MalformedReads, ValueError, OverflowError):
        return None
    return None


def _common(w: _Common) -> dict[str, Any]:
    if w.drain_s is not None and not math.isfinite(w.drain_s):
        raise MalformedReads("drain_s")
    _check_ns([w.healed_at])
    _check_api_tags(w.api, w.api_tags)
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


def _check_api_tags(api: dict[str, list[str]], tags: dict[str, list[str | None]]) -> None:
    """Every conversation of ``api_tags`` is read in ``api``, with one tag per item."""
    for conv, items in tags.items():
        if conv not in api:
            raise MalformedReads(
                f"api_tags has the conversation {conv!r:.40}, which api does not have; "
                "each tag list belongs to a read"
            )
        if len(items) != len(api[conv]):
            raise MalformedReads(
                f"api_tags[{conv!r:.40}] has {len(items)} tags for {len(api[conv])} read items; "
                "it must have one per item"
            )


def _check_ns(values: Sequence[int | None]) -> None:
    if any(v is not None and not -MAX_ABS_NS <= v <= MAX_ABS_NS for v in values):
        raise MalformedReads("a run-relative time beyond a week")


_Low = tuple[dict[str, Any] | None, dict[str, Any] | None]


def _low(w: _LowV2) -> _Low:
    """The first pass: numbers as arrays, the few distinct strings interned."""
    store = delivery = None
    if w.store is not None:
        s = w.store
        _check_ns(s.stored_at)
        store = {
            "conversation": _interned(s.conversation),
            "sender": _interned(s.sender),
            "partition": _floats(s.partition),
            "offset": _floats(s.offset),
            "stored_at": _floats(s.stored_at),
        }
    if w.delivery is not None:
        d = w.delivery
        _check_ns(d.time)
        delivery = {
            "consumer": _interned(d.consumer),
            "partition": np.asarray(d.partition, dtype=np.int64),
            "offset": np.asarray(d.offset, dtype=np.int64),
            "time": _floats(d.time),
            "outcome": _interned(d.outcome),
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
        if len({len(cols[f]) for f in (*_STORE_FIELDS, *_OPTIONAL_STORE_FIELDS)}) > 1:
            raise MalformedReads("store columns of different lengths")
        store = StoreTable(StoreColumns(**cols))
    if w.delivery is not None and low_delivery is not None:
        dcols = {"message_id": w.delivery.message_id, **low_delivery}
        if len({len(dcols[f]) for f in _DELIVERY_FIELDS}) > 1:
            raise MalformedReads("delivery columns of different lengths")
        delivery = DeliveryTable(DeliveryColumns(**dcols))
    return FinalReads(store=store, delivery=delivery, **common)


def _from_v1(w: _WireV1) -> FinalReads:
    common = _common(w)
    _check_ns([r.stored_at for r in w.store])
    _check_ns([e.time for e in w.delivery])
    return FinalReads(store=w.store, delivery=w.delivery, **common)


def _interned(values: list[Any]) -> list[Any]:
    """The same strings, one object per distinct value (conversations, senders, outcomes)."""
    table: dict[Any, Any] = {}
    return [table.setdefault(v, v) for v in values]


def _floats(values: list[int | None]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


# --- the strict path ---------------------------------------------------------------


def _bad(where: str, x: object, want: str) -> MalformedReads:
    return MalformedReads(f"{where} is {kind(x, article=False)} {x!r:.40}, not {want}")


def _obj(x: object, where: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise _bad(where, x, "an object")
    return x


def _list(x: object, where: str) -> list[Any]:
    if not isinstance(x, list):
        raise _bad(where, x, "a list")
    return x


def _str(x: object, where: str, *, null: bool = False) -> str | None:
    if x is None and null:
        return None
    if not isinstance(x, str):
        raise _bad(where, x, "a string or null" if null else "a string")
    return x


def _int(x: object, where: str, *, null: bool = False, ns: bool = False) -> int | None:
    if x is None and null:
        return None
    if isinstance(x, bool) or not isinstance(x, int):
        raise _bad(where, x, "an integer or null" if null else "an integer")
    if not -(2**63) <= x < 2**63:
        raise MalformedReads(f"{where} is {x}, beyond a 64-bit integer")
    if ns and abs(x) > MAX_ABS_NS:
        raise MalformedReads(
            f"{where} is {x}, beyond a week of ns from the run start (an epoch time?)"
        )
    return x


def _num(x: object, where: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise _bad(where, x, "a finite number or null")
    return float(x)


def decode_strict(d: object) -> FinalReads:
    """Decode and check every field of a decoded file (v1 or v2).

    Raises :class:`MalformedReads` naming the first field that is wrong.
    """
    if not isinstance(d, dict) or d.get("schema") not in (SCHEMA, SCHEMA_V1):
        found = d.get("schema") if isinstance(d, dict) else None
        what = (
            f"schema {found!r:.60}" if isinstance(d, dict) else f"a JSON {kind(d, article=False)}"
        )
        raise MalformedReads(
            f"the file holds {what}, not an object of schema {SCHEMA!r} or {SCHEMA_V1!r}; "
            "this harness cannot read it"
        )
    top = d
    v2 = top["schema"] == SCHEMA
    store = _store_v2(top.get("store")) if v2 else _store_v1(top.get("store", []))
    delivery = _delivery_v2(top.get("delivery")) if v2 else _delivery_v1(top.get("delivery", []))
    api: dict[str, list[str]] = {}
    for conv, ids in _obj(top.get("api", {}), "api").items():
        w = f"api[{conv!r:.40}]"
        api[conv] = [_str(m, f"{w}[{j}]") or "" for j, m in enumerate(_list(ids, w))]
    api_tags: dict[str, list[str | None]] = {}
    for conv, tags in _obj(top.get("api_tags", {}), "api_tags").items():
        w = f"api_tags[{conv!r:.40}]"
        api_tags[conv] = [_str(t, f"{w}[{j}]", null=True) for j, t in enumerate(_list(tags, w))]
    _check_api_tags(api, api_tags)
    api_errors = {
        conv: _str(e, f"api_errors[{conv!r:.40}]") or ""
        for conv, e in _obj(top.get("api_errors", {}), "api_errors").items()
    }
    dead: list[DeadLetter] | None = None
    if top.get("dead_letters") is not None:
        dead = []
        for i, e in enumerate(_list(top["dead_letters"], "dead_letters")):
            w = f"dead_letters[{i}]"
            o = _obj(e, w)
            dead.append(
                DeadLetter(
                    partition=_int(o.get("partition"), f"{w}.partition") or 0,
                    offset=_int(o.get("offset"), f"{w}.offset") or 0,
                    message_id=_str(o.get("message_id"), f"{w}.message_id", null=True),
                    reason=_str(o.get("reason"), f"{w}.reason", null=True),
                )
            )
    end: dict[int, int] = {}
    for k, v in _obj(top.get("end_offsets", {}), "end_offsets").items():
        try:
            part = int(k)
        except ValueError:
            raise MalformedReads(
                f"end_offsets has the key {k!r:.40}, not a partition number"
            ) from None
        end[part] = _int(v, f"end_offsets[{k!r:.20}]") or 0
    drained = top.get("drained", True)
    if not isinstance(drained, bool):
        raise _bad("drained", drained, "true or false")
    observed = top.get("stored_at_observed", False)
    if not isinstance(observed, bool):
        raise _bad("stored_at_observed", observed, "true or false")
    return FinalReads(
        store=store,
        api=api,
        api_errors=api_errors,
        delivery=delivery,
        dead_letters=dead,
        end_offsets=end,
        drained=drained,
        drain_s=_num(top.get("drain_s"), "drain_s"),
        healed_at=_int(top.get("healed_at"), "healed_at", null=True, ns=True),
        extra=_obj(top.get("extra", {}), "extra"),
        api_tags=api_tags,
        stored_at_observed=observed,
    )


def _columns(
    x: object, where: str, fields: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """The named columns of ``x``; an ``optional`` one that is absent is all null."""
    o = _obj(x, where)
    cols = {f: _list(o.get(f), f"{where}.{f}") for f in fields}
    n = len(next(iter(cols.values()))) if cols else 0
    for f in optional:
        cols[f] = _list(o[f], f"{where}.{f}") if f in o else [None] * n
    lengths = {f: len(c) for f, c in cols.items()}
    if len(set(lengths.values())) > 1:
        raise MalformedReads(
            f"the {where} columns have different lengths "
            f"({', '.join(f'{f} {n}' for f, n in lengths.items())}); each must have one "
            "entry per record"
        )
    return cols


def _store_v2(x: object) -> Sequence[StoredRecord]:
    if x is None:
        return []
    c = _columns(x, "store", _STORE_FIELDS, _OPTIONAL_STORE_FIELDS)
    w = "store"
    for j, m in enumerate(c["message_id"]):
        _str(m, f"{w}.message_id[{j}]")
    for f in ("key", "conversation", "sender", "tag"):
        for j, v in enumerate(c[f]):
            _str(v, f"{w}.{f}[{j}]", null=True)
    for f in ("partition", "offset", "stored_at"):
        for j, v in enumerate(c[f]):
            _int(v, f"{w}.{f}[{j}]", null=True, ns=f == "stored_at")
    return StoreTable(
        StoreColumns(
            message_id=c["message_id"],
            key=c["key"],
            conversation=_interned(c["conversation"]),
            sender=_interned(c["sender"]),
            partition=_floats(c["partition"]),
            offset=_floats(c["offset"]),
            stored_at=_floats(c["stored_at"]),
            tag=c["tag"],
        )
    )


def _delivery_v2(x: object) -> Sequence[DeliveryEvent]:
    if x is None:
        return []
    c = _columns(x, "delivery", _DELIVERY_FIELDS)
    w = "delivery"
    for f in ("consumer", "outcome"):
        for j, v in enumerate(c[f]):
            _str(v, f"{w}.{f}[{j}]")
    for j, v in enumerate(c["message_id"]):
        _str(v, f"{w}.message_id[{j}]", null=True)
    for f in ("partition", "offset"):
        for j, v in enumerate(c[f]):
            _int(v, f"{w}.{f}[{j}]")
    for j, v in enumerate(c["time"]):
        _int(v, f"{w}.time[{j}]", null=True, ns=True)
    return DeliveryTable(
        DeliveryColumns(
            consumer=_interned(c["consumer"]),
            partition=np.asarray(c["partition"], dtype=np.int64),
            offset=np.asarray(c["offset"], dtype=np.int64),
            message_id=c["message_id"],
            time=_floats(c["time"]),
            outcome=_interned(c["outcome"]),
        )
    )


def _store_v1(x: object) -> list[StoredRecord]:
    store: list[StoredRecord] = []
    for i, r in enumerate(_list(x, "store")):
        w = f"store[{i}]"
        o = _obj(r, w)
        store.append(
            StoredRecord(
                message_id=_str(o.get("message_id"), f"{w}.message_id") or "",
                key=_str(o.get("key"), f"{w}.key", null=True),
                conversation=_str(o.get("conversation"), f"{w}.conversation", null=True),
                sender=_str(o.get("sender"), f"{w}.sender", null=True),
                partition=_int(o.get("partition"), f"{w}.partition", null=True),
                offset=_int(o.get("offset"), f"{w}.offset", null=True),
                stored_at=_int(o.get("stored_at"), f"{w}.stored_at", null=True, ns=True),
                tag=_str(o.get("tag"), f"{w}.tag", null=True),
            )
        )
    return store


def _delivery_v1(x: object) -> list[DeliveryEvent]:
    delivery: list[DeliveryEvent] = []
    for i, e in enumerate(_list(x, "delivery")):
        w = f"delivery[{i}]"
        o = _obj(e, w)
        delivery.append(
            DeliveryEvent(
                consumer=_str(o.get("consumer"), f"{w}.consumer") or "",
                partition=_int(o.get("partition"), f"{w}.partition") or 0,
                offset=_int(o.get("offset"), f"{w}.offset") or 0,
                message_id=_str(o.get("message_id"), f"{w}.message_id", null=True),
                time=_int(o.get("time"), f"{w}.time", null=True, ns=True),
                outcome=_str(o.get("outcome"), f"{w}.outcome") or "",
            )
        )
    return delivery


__all__ = ["MAX_ABS_NS", "MalformedReads", "decode_fast", "decode_strict", "encode", "load"]
