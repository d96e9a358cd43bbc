"""Operations and the history file.

The op is the unit of data everywhere in the harness (Jepsen's model). Every
client call is an ``invoke`` op followed by exactly one completion with the
same ``id``: ``ok`` (it happened), ``fail`` (it surely did not happen) or
``info`` (indeterminate: timeout, cut connection, 504). Faults are ops of
process ``nemesis`` in the same history. ``time`` is monotonic nanoseconds
since the run started.

Send ops (``f == "send"``) carry in ``value``:

* invoke: ``key`` (the Idempotency-Key), ``conversation`` (canonical id),
  ``from``, ``to``, ``sender`` (== from), ``seq`` (per-sender sequence
  number), ``intended`` (ns: when the open-loop schedule meant to send it;
  latency counts from here), optionally ``retry_of`` (a duplicate-injection
  resend of an already-acknowledged key);
* completion: ``status`` (HTTP status or null), ``messageId`` (when known),
  ``error`` (a short reason for fail/info).

Nemesis ops (``process == "nemesis"``, ``f`` is ``"inject"`` or ``"heal"``)
carry ``fault`` (the fault's id within the scenario), ``kind`` (kill,
partition, latency ...), ``target`` (the spec as written), and on completion
``resolved`` (node or link names hit) and ``evidence`` (what the harness saw
that proves the fault took effect).

The file is JSON lines: a header object ``{"schema": SCHEMA, ...}`` then one
op per line, flushed as the run goes, so a crashed run leaves a readable
prefix; :func:`read_history` drops a torn last line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from wiber_harness.errors import CheckerError

SCHEMA = "wiber-history/1"

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
NEMESIS = "nemesis"


@dataclass(frozen=True, slots=True)
class Op:
    """One event of the history. ``id`` pairs an invoke with its completion."""

    id: int
    type: OpType
    f: str
    process: str
    time: int
    value: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        # evidence may carry int keys (offsets per partition): write them as strings
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "f": self.f,
                "process": self.process,
                "time": self.time,
                "value": self.value,
            },
            option=orjson.OPT_NON_STR_KEYS,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        t = d.get("type")
        if t not in OP_TYPES:
            raise ValueError(f"op type {t!r} is not one of {sorted(OP_TYPES)}")
        return cls(
            id=int(d["id"]),
            type=t,
            f=str(d["f"]),
            process=str(d["process"]),
            time=int(d["time"]),
            value=dict(d.get("value") or {}),
        )


class HistoryWriter:
    """Appends ops to a JSONL file as they happen; thread-safe.

    ``next_id()`` hands out op ids; ``append`` writes and flushes one line.
    Ops are also kept in memory (``ops``) for the checkers at the end of the
    run, so the file is a record, not the only copy.
    """

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next = 0
        self.ops: list[Op] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] | None = path.open("wb")
        head = {"schema": SCHEMA, **(header or {})}
        self._fh.write(orjson.dumps(head) + b"\n")
        self._fh.flush()

    def next_id(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def append(self, op: Op) -> None:
        line = op.to_json() + b"\n"
        with self._lock:
            self.ops.append(op)
            if self._fh is not None:
                self._fh.write(line)
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_history(path: Path) -> tuple[dict[str, Any], list[Op]]:
    """Read a history file: (header, ops). A torn last line is dropped.

    Raises :class:`CheckerError` naming the file and line for anything else
    that is not a valid op, or a header of another schema.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckerError(
            f"{path}: cannot read the history ({e.strerror}); re-run the scenario"
        ) from e
    lines = raw.split(b"\n")
    if not lines or not lines[0].strip():
        raise CheckerError(f"{path}: the history is empty (no header line); re-run the scenario")
    try:
        header = orjson.loads(lines[0])
    except orjson.JSONDecodeError as e:
        raise CheckerError(f"{path}:1: the header is not JSON ({e})") from e
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        raise CheckerError(
            f"{path}:1: schema {header.get('schema') if isinstance(header, dict) else None!r} "
            f"is not {SCHEMA!r}; this harness cannot read that history"
        )
    ops: list[Op] = []
    body = lines[1:]
    for n, line in enumerate(body, start=2):
        if not line.strip():
            continue
        try:
            ops.append(Op.from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as e:
            last = all(not rest.strip() for rest in body[n - 1 :])
            if last:
                break  # torn final line of a crashed run
            raise CheckerError(f"{path}:{n}: not a valid op ({e})") from e
    return header, ops


def write_history(path: Path, ops: Iterable[Op], header: dict[str, Any] | None = None) -> None:
    """Write a whole history at once (tests, re-checks)."""
    with HistoryWriter(path, header) as w:
        for op in ops:
            w.append(op)


def pairs(ops: Iterable[Op]) -> Iterator[tuple[Op, Op | None]]:
    """Yield (invoke, completion-or-None) for every invoke, in invoke order."""
    invokes: dict[int, Op] = {}
    done: dict[int, Op] = {}
    order: list[int] = []
    for op in ops:
        if op.type == "invoke":
            invokes[op.id] = op
            order.append(op.id)
        else:
            done[op.id] = op
    for i in order:
        yield invokes[i], done.get(i)


__all__ = [
    "NEMESIS",
    "OP_TYPES",
    "SCHEMA",
    "HistoryWriter",
    "Op",
    "OpType",
    "pairs",
    "read_history",
    "write_history",
]
