"""The differential comparison: fast checkers against the reference, on one case.

:func:`disagreements` writes a history's bytes to a file, reads it with both
fast readers (:func:`wiber_harness.history.read_history`, the line-by-line
authority, and :func:`wiber_harness.columns.read_history_columns`, the columnar
reader ``check`` uses) and judges each with
:func:`wiber_harness.checkers.check_all`; the reference
(:mod:`tests.reference.checker`) parses the same bytes and judges them its own
way. It lists every difference: "malformed" or not (and on which line), the ops
read, and the verdict and every count ``docs/verdicts.md`` defines for
delivery, ordering and redelivery. An empty list means they agree.

:func:`self_check` holds the generator and the reference to their own promises
(a planted problem is found on its line; a valid shuffle of the lines keeps
the reference's verdicts and counts unless :func:`order_matters`).
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

from hypothesis import currently_in_test_context, event

from tests.reference import checker as ref
from tests.reference.mutate import Case
from wiber_harness.checkers import check_all
from wiber_harness.columns import History, read_history_columns
from wiber_harness.errors import CheckerError
from wiber_harness.history import Op, read_history
from wiber_harness.reads import FinalReads

CHECKED = ("delivery", "ordering", "redelivery")
ANOMALIES = frozenset(
    {
        *ref.DELIVERY_BAD,
        *("recovered", "id_mismatch", "duplicated_keys", "by_tag"),
        *("position_checked", "position_later_copy"),
        *("unpositioned", "realtime_violations", "sender_order", "conversations_unknown"),
        *("redelivered", "crash_windows", "missing_redelivery"),
    }
)


def fast_line(message: str, path: Path) -> int:
    """The line a fast ``CheckerError`` names (``FILE:LINE: ...``); 1 when it names none
    (an empty file has no line)."""
    m = re.match(re.escape(str(path)) + r":(\d+):", message)
    return int(m.group(1)) if m else 1


def same_ops(a: list[Op], b: list[Op]) -> bool:
    return [(o.id, o.type, o.f, o.process, o.time, o.value) for o in a] == [
        (o.id, o.type, o.f, o.process, o.time, o.value) for o in b
    ]


def fast_reads(path: Path) -> dict[str, list[Op] | History | str]:
    """The history through both fast readers: the line-by-line ``read_history`` (the
    authority) and ``read_history_columns`` (what ``check`` uses); an error message
    where one raised ``CheckerError``."""
    out: dict[str, list[Op] | History | str] = {}
    try:
        out["read_history"] = read_history(path)[1]
    except CheckerError as e:
        out["read_history"] = str(e)
    try:
        out["columns"] = read_history_columns(path)
    except CheckerError as e:
        out["columns"] = str(e)
    return out


def disagreements(raw: bytes, reads: FinalReads) -> list[str]:
    """Every way a fast path and the reference disagree on one case (empty: none)."""
    parsed = ref.parse_history(raw)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "history.jsonl"
        path.write_bytes(raw)
        fast = fast_reads(path)
    out: list[str] = []
    for reader, got in fast.items():
        out += [f"[{reader}] {x}" for x in _judged(parsed, got, path, reads)]
    return out


def _judged(
    parsed: list[Op] | ref.Problem, got: list[Op] | History | str, path: Path, reads: FinalReads
) -> list[str]:
    if isinstance(parsed, ref.Problem):
        if not isinstance(got, str):
            return [f"reference: malformed, line {parsed.line}: {parsed.what}; fast read it"]
        if fast_line(got, path) != parsed.line:
            return [f"reference: malformed, line {parsed.line}: {parsed.what}; fast: {got}"]
        return []
    if isinstance(got, str):
        return [f"reference: well-formed; fast: {got}"]
    if isinstance(got, list) and not same_ops(parsed, got):
        return ["both read the history, but not the same ops"]
    mine = ref.check_all(parsed, reads)
    for name, result in mine.items():  # what the case exercised (--hypothesis-show-statistics)
        if currently_in_test_context():
            event(f"{name}: valid={result.valid}")
            for count in sorted(c for c, v in result.counts.items() if v and c in ANOMALIES):
                event(f"{name}.{count} > 0")
    theirs = check_all(got, copy.deepcopy(reads), CHECKED)
    out = []
    for name in CHECKED:
        r, f = mine[name], theirs[name]
        if f.error is not None:
            out.append(f"{name}: fast crashed: {f.error}")
        if r.valid != f.valid:
            out.append(f"{name}: valid reference={r.valid!r} fast={f.valid!r}")
        for count, value in r.counts.items():
            if f.counts.get(count) != value:
                out.append(f"{name}.{count}: reference={value} fast={f.counts.get(count)}")
    return out


def order_matters(raw: bytes) -> bool:
    """Whether the file order of lines may decide a verdict: a messageId returned
    for two keys (its owner is the first attempt), a tag carried by two keys (its
    tag owner is the first attempt), or attempts of one key that name different
    conversations or senders (the first attempt's count)."""
    parsed = ref.parse_history(raw)
    assert not isinstance(parsed, ref.Problem)
    run = ref.Run(parsed, FinalReads())
    owners: dict[str, set[str]] = {}
    for a in run.attempts:
        if a.message_id is not None:
            owners.setdefault(a.message_id, set()).add(a.key)
    if any(len(keys) > 1 for keys in owners.values()):
        return True
    tagged: dict[str, set[str]] = {}
    for a in run.attempts:
        if a.invoke.value.get("tag") is not None:
            tagged.setdefault(a.invoke.value["tag"], set()).add(a.key)
    if any(len(keys) > 1 for keys in tagged.values()):
        return True
    for k in run.keys:
        firsts = {
            (a.invoke.value.get("conversation"), a.invoke.value.get("sender"))
            for a in run.attempts_of(k)
        }
        if len(firsts) > 1:
            return True
    return False


def self_check(case: Case) -> None:
    """The generator's and the reference's own promises (no fast checker involved)."""
    parsed = ref.parse_history(case.raw)
    if case.expect_line is None:
        assert not isinstance(parsed, ref.Problem), f"reference: {parsed}"
    elif case.expect_line > 0:
        assert isinstance(parsed, ref.Problem), "reference: a planted problem went unseen"
        assert parsed.line == case.expect_line, (
            f"reference: {parsed}, planted at {case.expect_line}"
        )
    if (
        case.shuffled
        and case.original is not None
        and not (order_matters(case.original) or order_matters(case.raw))
    ):
        before = ref.parse_history(case.original)
        assert not isinstance(before, ref.Problem) and not isinstance(parsed, ref.Problem)
        assert ref.check_all(before, case.reads) == ref.check_all(parsed, case.reads)


def check_case(case: Case) -> None:
    """The self-checks, then the differential comparison."""
    self_check(case)
    problems = disagreements(case.raw, case.reads)
    assert not problems, "\n".join(problems)


__all__ = ["CHECKED", "check_case", "disagreements", "order_matters", "self_check"]
