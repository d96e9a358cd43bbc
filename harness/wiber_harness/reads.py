"""Final reads: what the harness observed of the system after the run.

Taken after every fault is healed and the pipeline drained, over direct
(never proxied) connections. Together with the history they are everything
the checkers see, so a run can be re-checked offline from the run folder
(``final_reads.json``).

Field names are normalised here from the system profile's own names, so
checkers never depend on how a pipeline names its documents.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from wiber_harness.errors import CheckerError

SCHEMA = "wiber-final-reads/1"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One document found in the store.

    ``key`` is the idempotency key the workload sent (None if the document
    carries none: then it was never sent by this harness). ``stored_at`` is
    run-relative ns (may be negative or None when unknown).
    """

    message_id: str
    key: str | None
    conversation: str | None
    sender: str | None
    partition: int | None
    offset: int | None
    stored_at: int | None


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One line of a consumer's delivery log (one record handled)."""

    consumer: str
    partition: int
    offset: int
    message_id: str | None
    time: int | None
    outcome: str  # stored | duplicate | dlq | failed


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record found in the dead-letter topic: where, which message, and why."""

    partition: int
    offset: int
    message_id: str | None
    reason: str | None


@dataclass(slots=True)
class FinalReads:
    """Everything read at the end of a run.

    * ``store``: every document of the messages collection;
    * ``api``: per conversation id, the messageIds in the order the API's
      GET returned them (all pages); ``api_errors`` per conversation whose
      read failed;
    * ``delivery``: the consumers' delivery logs;
    * ``dead_letters``: every record of the dead-letter topic, with the reason
      its header gives (None: the dead-letter topic was not read);
    * ``end_offsets``: the topic's end offset per partition;
    * ``drained``: whether lag reached 0 and every acknowledged message was
      readable within the bound; ``drain_s`` how long that took (from the
      start of the end phase);
    * ``healed_at``: run-relative ns when the last fault was healed (None if
      the scenario had none).
    """

    store: list[StoredRecord] = field(default_factory=list)
    api: dict[str, list[str]] = field(default_factory=dict)
    api_errors: dict[str, str] = field(default_factory=dict)
    delivery: list[DeliveryEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] | None = None
    end_offsets: dict[int, int] = field(default_factory=dict)
    drained: bool = True
    drain_s: float | None = None
    healed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["end_offsets"] = {str(k): v for k, v in self.end_offsets.items()}
        return orjson.dumps(d, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, d: object) -> FinalReads:
        """Decode and check every field; raises :class:`MalformedReads` naming the field."""
        return _decode(d)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_json())

    @classmethod
    def load(cls, path: Path) -> FinalReads:
        """Read ``final_reads.json``; every problem is one :class:`CheckerError` sentence."""
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise CheckerError(
                f"{path}: cannot read the final reads ({e.strerror}); re-run the scenario"
            ) from e
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise CheckerError(
                f"{path}: the final reads are not JSON ({e}); re-run the scenario "
                "(or restore the file)"
            ) from None
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            found = d.get("schema") if isinstance(d, dict) else None
            what = f"schema {found!r:.60}" if isinstance(d, dict) else f"a JSON {_kind(d)}"
            raise CheckerError(
                f"{path}: the file holds {what}, not an object of schema {SCHEMA!r}; "
                "this harness cannot read it"
            )
        try:
            return _decode(d)
        except MalformedReads as e:
            raise CheckerError(f"{path}: {e}; re-run the scenario (or restore the file)") from None


class MalformedReads(ValueError):
    """A field of the final reads has the wrong type or an impossible value."""


_MAX_ABS_NS = 7 * 86_400 * 1_000_000_000  # run-relative times: a week either way


def _kind(x: object) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


def _bad(where: str, x: object, want: str) -> MalformedReads:
    return MalformedReads(f"{where} is {_kind(x)} {x!r:.40}, not {want}")


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
    if ns and abs(x) > _MAX_ABS_NS:
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


def _decode(d: object) -> FinalReads:
    top = _obj(d, "the top level")
    store: list[StoredRecord] = []
    for i, r in enumerate(_list(top.get("store", []), "store")):
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
            )
        )
    api: dict[str, list[str]] = {}
    for conv, ids in _obj(top.get("api", {}), "api").items():
        w = f"api[{conv!r:.40}]"
        api[conv] = [_str(m, f"{w}[{j}]") or "" for j, m in enumerate(_list(ids, w))]
    api_errors = {
        conv: _str(e, f"api_errors[{conv!r:.40}]") or ""
        for conv, e in _obj(top.get("api_errors", {}), "api_errors").items()
    }
    delivery: list[DeliveryEvent] = []
    for i, e in enumerate(_list(top.get("delivery", []), "delivery")):
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
    )


__all__ = ["SCHEMA", "DeadLetter", "DeliveryEvent", "FinalReads", "MalformedReads", "StoredRecord"]
