"""Well-formed histories: the rules a history must meet before anything judges it.

The rules are those of ``docs/verdicts.md`` section 1 (Jepsen's history
validation, adapted). An op is an object with ``id`` (integer >= 0),
``type`` (invoke, ok, fail, info), ``f`` (non-empty string), ``process``
(string), ``time`` (integer ns since the run start, 0 <= time <=
:data:`MAX_TIME_NS`) and ``value`` (an object; absent means ``{}``). Then:

* an invoke's id is not used by an earlier invoke;
* a completion follows an invoke of the same id, repeats its ``f`` and
  ``process``, is not earlier in time, and is that invoke's only completion;
* an invoke without a completion is pending, which is allowed;
* a ``send`` invoke carries ``key`` (a non-empty string) and may carry
  ``conversation``, ``from``, ``to``, ``sender``, ``retry_of``, ``tag`` (strings),
  ``seq`` (an integer), ``intended`` (a number within the bounds of
  ``time``) and ``invalid`` (true or false); a ``send`` completion may carry
  ``messageId`` and ``error`` (strings), ``status``, ``partition`` and
  ``offset`` (integers); null counts as absent for each of these optional
  fields;
* a nemesis invoke carries ``fault`` and ``kind`` (strings);
* whatever its fields, no line nests deeper than :data:`MAX_DEPTH` (64)
  levels and no integer in it is beyond 64 bits (:func:`line_problem`, the
  rule every harness file keeps; the final reads apply it to their
  untyped ``extra``).

:func:`check_op` checks one op on its own, :class:`Pairing` the rules
between ops; both raise :class:`Malformed` with a sentence that says what is
wrong and how to fix it, and the caller adds where (file and line, or the
op's index). A malformed history is never reinterpreted: the run is
"unknown".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import numpy as np

from wiber_harness.words import kind

OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
NEMESIS = "nemesis"

MAX_TIME_NS = 7 * 86_400 * 1_000_000_000  # a week: no run is longer; epoch ns are far above
INT64 = 2**63  # every integer of an op is a signed 64-bit integer: -2**63 <= x < 2**63

_FIX = "the harness writes histories itself, so re-run the scenario (or restore the file)"
_OPTIONAL_STR_SEND = ("conversation", "from", "to", "sender", "retry_of", "tag")
_OPTIONAL_INT_DONE = ("status", "partition", "offset")


MAX_DEPTH = 64  # no harness file nests deeper (docs/verdicts.md section 8)
# a number of 19 digits or more may be an integer beyond 64 bits (2**63 has 19 digits). A
# JSON number follows ':', ',' or '[' (and blanks); the same text inside a string (rare:
# keys like "run-1796433729698439220-u1" have a '-' before the digits) only costs the
# exact check below, never a verdict
LONG_NUMBER = re.compile(rb"[:,\[][ \t\r\n]*-?[0-9]{19}")


class Malformed(ValueError):
    """One op, or a relation between ops, breaks a rule. The message has the fix."""


def tree_problem(doc: object) -> str | None:
    """None, or what breaks the rule of every harness document in ``doc``: nesting
    deeper than :data:`MAX_DEPTH` levels, or an integer beyond 64 bits (checked
    without recursion)."""
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, dict):
            items: Iterable[object] = x.values()
        elif isinstance(x, list):
            items = x
        elif _is_int(x) and not -INT64 <= x < INT64:  # type: ignore[operator]
            return f"the integer {str(x)[:24]} is beyond 64 bits"
        else:
            continue
        if depth + 1 > MAX_DEPTH:
            return f"a value nests deeper than {MAX_DEPTH} levels"
        stack.extend((v, depth + 1) for v in items)
    return None


_NUMBER_BEFORE = np.zeros(256, np.bool_)  # what may stand before a JSON number's digits
_NUMBER_BEFORE[list(b":,[ \t\r\n")] = True


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19  # 19 digits in a row, once every digit reads as 0
_SLICE = 1 << 20


def has_digit_run(buf: bytes | memoryview) -> bool:
    """Whether ``buf`` holds 19 or more digits in a row: what every match of
    :data:`LONG_NUMBER` and of :func:`has_long_number` needs, found with two C
    passes over 1 MiB slices (digits turned to 0, then a substring search),
    ten times faster than the regular expression. False is certain."""
    if isinstance(buf, bytes) and len(buf) <= 4 * _SLICE:  # small: no slices, no copy
        return _RUN in buf.translate(_DIGITS_AS_ZERO)
    view = memoryview(buf).cast("B")
    try:
        for i in range(0, len(view), _SLICE):
            # the slices overlap by 18 bytes, so a run across a boundary is whole in one
            if _RUN in view[i : i + _SLICE + len(_RUN) - 1].tobytes().translate(_DIGITS_AS_ZERO):
                return True
    finally:
        view.release()
    return False


def has_long_number(buf: bytes | memoryview) -> bool:
    """Whether ``buf`` (JSON text) might hold a number of 19 digits or more: a run of
    19 digits whose byte before (past a minus sign) may precede a JSON number. The
    same as :data:`LONG_NUMBER`'s search, column-wise: four times faster on the
    history's chunks of lines (not on a whole number-dense file: its temporaries
    grow with the count of numbers); False is certain."""
    if not has_digit_run(buf):
        return False
    a = np.frombuffer(buf, np.uint8)
    d = (a - np.uint8(48)) < 10  # a digit (the subtraction wraps below '0')
    if not d.any():
        return False
    step = np.diff(d.view(np.int8))
    starts = np.flatnonzero(step == 1) + 1
    ends = np.flatnonzero(step == -1) + 1
    if d[0]:
        starts = np.concatenate(([0], starts))
    if d[-1]:
        ends = np.concatenate((ends, [len(a)]))
    long = starts[(ends - starts) >= 19]
    if not long.size:
        return False
    if long[0] < 2:
        return True  # at the very start: let the exact check decide
    before = a[long - 1]
    minus = before == 0x2D
    before[minus] = a[long[minus] - 2]
    return bool(_NUMBER_BEFORE[before].any())


def screen(raw: bytes) -> bool:
    """Whether the JSON text ``raw`` might break :func:`tree_problem`'s rule: more
    opening brackets than :data:`MAX_DEPTH`, or a number of 19 digits or more.
    False is certain; True asks for :func:`line_problem`."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        return True
    return has_digit_run(raw) and LONG_NUMBER.search(raw) is not None


def line_problem(raw: bytes) -> str | None:
    """None, or what breaks the nesting and 64-bit rule in the JSON text ``raw``.

    Cheap for ordinary lines (:func:`screen`); a suspect one is decoded with
    integers of any size kept exact (a JSON reader that turns a huge integer
    into a float would hide it) and walked. Text that is not JSON is left to
    the caller's JSON reader to refuse.
    """
    if not screen(raw):
        return None
    try:
        doc = msgspec.json.decode(raw)
    except RecursionError:
        return f"a value nests deeper than {MAX_DEPTH} levels"
    except msgspec.DecodeError:
        return None
    return tree_problem(doc)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_int64(x: object) -> bool:
    return _is_int(x) and -INT64 <= x < INT64  # type: ignore[operator]


def _time(x: object, what: str) -> int:
    if not _is_int(x):
        raise Malformed(f"{what} is {kind(x)}, not an integer of ns since the run start; {_FIX}")
    assert isinstance(x, int)
    if not 0 <= x <= MAX_TIME_NS:
        raise Malformed(
            f"{what} {x} is outside 0..{MAX_TIME_NS} (ns since the run start, at most a week); "
            f"{_FIX}"
        )
    return x


class OpLike(Protocol):
    """What the pairing rules read of an op (``wiber_harness.history.Op`` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def f(self) -> str: ...
    @property
    def process(self) -> str: ...
    @property
    def time(self) -> int: ...
    @property
    def value(self) -> dict[str, Any]: ...


def check_op(d: object) -> dict[str, Any]:
    """Check one op's decoded JSON on its own; return its value (``{}`` when absent).

    Raises :class:`Malformed`.
    """
    if not isinstance(d, dict):
        raise Malformed(
            f"the line holds {kind(d)}, not an op object with id, type, f, process, time "
            f"and value; {_FIX}"
        )
    op_id = d.get("id")
    if not _is_int(op_id) or not 0 <= op_id < INT64:  # type: ignore[operator]
        raise Malformed(
            f"field id is {kind(op_id)} {op_id!r:.40}, not an integer in 0..2**63-1; {_FIX}"
        )
    t = d.get("type")
    if not isinstance(t, str) or t not in OP_TYPES:
        raise Malformed(f"field type is {t!r:.40}, not one of invoke, ok, fail, info; {_FIX}")
    f = d.get("f")
    if not isinstance(f, str) or not f:
        raise Malformed(f"field f is {kind(f)}, not a non-empty string; {_FIX}")
    process = d.get("process")
    if not isinstance(process, str):
        raise Malformed(f"field process is {kind(process)}, not a string; {_FIX}")
    _time(d.get("time"), "field time")
    value = d.get("value")
    if value is None:
        value = {}
    elif not isinstance(value, dict):
        raise Malformed(f"field value is {kind(value)}, not an object; {_FIX}")
    if f == "send":
        (_send_invoke if t == "invoke" else _send_completion)(value)
    if process == NEMESIS and t == "invoke":
        for name in ("fault", "kind"):
            if not isinstance(value.get(name), str):
                raise Malformed(
                    f"a nemesis invoke needs value.{name} as a string, not "
                    f"{kind(value.get(name))}; {_FIX}"
                )
    return value


def _send_invoke(v: dict[str, object]) -> None:
    key = v.get("key")
    if not isinstance(key, str) or not key:
        raise Malformed(
            f"a send invoke needs value.key (the idempotency key) as a non-empty string, not "
            f"{kind(key)}; {_FIX}"
        )
    for name in _OPTIONAL_STR_SEND:
        x = v.get(name)
        if x is not None and not isinstance(x, str):
            raise Malformed(f"value.{name} of a send invoke is {kind(x)}, not a string; {_FIX}")
    seq = v.get("seq")
    if seq is not None and not _is_int64(seq):
        raise Malformed(
            f"value.seq of a send invoke is {kind(seq)} {seq!r:.40}, not a 64-bit integer; {_FIX}"
        )
    intended = v.get("intended")
    if intended is not None:
        if isinstance(intended, bool) or not isinstance(intended, int | float):
            raise Malformed(
                f"value.intended of a send invoke is {kind(intended)}, not a number of ns; {_FIX}"
            )
        if not (math.isfinite(intended) and 0 <= intended <= MAX_TIME_NS):
            raise Malformed(
                f"value.intended {intended!r:.40} is outside 0..{MAX_TIME_NS} (ns since the run "
                f"start); {_FIX}"
            )
    invalid = v.get("invalid")
    if invalid is not None and not isinstance(invalid, bool):
        raise Malformed(f"value.invalid of a send invoke is {kind(invalid)}, not a boolean; {_FIX}")


def _send_completion(v: dict[str, object]) -> None:
    for name in ("messageId", "error"):
        x = v.get(name)
        if x is not None and not isinstance(x, str):
            raise Malformed(f"value.{name} of a send completion is {kind(x)}, not a string; {_FIX}")
    for name in _OPTIONAL_INT_DONE:
        x = v.get(name)
        if x is not None and not _is_int64(x):
            raise Malformed(
                f"value.{name} of a send completion is {kind(x)} {x!r:.40}, not a 64-bit "
                f"integer; {_FIX}"
            )


@dataclass(slots=True)
class _Invoked:
    f: str
    process: str
    time: int
    where: str
    done_at: str | None = None


class Pairing:
    """The rules between ops, checked one op at a time in file order."""

    def __init__(self) -> None:
        self._invokes: dict[int, _Invoked] = {}

    def add(self, op: OpLike, where: str) -> None:
        """Accept ``op`` (found at ``where``) or raise :class:`Malformed`."""
        inv = self._invokes.get(op.id)
        if op.type == "invoke":
            if inv is not None:
                raise Malformed(
                    f"op id {op.id} is invoked again (first invoked at {inv.where}); every "
                    f"invoke needs its own id; {_FIX}"
                )
            self._invokes[op.id] = _Invoked(op.f, op.process, op.time, where)
            return
        if inv is None:
            raise Malformed(
                f"this {op.type} completion of op id {op.id} has no earlier invoke; a completion "
                f"follows its invoke; {_FIX}"
            )
        if inv.done_at is not None:
            raise Malformed(
                f"op id {op.id} is completed a second time (first completed at {inv.done_at}); "
                f"an invoke has exactly one completion; {_FIX}"
            )
        if (op.f, op.process) != (inv.f, inv.process):
            raise Malformed(
                f"the completion of op id {op.id} says f={op.f!r:.40}, process={op.process!r:.40}"
                f" but its invoke at {inv.where} says f={inv.f!r:.40}, "
                f"process={inv.process!r:.40}; a completion repeats its invoke's f and process; "
                f"{_FIX}"
            )
        if op.time < inv.time:
            raise Malformed(
                f"the completion of op id {op.id} has time {op.time}, before its invoke's "
                f"{inv.time} at {inv.where}; {_FIX}"
            )
        inv.done_at = where


def validate_ops(ops: Iterable[OpLike]) -> None:
    """Check a whole in-memory history (ops in file order); raises :class:`Malformed`
    whose message starts with ``op N`` (the 0-based index)."""
    pairing = Pairing()
    for i, op in enumerate(ops):
        where = f"op {i}"
        try:
            check_op(
                {
                    "id": op.id,
                    "type": op.type,
                    "f": op.f,
                    "process": op.process,
                    "time": op.time,
                    "value": op.value,
                }
            )
            pairing.add(op, where)
        except Malformed as e:
            raise Malformed(f"{where}: {e}") from None


__all__ = [
    "INT64",
    "LONG_NUMBER",
    "MAX_DEPTH",
    "MAX_TIME_NS",
    "NEMESIS",
    "OP_TYPES",
    "Malformed",
    "OpLike",
    "Pairing",
    "check_op",
    "has_digit_run",
    "has_long_number",
    "line_problem",
    "screen",
    "tree_problem",
    "validate_ops",
]
