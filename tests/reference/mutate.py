"""Mutations of a history file's lines: shuffles, and every way section 1 breaks a file.

Each mutation takes the lines of a well-formed history (header first, no
newlines) and returns a :class:`Case` whose ``raw`` is the mutated file and
whose ``expect_line`` says what the reference must find: the 1-based line of
the first problem when the mutation surely breaks a rule, None when the file
is surely still well-formed, :data:`MAYBE` when it may be either (a torn last
line). A mutation that cannot apply (too few lines) returns the file as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import event
from hypothesis import strategies as st

from wiber_harness.reads import FinalReads

MAX_TIME = 604_800_000_000_000
MAYBE = -1  # expect_line when a mutation may or may not break a rule


@dataclass
class Case:
    """One generated run: history bytes, final reads, what was planted."""

    raw: bytes
    reads: FinalReads
    planted: list[str] = field(default_factory=list)
    expect_line: int | None = None
    shuffled: bool = False  # a valid shuffle of a well-formed history's lines
    original: bytes | None = None  # the history before a valid shuffle


def join(lines: list[bytes], newline: bool = True) -> bytes:
    return b"\n".join(lines) + (b"\n" if newline and lines else b"")


def _op_lines(lines: list[bytes]) -> list[int]:
    return list(range(1, len(lines)))


def _decoded(line: bytes) -> dict[str, Any]:
    d = json.loads(line)  # the standard library keeps integers beyond 64 bits exact
    assert isinstance(d, dict)
    return d


def _encode(d: Any) -> bytes:
    return json.dumps(d, separators=(",", ":")).encode()


def m_none(draw: st.DrawFn, lines: list[bytes]) -> Case:
    return Case(join(lines), FinalReads())


def m_no_final_newline(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A complete last line without its newline is kept."""
    return Case(join(lines, newline=False), FinalReads())


def m_torn(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """The last line cut short, no newline: dropped (then a pending op is fine)."""
    last = lines[-1]
    cut = draw(st.integers(0, len(last) - 1))
    return Case(join([*lines[:-1], last[:cut]], newline=False), FinalReads(), expect_line=MAYBE)


def m_bad_last_line(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A complete last line that breaks a rule (JSON, not an op), with or without
    newline; or a line that is not JSON followed by a newline: malformed."""
    bad = draw(st.sampled_from([b'{"id": -1}', b"[1, 2]", b'"op"', b"{oops"]))
    newline = draw(st.booleans()) if bad != b"{oops" else True
    return Case(join([*lines, bad], newline=newline), FinalReads(), expect_line=len(lines) + 1)


def m_junk_inside(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A line that is not JSON before other lines: malformed even without final newline."""
    at = draw(st.integers(1, len(lines)))
    new = [*lines[:at], b'{"id": 3, "type": "inv', *lines[at:]]
    newline = draw(st.booleans()) or at == len(lines)
    return Case(join(new, newline=newline), FinalReads(), expect_line=at + 1)


def m_blank_line(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A blank line between ops (SPEC-GAP: skipped)."""
    at = draw(st.integers(1, len(lines)))
    return Case(join([*lines[:at], b"", *lines[at:]]), FinalReads())


def m_header(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """No header, a header of another schema, not JSON, or not an object."""
    bad = draw(
        st.sampled_from([b"", b'{"schema":"wiber-history/0"}', b"{", b"[]", b'{"scenario":1}'])
    )
    if bad == b"" and draw(st.booleans()):
        return Case(b"", FinalReads(), expect_line=1)
    return Case(join([bad, *lines[1:]]), FinalReads(), expect_line=1)


def _pick(draw: st.DrawFn, lines: list[bytes], pred: Any) -> int | None:
    idx = [i for i in _op_lines(lines) if pred(_decoded(lines[i]))]
    return draw(st.sampled_from(idx)) if idx else None


def m_reuse_id(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """An invoke takes the id of an earlier invoke."""
    inv = [i for i in _op_lines(lines) if _decoded(lines[i])["type"] == "invoke"]
    if len(inv) < 2:
        return m_none(draw, lines)
    j = draw(st.sampled_from(inv[1:]))
    i = draw(st.sampled_from([x for x in inv if x < j]))
    d = _decoded(lines[j])
    d["id"] = _decoded(lines[i])["id"]
    return Case(join([*lines[:j], _encode(d), *lines[j + 1 :]]), FinalReads(), expect_line=j + 1)


def m_second_completion(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A completion written twice (maybe with another type)."""
    j = _pick(draw, lines, lambda d: d["type"] != "invoke")
    if j is None:
        return m_none(draw, lines)
    d = _decoded(lines[j])
    d["type"] = draw(st.sampled_from(["ok", "fail", "info"]))
    at = draw(st.integers(j + 1, len(lines)))
    return Case(join([*lines[:at], _encode(d), *lines[at:]]), FinalReads(), expect_line=at + 1)


def m_orphan_completion(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A completion of an id no invoke has."""
    at = draw(st.integers(1, len(lines)))
    d = {"id": 99_999, "type": "ok", "f": "send", "process": "client-u0a", "time": 0, "value": {}}
    return Case(join([*lines[:at], _encode(d), *lines[at:]]), FinalReads(), expect_line=at + 1)


def m_completion_first(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A completion moved before its invoke (file order)."""
    j = _pick(draw, lines, lambda d: d["type"] != "invoke")
    if j is None:
        return m_none(draw, lines)
    op_id = _decoded(lines[j])["id"]
    i = next(x for x in _op_lines(lines) if _decoded(lines[x])["id"] == op_id)
    at = draw(st.integers(1, i))
    rest = [*lines[:j], *lines[j + 1 :]]
    return Case(join([*rest[:at], lines[j], *rest[at:]]), FinalReads(), expect_line=at + 1)


def m_completion_differs(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """A completion with another f or process, or earlier than its invoke."""
    j = _pick(draw, lines, lambda d: d["type"] != "invoke")
    if j is None:
        return m_none(draw, lines)
    d = _decoded(lines[j])
    how = draw(st.sampled_from(["f", "process", "time"]))
    if how == "time":
        inv = next(_decoded(x) for x in lines[1:] if _decoded(x)["id"] == d["id"])
        if inv["time"] == 0:
            return m_none(draw, lines)
        d["time"] = inv["time"] - 1
    else:
        d[how] = d[how] + "x"
    return Case(join([*lines[:j], _encode(d), *lines[j + 1 :]]), FinalReads(), expect_line=j + 1)


WRONG_FIELDS: dict[str, list[Any]] = {  # lists and objects too: unhashable values
    "id": ["1", -1, 1.5, True, None, [1]],
    "type": ["done", None, 1, ["ok"], {}],
    "f": ["", 3, None, ["send"]],
    "process": [5, None, ["client"], {}],
    "time": ["0", -1, 1.5, MAX_TIME + 1, True, [0]],
    "value": [[], "x", 3],
}
WRONG_SEND_INVOKE: dict[str, list[Any]] = {
    "key": ["", 3, "<absent>", ["k"]],
    "conversation": [3, []],
    "from": [True],
    "sender": [1],
    "to": [{}],
    "retry_of": [7],
    "tag": [5, ["t"]],
    "seq": ["1", 1.5, True],
    "intended": ["x", -1, MAX_TIME + 1, True],
}
WRONG_SEND_DONE: dict[str, list[Any]] = {
    "messageId": [5, True, [], {}],
    "status": ["201", 1.5, True],
    "partition": ["0", 1.5],
    "offset": [False, "7"],
    "error": [5, True],
}
WRONG_NEMESIS: dict[str, list[Any]] = {"fault": ["<absent>", 3, []], "kind": ["<absent>", None, {}]}
# optional fields that may be null (section 1: "null counts as absent")
NULLS: dict[str, list[str]] = {
    "op": ["value"],
    "invoke": ["conversation", "from", "to", "sender", "retry_of", "tag", "seq", "intended"],
    "done": ["error"],
}


# values at the edge of each value rule that stay well-formed (an edited id or time
# would break the pairing rules instead: the generator covers those edges)
RIGHT_SEND_INVOKE: dict[str, list[Any]] = {
    "seq": [-1, 0],
    "intended": [0, 0.5, MAX_TIME, float(MAX_TIME)],
    "retry_of": [""],
    "tag": [""],
    "colour": [[1, {"a": None}]],  # an extra field no rule names
}
RIGHT_SEND_DONE: dict[str, list[Any]] = {
    "messageId": [None, ""],
    "status": [None, -1],
    "partition": [None, 0],
    "offset": [None, 0],
    "error": [""],
}
RIGHT_NEMESIS: dict[str, list[Any]] = {"fault": [""], "kind": [""]}


def field_tables(d: dict[str, Any], right: bool = False) -> dict[str, list[Any]]:
    """The (wrong, or with ``right`` edge-but-valid) values section 1's rules give for
    the fields of op ``d``: the op's own fields, then its value's per f and process."""
    table = {} if right else dict(WRONG_FIELDS)
    if d["f"] == "send":
        if d["type"] == "invoke":
            table.update(RIGHT_SEND_INVOKE if right else WRONG_SEND_INVOKE)
        else:
            table.update(RIGHT_SEND_DONE if right else WRONG_SEND_DONE)
    elif d["process"] == "nemesis" and d["type"] == "invoke":
        table.update(RIGHT_NEMESIS if right else WRONG_NEMESIS)
    return table


def _with(lines: list[bytes], j: int, name: str, x: Any) -> bytes:
    """The file with field ``name`` of line ``j`` (op or value field) set to ``x``."""
    d = _decoded(lines[j])
    _set(d if name in WRONG_FIELDS else d["value"], name, x)
    return join([*lines[:j], _encode(d), *lines[j + 1 :]])


def every_field_edit(lines: list[bytes]) -> list[tuple[str, Case]]:
    """Every wrong and every edge value of the tables on every op line: (label, case),
    malformed at that line, or well-formed. Changing an id keeps it unique (or unpaired,
    which is its own rule)."""
    out = []
    for j in _op_lines(lines):
        d = _decoded(lines[j])
        for right in (False, True):
            for name, values in field_tables(d, right).items():
                for x in values:
                    case = Case(_with(lines, j, name, x), FinalReads())
                    case.expect_line = None if right else j + 1
                    out.append((f"line {j + 1} {d['type']} {d['f']}: {name}={x!r}", case))
    return out


def _set(d: dict[str, Any], name: str, x: Any) -> None:
    if x == "<absent>":
        d.pop(name, None)
    else:
        d[name] = x


def m_wrong_type(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """One field of one op of the wrong type or out of bounds."""
    if len(lines) < 2:
        return m_none(draw, lines)
    j = draw(st.sampled_from(_op_lines(lines)))
    table = field_tables(_decoded(lines[j]))
    name = draw(st.sampled_from(sorted(table)))
    x = draw(st.sampled_from(table[name]))
    event(f"wrong:{name}={x!r}")
    return Case(_with(lines, j, name, x), FinalReads(), expect_line=j + 1)


def m_null_field(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """An optional field written as null: section 1 says null counts as absent, so the
    history stays well-formed, unless the null value takes away what a rule requires
    (a send invoke's key, a nemesis invoke's fault and kind)."""
    if len(lines) < 2:
        return m_none(draw, lines)
    j = draw(st.sampled_from(_op_lines(lines)))
    d = _decoded(lines[j])
    names = [("op", "value")]
    if d["f"] == "send":
        names += [("v", n) for n in NULLS["invoke" if d["type"] == "invoke" else "done"]]
    where, name = draw(st.sampled_from(names))
    (d if where == "op" else d["value"])[name] = None
    event(f"null:{name}")
    breaks = (
        where == "op" and d["type"] == "invoke" and (d["f"] == "send" or d["process"] == "nemesis")
    )
    return Case(
        join([*lines[:j], _encode(d), *lines[j + 1 :]]),
        FinalReads(),
        expect_line=j + 1 if breaks else None,
    )


def _fix_pairs(lines: list[bytes]) -> list[bytes]:
    """Swap every completion that precedes its invoke with that invoke."""
    out = list(lines)
    where: dict[int, int] = {}
    for i, line in enumerate(out):
        d = _decoded(line)
        if d["type"] == "invoke":
            where[d["id"]] = i
    for i in range(len(out)):
        d = _decoded(out[i])
        j = where[d["id"]]
        if d["type"] != "invoke" and j > i:
            out[i], out[j] = out[j], out[i]
            where[d["id"]] = i
    return out


def m_shuffle(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """Op lines shuffled so each completion stays after its invoke: well-formed,
    and (when no messageId is shared by two keys) the same verdicts."""
    body = _fix_pairs(draw(st.permutations(lines[1:])))
    return Case(join([lines[0], *body]), FinalReads(), shuffled=True, original=join(lines))


def m_bad_shuffle(draw: st.DrawFn, lines: list[bytes]) -> Case:
    """Op lines shuffled, then one completion put before its invoke: malformed."""
    body = _fix_pairs(draw(st.permutations(lines[1:])))
    done = [i for i, x in enumerate(body) if _decoded(x)["type"] != "invoke"]
    if not done:
        return Case(join([lines[0], *body]), FinalReads())
    j = draw(st.sampled_from(done))
    op_id = _decoded(body[j])["id"]
    i = next(x for x, line in enumerate(body) if _decoded(line)["id"] == op_id)
    body[i], body[j] = body[j], body[i]
    return Case(join([lines[0], *body]), FinalReads(), expect_line=i + 2)


Mutation = Callable[[st.DrawFn, list[bytes]], Case]
MUTATIONS: dict[str, Mutation] = {
    "none": m_none,
    "no-final-newline": m_no_final_newline,
    "torn": m_torn,
    "bad-last-line": m_bad_last_line,
    "junk-inside": m_junk_inside,
    "blank-line": m_blank_line,
    "header": m_header,
    "reuse-id": m_reuse_id,
    "second-completion": m_second_completion,
    "orphan-completion": m_orphan_completion,
    "completion-first": m_completion_first,
    "completion-differs": m_completion_differs,
    "wrong-type": m_wrong_type,
    "null-field": m_null_field,
    "shuffle": m_shuffle,
    "bad-shuffle": m_bad_shuffle,
}
# "none" first (what shrinking aims at), and most of the time: most cases judge a run
MUTATION_WEIGHTS: tuple[str, ...] = ("none",) * 12 + ("shuffle",) * 3 + tuple(MUTATIONS)[1:]


__all__ = ["MAYBE", "MUTATIONS", "MUTATION_WEIGHTS", "Case", "join"]
