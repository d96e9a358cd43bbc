"""The strict decoder of ``final_reads.json``: every field checked, the first problem named.

:func:`decode_strict` is the authority on what a final-reads file may hold
(schemas ``wiber-final-reads/2`` and ``/1``, fields as in ``docs/formats.md``,
run-relative times within a week, 64-bit integers). The fast decoder of
:mod:`wiber_harness.reads_io` accepts exactly what this accepts and hands
everything else here, so a malformed file always gets this module's
sentence: :class:`MalformedReads` naming the field (``store.partition[12]:
...``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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
)
from wiber_harness.wellformed import tree_problem
from wiber_harness.words import kind

MAX_ABS_NS = 7 * 86_400 * 1_000_000_000  # run-relative times: a week either way
STORE_FIELDS = ("message_id", "key", "conversation", "sender", "partition", "offset", "stored_at")
OPTIONAL_STORE_FIELDS = ("tag",)  # added in issue 14: absent in older files means all null
DELIVERY_FIELDS = ("consumer", "partition", "offset", "message_id", "time", "outcome")


class MalformedReads(ValueError):
    """A field of the final reads has the wrong type or an impossible value."""


def interned(values: list[Any]) -> list[Any]:
    """The same strings, one object per distinct value (conversations, senders, outcomes)."""
    table: dict[Any, Any] = {}
    return list(map(table.setdefault, values, values))  # C-level: setdefault(v, v)


# get(v, v): NaN for None, v itself otherwise
_NAN_FOR_NONE: Callable[[Any, Any], Any] = {None: np.nan}.get


def floats(values: list[int | None]) -> np.ndarray:
    """Integers (or null) as float64 with NaN for null."""
    return np.fromiter(map(_NAN_FOR_NONE, values, values), dtype=np.float64, count=len(values))


def check_api_tags(api: dict[str, list[str]], tags: dict[str, list[str | None]]) -> None:
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


def _bad(where: str, x: object, want: str) -> MalformedReads:
    return MalformedReads(f"{where} is {kind(x, article=False)} {x!r:.40}, not {want}")


def _extra(x: object) -> dict[str, Any]:
    """``extra``: an object of anything JSON, within the nesting and 64-bit rule."""
    d = _obj(x, "extra")
    problem = tree_problem(d)
    if problem is not None:
        raise MalformedReads(f"extra: {problem}")
    return d


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
    check_api_tags(api, api_tags)
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
        extra=_extra(top.get("extra", {})),
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
    c = _columns(x, "store", STORE_FIELDS, OPTIONAL_STORE_FIELDS)
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
            conversation=interned(c["conversation"]),
            sender=interned(c["sender"]),
            partition=floats(c["partition"]),
            offset=floats(c["offset"]),
            stored_at=floats(c["stored_at"]),
            tag=c["tag"],
        )
    )


def _delivery_v2(x: object) -> Sequence[DeliveryEvent]:
    if x is None:
        return []
    c = _columns(x, "delivery", DELIVERY_FIELDS)
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
            consumer=interned(c["consumer"]),
            partition=np.asarray(c["partition"], dtype=np.int64),
            offset=np.asarray(c["offset"], dtype=np.int64),
            message_id=c["message_id"],
            time=floats(c["time"]),
            outcome=interned(c["outcome"]),
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


__all__ = [
    "DELIVERY_FIELDS",
    "MAX_ABS_NS",
    "STORE_FIELDS",
    "MalformedReads",
    "decode_strict",
    "floats",
    "interned",
]
