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
  latency counts from here), ``tag`` (the message's unique content tag,
  :mod:`wiber_harness.workload.tag`), optionally ``retry_of`` (a
  duplicate-injection resend of an already-acknowledged key);
* completion: ``status`` (HTTP status or null), ``messageId`` (when known),
  ``partition`` and ``offset`` (the Kafka position an ok answer named),
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

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from wiber_harness.errors import CheckerError
from wiber_harness.wellformed import (
    MAX_DEPTH,
    NEMESIS,
    OP_TYPES,
    Malformed,
    Pairing,
    check_op,
    line_problem,
)

SCHEMA = "wiber-history/1"

OpType = Literal["invoke", "ok", "fail", "info"]


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
    def from_dict(cls, d: object) -> Op:
        """An op from its decoded JSON; raises ValueError (a :class:`Malformed`) naming
        the broken rule of :mod:`wiber_harness.wellformed`."""
        value = check_op(d)
        assert isinstance(d, dict)
        return cls(d["id"], d["type"], d["f"], d["process"], d["time"], value)


class HistoryWriter:
    """Appends ops to a JSONL file as they happen; thread-safe.

    ``next_id()`` hands out op ids; ``append`` writes and flushes one line,
    except inside :meth:`grouped`, whose end flushes every line written in
    it at once (the ops of one batch request are appended together, with no
    await between them: one flush instead of a hundred, which was a quarter
    of the load generator's CPU at 30k messages/s). Ops are also kept in
    memory (``ops``) for the checkers at the end of the run, so the file is a
    record, not the only copy.
    """

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next = 0
        self._held = 0
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
                if not self._held:
                    self._fh.flush()

    @contextlib.contextmanager
    def grouped(self) -> Iterator[None]:
        """Ops appended inside are flushed together when it ends (see the class docstring)."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                if not self._held and self._fh is not None:
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
    """Read a history file: (header, ops), every op checked (:mod:`wiber_harness.wellformed`).

    A torn last line (the file does not end with a newline and its last line
    does not parse) is dropped: a run killed mid-write. Blank lines are
    skipped. Anything else that breaks a rule raises :class:`CheckerError`
    with ``FILE:LINE: what is wrong; how to fix it``.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckerError(
            f"{path}: cannot read the history ({e.strerror}); re-run the scenario"
        ) from e
    lines = raw.split(b"\n")
    torn_possible = not raw.endswith(b"\n")
    if not lines[0].strip():
        raise CheckerError(f"{path}: the history is empty (no header line); re-run the scenario")
    try:
        header = orjson.loads(lines[0])
    except orjson.JSONDecodeError as e:
        raise CheckerError(f"{path}:1: the header is not JSON ({e}); re-run the scenario") from e
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        found = header.get("schema") if isinstance(header, dict) else None
        raise CheckerError(
            f"{path}:1: the header's schema is {found!r:.60}, not {SCHEMA!r}; this harness "
            "cannot read that history"
        )
    problem = line_problem(lines[0])  # the header keeps the nesting and 64-bit rule too
    if problem is not None:
        raise CheckerError(f"{path}:1: {problem}; re-run the scenario (or restore the file)")
    ops: list[Op] = []
    pairing = Pairing()
    last = len(lines)  # 1-based number of the last line
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            if torn_possible and n == last:
                break  # torn final line of a crashed run
            if "depth" in str(e):  # orjson stops at 1,024 levels; the rule is 64
                raise CheckerError(
                    f"{path}:{n}: a value nests deeper than {MAX_DEPTH} levels; "
                    "re-run the scenario (or restore the file)"
                ) from None
            raise CheckerError(
                f"{path}:{n}: the line is not JSON ({e}); re-run the scenario (or restore the file)"
            ) from None
        problem = line_problem(line)  # nesting and integers the JSON reader lets through
        if problem is not None:
            raise CheckerError(f"{path}:{n}: {problem}; re-run the scenario (or restore the file)")
        try:
            op = Op.from_dict(d)
            pairing.add(op, f"line {n}")
        except Malformed as e:
            raise CheckerError(f"{path}:{n}: {e}") from None
        ops.append(op)
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
