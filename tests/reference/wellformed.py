"""Reference well-formedness: ``docs/verdicts.md`` section 1, the slow and plain way.

:func:`parse_history` takes the raw bytes of ``history.jsonl`` and returns the
ops, or the first :class:`Problem` (its 1-based line and what is wrong). Each
rule is one small function whose docstring quotes the spec; JSON is parsed
with the standard library (strict: UTF-8, no NaN or Infinity), not with the
harness's orjson, so the two paths share no code. Where the spec is silent
the choice is said in a comment marked SPEC-GAP.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from wiber_harness.history import Op

SCHEMA = "wiber-history/1"
MAX_TIME = 604_800_000_000_000  # 7 days in ns


@dataclass(frozen=True)
class Problem:
    """Why a history is malformed: the 1-based line and what is wrong there."""

    line: int
    what: str


def parses(line: bytes) -> bool:
    """Whether a line is JSON (see :func:`_json`)."""
    return _json(line)[0]


def _reject(s: str) -> float:
    raise ValueError(f"{s} is not JSON")


def _finite(s: str) -> float:
    x = float(s)
    if not math.isfinite(x):
        raise ValueError(f"{s} is not a finite number")
    return x


def _lone_surrogate(x: object) -> bool:
    """A string (or key) holding half of a UTF-16 pair, from a ``\\ud800`` escape."""
    if isinstance(x, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in x)
    if isinstance(x, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in x.items())
    if isinstance(x, list):
        return any(_lone_surrogate(v) for v in x)
    return False


def _json(line: bytes) -> tuple[bool, Any]:
    """SPEC-GAP: "JSON" read as I-JSON (RFC 7493): UTF-8, no NaN or Infinity, no
    lone surrogate in a string (RFC 8259's grammar allows the escape, no text can
    hold it). Integers of any size are integers."""
    try:
        d = json.loads(line.decode("utf-8"), parse_constant=_reject, parse_float=_finite)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None
    return (False, None) if _lone_surrogate(d) else (True, d)


def numbered_lines(raw: bytes) -> list[tuple[int, bytes]]:
    """ "The history is JSON lines" ... "Torn last line: when the file does not end
    with a newline and its last line does not parse, that line is dropped (a run
    killed mid-write)." Returns (1-based line number, bytes) per line."""
    parts = raw.split(b"\n")
    if raw.endswith(b"\n"):
        parts = parts[:-1]  # the final newline ends the last line, it starts none
    elif not parses(parts[-1]):
        parts = parts[:-1]
    return list(enumerate(parts, start=1))


def header_problem(line: bytes) -> str | None:
    """ "a header object {"schema": "wiber-history/1", ...}"."""
    ok, d = _json(line)
    if not ok:
        return "the header is not JSON"
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        return "the header is not an object of schema wiber-history/1"
    return None


def is_int(x: object) -> bool:
    """A JSON integer (true and false are not integers)."""
    return type(x) is int


def is_int64(x: object) -> bool:
    """ "64-bit integers: -2**63 <= x < 2**63"."""
    return is_int(x) and -(2**63) <= x < 2**63  # type: ignore[operator]


def in_time_bounds(x: object) -> bool:
    """ "0 <= time <= 7 days in ns (604,800,000,000,000)"."""
    return isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= MAX_TIME


def field_problem(d: object) -> str | None:
    """ "An op is an object": id integer, 0 <= id < 2**63; type "invoke", "ok", "fail",
    "info"; f non-empty string; process string; time integer, 0 <= time <= 7 days in
    ns; value object (absent or null means {})."""
    if not isinstance(d, dict):
        return "not an object"
    if not (is_int(d.get("id")) and 0 <= d["id"] < 2**63):
        return "id is not an integer in 0..2**63-1"
    if d.get("type") not in ("invoke", "ok", "fail", "info"):
        return "type is not invoke, ok, fail or info"
    if not (isinstance(d.get("f"), str) and d["f"]):
        return "f is not a non-empty string"
    if not isinstance(d.get("process"), str):
        return "process is not a string"
    if not (is_int(d.get("time")) and in_time_bounds(d["time"])):
        return "time is not an integer within 0..7 days"
    if d.get("value") is not None and not isinstance(d["value"], dict):
        return "value is not an object"
    return None


def send_invoke_problem(v: dict[str, Any]) -> str | None:
    """ "a send invoke carries key (non-empty string, the idempotency key), and may
    carry conversation, from, to, sender, retry_of, tag (strings), seq (a 64-bit
    integer), intended (a number in the same bounds as time) and invalid (true or
    false) ... For each of these optional fields, null counts as absent"."""
    if not (isinstance(v.get("key"), str) and v["key"]):
        return "a send invoke's key is not a non-empty string"
    for name in ("conversation", "from", "to", "sender", "retry_of", "tag"):
        if v.get(name) is not None and not isinstance(v[name], str):
            return f"a send invoke's {name} is not a string"
    if v.get("seq") is not None and not is_int64(v["seq"]):
        return "a send invoke's seq is not a 64-bit integer"
    if v.get("intended") is not None and not in_time_bounds(v["intended"]):
        return "a send invoke's intended is not a number within 0..7 days"
    if v.get("invalid") is not None and not isinstance(v["invalid"], bool):
        return "a send invoke's invalid is not true or false"
    return None


def send_completion_problem(v: dict[str, Any]) -> str | None:
    """ "A send completion may carry messageId and error (strings), status,
    partition and offset (64-bit integers) ... null counts as absent"."""
    if v.get("messageId") is not None and not isinstance(v["messageId"], str):
        return "a send completion's messageId is not a string or null"
    for name in ("status", "partition", "offset"):
        if v.get(name) is not None and not is_int64(v[name]):
            return f"a send completion's {name} is not a 64-bit integer or null"
    if v.get("error") is not None and not isinstance(v["error"], str):
        return "a send completion's error is not a string"
    return None


def nemesis_invoke_problem(v: dict[str, Any]) -> str | None:
    """ "A nemesis (process == "nemesis") invoke carries fault and kind (strings)"."""
    if not (isinstance(v.get("fault"), str) and isinstance(v.get("kind"), str)):
        return "a nemesis invoke's fault or kind is not a string"
    return None


def value_problem(op: Op) -> str | None:
    """The value rules, per f and process (section 1, "Value rules"). Each applies on
    its own: a send invoke of process nemesis must meet both."""
    problem = None
    if op.f == "send":
        problem = (send_invoke_problem if op.type == "invoke" else send_completion_problem)(
            op.value
        )
    if problem is None and op.process == "nemesis" and op.type == "invoke":
        problem = nemesis_invoke_problem(op.value)
    return problem


def pairing_problem(op: Op, earlier: list[Op]) -> str | None:
    """ "an invoke's id is not used by an earlier invoke; a completion follows (in
    file order) an invoke with the same id, has the same f and process as that
    invoke, a time no earlier than the invoke's, and is the only completion of
    that invoke". ``earlier`` is every op before ``op`` in file order."""
    same_id = [o for o in earlier if o.id == op.id]
    invokes = [o for o in same_id if o.type == "invoke"]
    if op.type == "invoke":
        return "the id of an earlier invoke is used again" if invokes else None
    if not invokes:
        return "a completion without an earlier invoke"
    inv = invokes[0]
    if any(o.type != "invoke" for o in same_id):
        return "a second completion of one invoke"
    if (op.f, op.process) != (inv.f, inv.process):
        return "a completion's f or process differs from its invoke's"
    if op.time < inv.time:
        return "a completion is earlier than its invoke"
    return None


def parse_history(raw: bytes) -> list[Op] | Problem:
    """The ops of a history file, or its first problem: "Any other line that breaks
    a rule makes the history malformed". Blank lines are skipped (SPEC-GAP: the
    spec does not mention them; the writer never makes them)."""
    lines = numbered_lines(raw)
    if not lines:
        return Problem(1, "the history has no header")
    problem = header_problem(lines[0][1])
    if problem is not None:
        return Problem(1, problem)
    ops: list[Op] = []
    for n, line in lines[1:]:
        if not line.strip():
            continue
        ok, d = _json(line)
        problem = field_problem(d) if ok else "not JSON"
        if problem is not None:
            return Problem(n, problem)
        op = Op(d["id"], d["type"], d["f"], d["process"], d["time"], d.get("value") or {})
        problem = value_problem(op) or pairing_problem(op, ops)
        if problem is not None:
            return Problem(n, problem)
        ops.append(op)
    return ops


__all__ = ["MAX_TIME", "SCHEMA", "Problem", "is_int", "parse_history", "parses"]
