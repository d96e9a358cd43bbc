"""Corruptions of run-folder files, and which of them break the files' formats.

A :class:`Corruption` changes one file of a workspace (a run folder plus a
``summary.json`` and a ``bench.json``) and says for which commands the input
it leaves is *malformed*, so that the command must exit 2 with one sentence
(``docs/verdicts.md`` section 8). The rule for each kind is exact, from the
formats: the history (``docs/verdicts.md`` section 1), the final reads
(the fields of section 2, typed as :mod:`wiber_harness.reads` decodes them),
``result.json`` (:mod:`wiber_harness.report.result_file`), ``summary.json``
and ``bench.json`` (:mod:`wiber_harness.report.doc_checks`), and scenario
files (a mapping with ``name``, ``workload`` ...):

* the file cannot be read as what it is: empty, a folder, a symlink loop, a
  dangling symlink, a device, over its size limit, random bytes (with a NUL,
  so never JSON or YAML by chance), a NUL or an invalid UTF-8 byte inserted
  strictly inside the file, a byte-order mark in front of JSON, ``NaN``,
  ``Infinity`` or a number beyond a double in JSON, nesting deeper than 64
  levels, or a JSON file truncated before its last value ends: malformed for
  every command that reads the file;
* a field the format types replaced by a value of a kind it does not allow:
  malformed;
* the history's lines: a duplicated line is always malformed (an id
  invoked or completed twice, or a second header); a dropped line is
  malformed when it is the header or an invoke whose completion follows; two
  swapped lines are malformed when some completion then precedes its
  invoke or the header moves; a truncated history is malformed only when
  the cut falls inside the header line (a cut elsewhere leaves a torn last
  line, which is dropped, and a prefix of a well-formed history is
  well-formed);
* a missing file is malformed for ``check`` (a run folder has all three),
  but not for ``report`` (a run never judged, or without a history, is shown
  as such) nor for ``compare`` of a run folder without ``result.json``;
* anything else (a value replaced where the format does not type it, a
  reordered pretty-printed JSON file, a truncated scenario) may or may not
  be well-formed: only the general promises apply (no traceback, exit 0, 1
  or 2, one sentence when it says why it stopped).

Findings F1, F5, F6 and F7 of the fuzz run (``/work/notes/fuzz-findings.md``:
nesting of 65..1024 levels, integers beyond 64 bits and invalid UTF-8 in what
the history and final-reads readers do not type, accepted by ``check``) are
fixed: the oracle holds those readers to the rule of every harness file
(nesting at most 64 levels, integers within 64 bits, UTF-8).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SCENARIO, HISTORY, READS, RESULT = (
    "scenario.yaml",
    "history.jsonl",
    "final_reads.json",
    "result.json",
)
SUMMARY, BENCH = "summary.json", "bench.json"
RUN_FILES = (SCENARIO, HISTORY, READS, RESULT)
ALL_FILES = (*RUN_FILES, SUMMARY, BENCH)
JSON_FILES = frozenset({READS, RESULT, SUMMARY, BENCH})
LEAD_READERS = frozenset({HISTORY, READS})  # the readers every check depends on
# which files each command reads (check only borrows result.json's env, tolerantly)
READERS: dict[str, frozenset[str]] = {
    "check": frozenset({SCENARIO, HISTORY, READS}),
    "report": frozenset({RESULT, HISTORY, READS}),
    "compare": frozenset({RESULT, SUMMARY, BENCH}),
}
MAX_DEPTH = 64

Path_ = tuple[str | int, ...]

# replacement values with the kind they have once parsed back
VALUES: tuple[tuple[Any, str], ...] = (
    (None, "null"),
    (True, "boolean"),
    (False, "boolean"),
    (7, "integer"),
    (-1, "integer"),
    (1.5, "number"),
    ("x", "string"),
    ("", "string"),
    ([], "list"),
    ([1, "a"], "list"),
    ({}, "object"),
    ({"a": 1}, "object"),
)
FREE_VALUES: tuple[Any, ...] = (
    *(v for v, _ in VALUES),
    10**30,
    2**63,
    -(2**63) - 1,
    1e308,
    -0.0,
    "\u0000",
    "\ud7ff" * 3,
    "x" * 10_000,
)
NUM = frozenset({"integer", "number"})


@dataclass
class Corruption:
    """What was done to which file, and the commands that must then exit 2."""

    file: str
    kind: str
    detail: str = ""
    must: frozenset[str] = frozenset()
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind} {self.file} {self.detail}".strip()[:300]


def readers_of(name: str) -> frozenset[str]:
    return frozenset(c for c, files in READERS.items() if name in files)


# -- the typed fields of each format ---------------------------------------------------


def _present(d: Any, path: Path_) -> bool:
    try:
        get(d, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def typed_history_op(o: dict[str, Any]) -> Iterator[tuple[Path_, frozenset[str]]]:
    """docs/verdicts.md section 1: the typed fields of one op."""
    yield ("id",), frozenset({"integer"})
    for k in ("type", "f", "process"):
        yield (k,), frozenset({"string"})
    yield ("time",), frozenset({"integer"})
    yield ("value",), frozenset({"object", "null"})
    v = o.get("value") or {}
    if o.get("f") == "send" and o.get("type") == "invoke":
        yield ("value", "key"), frozenset({"string"})
        kinds = {
            **{key: {"string"} for key in ("conversation", "from", "to", "sender", "retry_of")},
            "seq": {"integer"},
            "intended": NUM,
            "invalid": {"boolean"},
        }
        for k, allowed in kinds.items():
            if k in v:
                yield ("value", k), frozenset({*allowed, "null"})
    elif o.get("f") == "send":
        kinds = {
            **{key: {"string"} for key in ("messageId", "error")},
            **{key: {"integer"} for key in ("status", "partition", "offset")},
        }
        for k, allowed in kinds.items():
            if k in v:
                yield ("value", k), frozenset({*allowed, "null"})
    if o.get("process") == "nemesis" and o.get("type") == "invoke":  # whatever its f
        for k in ("fault", "kind"):
            yield ("value", k), frozenset({"string"})


STORE_KINDS: dict[str, frozenset[str]] = {
    "message_id": frozenset({"string"}),
    **{f: frozenset({"string", "null"}) for f in ("key", "conversation", "sender")},
    **{f: frozenset({"integer", "null"}) for f in ("partition", "offset", "stored_at")},
}
DELIVERY_KINDS: dict[str, frozenset[str]] = {
    "consumer": frozenset({"string"}),
    "partition": frozenset({"integer"}),
    "offset": frozenset({"integer"}),
    "message_id": frozenset({"string", "null"}),
    "time": frozenset({"integer", "null"}),
    "outcome": frozenset({"string"}),
}


def typed_reads(d: dict[str, Any]) -> Iterator[tuple[Path_, frozenset[str]]]:
    """The final reads as docs/formats.md and :mod:`wiber_harness.reads_strict` define
    them: schema ``/2`` holds the store and the delivery log as columns, ``/1`` as
    lists of objects."""
    v2 = d.get("schema") == "wiber-final-reads/2"
    tables = {"object", "null"} if v2 else {"list"}
    top = {
        "schema": {"string"},
        "store": tables,
        "api": {"object"},
        "api_errors": {"object"},
        "delivery": tables,
        "dead_letters": {"list", "null"},
        "end_offsets": {"object"},
        "drained": {"boolean"},
        "drain_s": {*NUM, "null"},
        "healed_at": {"integer", "null"},
        "extra": {"object"},
    }
    for k, kinds in top.items():
        if k in d:
            yield (k,), frozenset(kinds)
    for table, fields in (("store", STORE_KINDS), ("delivery", DELIVERY_KINDS)):
        t: Any = d.get(table) or ({} if v2 else [])
        if v2:
            for f, col in fields.items():
                yield (table, f), frozenset({"list"})
                for j in range(len(t.get(f) or [])):
                    yield (table, f, j), col
        else:
            for i in range(len(t)):
                yield (table, i), frozenset({"object"})
                for f, col in fields.items():
                    yield (table, i, f), col
    for c, ids in (d.get("api") or {}).items():
        yield ("api", c), frozenset({"list"})
        for j in range(len(ids)):
            yield ("api", c, j), frozenset({"string"})
    for c in d.get("api_errors") or {}:
        yield ("api_errors", c), frozenset({"string"})
    for i, _ in enumerate(d.get("dead_letters") or []):
        yield ("dead_letters", i), frozenset({"object"})
        for k, dl in (
            ("partition", {"integer"}),
            ("offset", {"integer"}),
            ("message_id", {"string", "null"}),
            ("reason", {"string", "null"}),
        ):
            yield ("dead_letters", i, k), frozenset(dl)
    for k in d.get("end_offsets") or {}:
        yield ("end_offsets", k), frozenset({"integer"})


def typed_result(d: dict[str, Any]) -> Iterator[tuple[Path_, frozenset[str]]]:
    """result.json as :mod:`wiber_harness.report.result_file` checks it."""
    s, n, o, li = (frozenset({k}) for k in ("string", "null", "object", "list"))
    num = frozenset(NUM)
    for k in ("scenario", "description", "backend"):
        yield (k,), s | n
    yield ("seed",), frozenset({"integer", "null"})
    yield ("verdict",), frozenset({"boolean", "string"})
    yield ("reasons",), li | n
    for i, _ in enumerate(d.get("reasons") or []):
        yield ("reasons", i), s
    yield ("expect",), o | n
    yield ("expect", "valid"), li | n
    yield ("expect", "violation"), frozenset({"boolean", "list", "null"})
    yield ("expect", "thresholds"), o | n
    yield ("env",), o | n
    yield ("checks",), o | n
    for name, c in (d.get("checks") or {}).items():
        yield ("checks", name), o
        yield ("checks", name, "valid"), frozenset({"boolean", "string"})
        yield ("checks", name, "counts"), o | n
        for k in c.get("counts") or {}:
            yield ("checks", name, "counts", k), num | {"string", "boolean", "null"}
        yield ("checks", name, "examples"), o | n
        yield ("checks", name, "error"), s | n
        yield ("checks", name, "details"), o | n
    yield ("metrics",), o | n
    m = d.get("metrics") or {}
    yield ("metrics", "thresholds"), o | n
    for k in m.get("thresholds") or {}:
        yield ("metrics", "thresholds", k), num | n
    yield ("metrics", "summary"), o | n
    summ = m.get("summary") or {}
    yield ("metrics", "summary", "duration_s"), num | n
    for group, allowed in (("counts", num | n), ("histograms", s | n)):
        yield ("metrics", "summary", group), o | n
        for k in summ.get(group) or {}:
            yield ("metrics", "summary", group, k), allowed
    yield ("metrics", "summary", "fault_windows"), li | n
    for i, _ in enumerate(summ.get("fault_windows") or []):
        at = ("metrics", "summary", "fault_windows", i)
        yield at, o
        for k in ("fault", "kind", "target"):
            yield (*at, k), s | n
        for k in ("start_s", "end_s", "duration_s"):
            yield (*at, k), num | n
        yield (*at, "healed"), frozenset({"boolean", "null"})


def typed_summary(d: dict[str, Any]) -> Iterator[tuple[Path_, frozenset[str]]]:
    """summary.json as :mod:`wiber_harness.report.doc_checks` checks it."""
    s, n, o, li = (frozenset({k}) for k in ("string", "null", "object", "list"))
    num = frozenset(NUM)
    yield ("scenarios",), o
    for name, sc in (d.get("scenarios") or {}).items():
        yield ("scenarios", name), o
        yield ("scenarios", name, "verdict"), frozenset({"boolean", "string"})
        yield ("scenarios", name, "reasons"), li | n
        for i, _ in enumerate(sc.get("reasons") or []):
            yield ("scenarios", name, "reasons", i), s
        yield ("scenarios", name, "expect_violation"), frozenset({"boolean", "null"})
        yield ("scenarios", name, "metrics"), o | n
        for k in sc.get("metrics") or {}:
            yield ("scenarios", name, "metrics", k), num | n
    yield ("runs",), li
    for i, r in enumerate(d.get("runs") or []):
        yield ("runs", i), o
        yield ("runs", i, "scenario"), s
        yield ("runs", i, "id"), frozenset({"string", "integer"})
        yield ("runs", i, "metrics"), o | n
        for k in r.get("metrics") or {}:
            yield ("runs", i, "metrics", k), num | n


def typed_bench(d: dict[str, Any]) -> Iterator[tuple[Path_, frozenset[str]]]:
    """bench.json as :mod:`wiber_harness.report.doc_checks` checks it."""
    s, n, li = frozenset({"string"}), frozenset({"null"}), frozenset({"list"})
    num = frozenset(NUM)
    yield ("figures",), li
    for i, f in enumerate(d.get("figures") or []):
        yield ("figures", i), frozenset({"object"})
        for k in ("name", "direction"):
            yield ("figures", i, k), s
        for k in ("group", "unit"):
            yield ("figures", i, k), s | n
        for k in ("value", "floor", "spread", "threshold_pct"):
            yield ("figures", i, k), num | n
        yield ("figures", i, "samples"), li | n
        for j, _ in enumerate(f.get("samples") or []):
            yield ("figures", i, "samples", j), num
    yield ("promises",), li | n
    for i, _ in enumerate(d.get("promises") or []):
        yield ("promises", i), s


TYPED: dict[str, Callable[[dict[str, Any]], Iterator[tuple[Path_, frozenset[str]]]]] = {
    READS: typed_reads,
    RESULT: typed_result,
    SUMMARY: typed_summary,
    BENCH: typed_bench,
}


def all_paths(d: Any, at: Path_ = ()) -> Iterator[Path_]:
    """Every node below the top (iteratively, in document order)."""
    stack: list[tuple[Any, Path_]] = [(d, at)]
    while stack:
        x, p = stack.pop()
        items: list[tuple[str | int, Any]] = (
            list(x.items())
            if isinstance(x, dict)
            else list(enumerate(x))
            if isinstance(x, list)
            else []
        )
        for k, _v in items:
            yield (*p, k)
        stack.extend(((v, (*p, k)) for k, v in reversed(items)))


def get(d: Any, path: Path_) -> Any:
    for k in path:
        d = d[k]
    return d


def put(d: Any, path: Path_, value: Any) -> None:
    get(d, path[:-1])[path[-1]] = value


def numeric_paths(d: Any) -> list[Path_]:
    return [
        p
        for p in all_paths(d)
        if isinstance(get(d, p), int | float) and not isinstance(get(d, p), bool)
    ]


# -- history lines -----------------------------------------------------------------------


def pairing_ok(ops: list[dict[str, Any]]) -> bool:
    """The pairing rules of docs/verdicts.md section 1 over ids and types in file order."""
    invoked: set[int] = set()
    done: set[int] = set()
    for o in ops:
        if o["type"] == "invoke":
            if o["id"] in invoked:
                return False
            invoked.add(o["id"])
        else:
            if o["id"] not in invoked or o["id"] in done:
                return False
            done.add(o["id"])
    return True


# -- applying a corruption ---------------------------------------------------------------


DEEP = "@@DEEP@@"
LITERAL = "@@LITERAL@@"


def _dump(name: str, doc: Any) -> str:
    return json.dumps(doc, indent=2) if name in JSON_FILES else json.dumps(doc)


@st.composite
def corruptions(draw: st.DrawFn, ws: Path, run: Path) -> Corruption:
    """Draw a corruption and apply it to the workspace ``ws`` (run folder ``run``)."""
    name = draw(st.sampled_from(ALL_FILES))
    path = (ws / name) if name in (SUMMARY, BENCH) else (run / name)
    raw = path.read_bytes()
    text = raw.decode()
    readers = readers_of(name)
    kinds = [
        "truncate",
        "empty",
        "delete",
        "garbage",
        "insert_nul",
        "bad_utf8",
        "folder",
        "symlink_loop",
        "dangling",
        "device",
        "oversize",
        "swap_lines",
        "duplicate_line",
        "drop_line",
    ]
    if name != SCENARIO:
        kinds += ["wrong_type", "free_value", "deep", "huge_number", "nonfinite", "bom"]
    else:
        kinds += ["deep"]
    kind = draw(st.sampled_from(kinds))
    c = Corruption(name, kind)

    def replace_file(make: Callable[[Path], None]) -> None:
        path.unlink()
        make(path)

    if kind == "truncate":
        k = draw(st.integers(0, max(len(raw) - 1, 0)))
        path.write_bytes(raw[:k])
        c.detail = f"at byte {k} of {len(raw)}"
        if name == HISTORY:
            c.must = readers if k < raw.index(b"\n") else frozenset()
        elif name in JSON_FILES:
            c.must = readers if k < len(raw.rstrip()) else frozenset()
    elif kind == "empty":
        path.write_bytes(b"")
        c.must = readers
    elif kind == "delete":
        path.unlink()
        c.must = readers & {"check"} if name != RESULT else frozenset()
        if name in (SUMMARY, BENCH):
            c.must = readers
    elif kind in ("garbage", "insert_nul", "bad_utf8"):
        junk = draw(st.binary(max_size=64)) + b"\x00" if kind != "bad_utf8" else b"\xff"
        if kind == "garbage":
            path.write_bytes(junk)
        else:
            k = draw(st.integers(0, max(len(raw) - 1, 0)))  # strictly inside: never a new
            path.write_bytes(raw[:k] + junk + raw[k:])  # torn last line of the history
            c.detail = f"{junk[:8]!r} at byte {k}"
        c.must = readers
    elif kind == "folder":
        replace_file(lambda p: p.mkdir())
        c.must = readers
    elif kind == "symlink_loop":
        replace_file(lambda p: p.symlink_to(p.name))
        c.must = readers
    elif kind == "dangling":
        replace_file(lambda p: p.symlink_to(p.name + ".gone"))
        c.must = readers
    elif kind == "device":
        replace_file(lambda p: p.symlink_to(draw(st.sampled_from(["/dev/zero", "/dev/null"]))))
        c.must = readers
    elif kind == "oversize":
        pad = b"\n" * draw(st.integers(1, 4096))
        path.write_bytes(raw + pad)
        c.env = {"WIBER_MAX_INPUT_MB": repr((len(raw) + len(pad) - 1) / (1 << 20))}
        c.must = readers
    elif kind in ("swap_lines", "duplicate_line", "drop_line"):
        _lines(draw, c, path, text, readers)
    elif kind == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + raw)
        c.must = readers
    else:
        _values(draw, c, path, text, readers)
    return c


def _lines(draw: st.DrawFn, c: Corruption, path: Path, text: str, readers: frozenset[str]) -> None:
    lines = text.split("\n")
    body = lines[:-1] if lines[-1] == "" else lines
    n = len(body)
    if n < 2:
        c.kind += " (skipped: one line)"
        return
    i = draw(st.integers(0, n - 1))
    if c.kind == "swap_lines":
        j = draw(st.integers(0, n - 1).filter(lambda j: j != i))
        i, j = min(i, j), max(i, j)
        new = [*body[:i], body[j], *body[i + 1 : j], body[i], *body[j + 1 :]]
        c.detail = f"lines {i + 1} and {j + 1}"
    elif c.kind == "duplicate_line":
        j = draw(st.integers(0, n))
        new = [*body[:j], body[i], *body[j:]]
        c.detail = f"line {i + 1} copied before line {j + 1}"
    else:
        new = body[:i] + body[i + 1 :]
        c.detail = f"line {i + 1}"
    path.write_text("\n".join(new) + "\n" * (len(lines) > n))
    if c.file != HISTORY:
        return
    ops = [json.loads(x) for x in body[1:]]
    if c.kind == "duplicate_line":
        c.must = readers
    elif c.kind == "drop_line":
        dropped = json.loads(body[i])
        c.must = (
            readers
            if i == 0
            or (
                dropped["type"] == "invoke"
                and any(o["id"] == dropped["id"] and o["type"] != "invoke" for o in ops)
            )
            else frozenset()
        )
    else:
        moved_header = i == 0
        c.must = (
            readers
            if moved_header or not pairing_ok([json.loads(x) for x in new[1:]])
            else frozenset()
        )


def _values(draw: st.DrawFn, c: Corruption, path: Path, text: str, readers: frozenset[str]) -> None:
    """wrong_type, free_value, deep, huge_number, nonfinite: on a JSON document, or one op
    line of the history, or (deep) the scenario's description."""
    if c.file == SCENARIO:  # deep: the description (a string) becomes nested lists
        if not any(x.startswith("description:") for x in text.split("\n")):
            c.kind += " (skipped: no description)"
            return
        d = draw(st.sampled_from([3, 70, 1100, 100_000]))
        lines = [
            f"description: {'[' * d}{']' * d}" if x.startswith("description:") else x
            for x in text.split("\n")
        ]
        path.write_text("\n".join(lines))
        c.detail = f"description nested {d} deep"
        c.must = readers  # the description must be a string
        return
    if c.file == HISTORY:
        lines = text.split("\n")
        n = draw(st.integers(0, len(lines) - 2))  # the header or an op line (last is "")
        doc = json.loads(lines[n])
        typed = list(typed_history_op(doc)) if n else [(("schema",), frozenset({"string"}))]
        where = f"line {n + 1} "
    else:
        doc = json.loads(text)
        typed = [(p, k) for p, k in TYPED[c.file](doc) if _present(doc, p)]
        where = ""
    typed_kinds = dict(typed)
    literal = ""
    if c.kind == "wrong_type":
        p, allowed = draw(st.sampled_from(typed))
        value, kind = draw(st.sampled_from([vk for vk in VALUES if vk[1] not in allowed]))
        put(doc, p, value)
        c.detail = f"{where}{_show(p)} = {value!r} ({kind}, not {'/'.join(sorted(allowed))})"
        c.must = readers
    elif c.kind == "free_value":
        p = draw(st.sampled_from(list(all_paths(doc))))
        value = draw(st.sampled_from(FREE_VALUES))
        put(doc, p, value)
        c.detail = f"{where}{_show(p)} = {value!r:.40}"
    elif c.kind == "deep":
        p = draw(st.sampled_from(list(all_paths(doc))))
        d = draw(st.sampled_from([2, 40, 63, 64, 65, 300, 1023, 1100, 100_000]))
        put(doc, p, DEEP)
        literal = "[" * d + "]" * d
        total = len(p) + d  # the containers around the value, plus the lists put there
        kinds_at = typed_kinds.get(p)
        too_deep = total > MAX_DEPTH
        c.must = (
            readers
            if too_deep or (kinds_at is not None and "list" not in kinds_at)
            else frozenset()
        )
        c.detail = f"{where}{_show(p)} nested {d} deep (total {total})"
    else:
        nums = numeric_paths(doc)
        if not nums:
            c.kind += " (skipped: no number)"
            return
        p = draw(st.sampled_from(nums))
        put(doc, p, LITERAL)
        if c.kind == "huge_number":
            digits = draw(st.sampled_from([19, 20, 30, 308, 310, 400]))
            literal = "9" * digits
            # beyond a double's range orjson refuses the number (below it, it is a float);
            # the history and the final reads hold no integer beyond 64 bits anywhere, and
            # 19 nines are already beyond
            here = typed_kinds.get(p)
            if c.file in LEAD_READERS:
                must = True
            elif c.file in (SUMMARY, BENCH):  # figures are bounded by 1e15
                must = digits > 308 or (here is not None and "number" in here)
            else:
                must = digits > 308
            c.must = readers if must else frozenset()
        else:
            literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]))
            c.must = readers
        c.detail = f"{where}{_show(p)} = {literal[:20]}"
    out = _dump(c.file, doc)
    out = out.replace(f'"{DEEP}"', literal).replace(f'"{LITERAL}"', literal)
    if c.file == HISTORY:
        lines[n] = out
        path.write_text("\n".join(lines))
    else:
        path.write_text(out)


def _show(p: Path_) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in p).lstrip(".")


def copy_run(src: Path, dst: Path) -> Path:
    """A run folder's four files (not ``cluster/``) copied to ``dst``."""
    dst.mkdir(parents=True)
    for name in RUN_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    return dst


def env_applied(env: dict[str, str]) -> Callable[[], None]:
    """Set ``env`` now; return the function that restores the environment."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)

    def restore() -> None:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore
