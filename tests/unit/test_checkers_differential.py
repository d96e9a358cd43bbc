"""Differential test: the fast checkers agree with the reference on every verdict and count.

For each generated case (:func:`tests.reference.generate.cases`) the history's
bytes go to a file; the fast path reads it with
:func:`wiber_harness.history.read_history` and judges it with
:func:`wiber_harness.checkers.check_all`, the reference
(:mod:`tests.reference.checker`) parses the same bytes and judges them its own
way. They must agree on "malformed" (``read_history`` raises ``CheckerError``
exactly when the reference finds a problem, on the same line), on the ops
read, and on the verdict and every count ``docs/verdicts.md`` defines for
delivery, ordering and redelivery.

The generator and the reference check themselves too: a mutation that surely
breaks a rule must be found on its line, and a valid shuffle of a history's
lines must not change the reference's verdicts and counts (unless the order
of attempts or faults decides something, see :func:`order_matters`).

``WIBER_DIFF_EXAMPLES`` sets the number of examples (default 400, about
15 s); ``WIBER_DIFF_EXAMPLES=10000`` for a long run. Each disagreement
hypothesis found is kept below as a named regression case.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from tests.reference import checker as ref
from tests.reference.generate import Case, cases
from wiber_harness.checkers import check_all
from wiber_harness.errors import CheckerError
from wiber_harness.history import Op, read_history
from wiber_harness.reads import FinalReads

EXAMPLES = int(os.environ.get("WIBER_DIFF_EXAMPLES", "400"))
settings.register_profile(
    "wiber-differential",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DIFF = settings.get_profile("wiber-differential")
CHECKED = ("delivery", "ordering", "redelivery")


def fast_line(message: str, path: Path) -> int:
    """The line a fast ``CheckerError`` names (``FILE:LINE: ...``); 1 when it names none
    (an empty file has no line)."""
    m = re.match(re.escape(str(path)) + r":(\d+):", message)
    return int(m.group(1)) if m else 1


def same_ops(a: list[Op], b: list[Op]) -> bool:
    return [(o.id, o.type, o.f, o.process, o.time, o.value) for o in a] == [
        (o.id, o.type, o.f, o.process, o.time, o.value) for o in b
    ]


def disagreements(raw: bytes, reads: FinalReads) -> list[str]:
    """Every way the fast path and the reference disagree on one case (empty: none)."""
    parsed = ref.parse_history(raw)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "history.jsonl"
        path.write_bytes(raw)
        try:
            fast_ops: list[Op] | None = read_history(path)[1]
            error = None
        except CheckerError as e:
            fast_ops, error = None, str(e)
    if isinstance(parsed, ref.Problem):
        if error is None:
            return [f"reference: malformed, line {parsed.line}: {parsed.what}; fast read it"]
        if fast_line(error, path) != parsed.line:
            return [f"reference: malformed, line {parsed.line}: {parsed.what}; fast: {error}"]
        return []
    if error is not None or fast_ops is None:
        return [f"reference: well-formed; fast: {error}"]
    if not same_ops(parsed, fast_ops):
        return ["both read the history, but not the same ops"]
    mine = ref.check_all(parsed, reads)
    theirs = check_all(fast_ops, copy.deepcopy(reads), CHECKED)
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
    for two keys (its owner is the first attempt), attempts of one key that name
    different conversations or senders (the first attempt's count), or a heal
    written before its fault's inject (a crash window pairs them in file order)."""
    parsed = ref.parse_history(raw)
    assert not isinstance(parsed, ref.Problem)
    run = ref.Run(parsed, FinalReads())
    owners: dict[str, set[str]] = {}
    for a in run.attempts:
        if a.message_id is not None:
            owners.setdefault(a.message_id, set()).add(a.key)
    if any(len(keys) > 1 for keys in owners.values()):
        return True
    for k in run.keys:
        firsts = {
            (a.invoke.value.get("conversation"), a.invoke.value.get("sender"))
            for a in run.attempts_of(k)
        }
        if len(firsts) > 1:
            return True
    seen: set[Any] = set()
    for op in parsed:
        if op.process == "nemesis" and op.type == "invoke":
            if op.f == "heal" and op.value.get("fault") not in seen:
                return True
            seen.add(op.value.get("fault"))
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
    if case.shuffled and case.original is not None and not order_matters(case.original):
        before = ref.parse_history(case.original)
        assert not isinstance(before, ref.Problem) and not isinstance(parsed, ref.Problem)
        assert ref.check_all(before, case.reads) == ref.check_all(parsed, case.reads)


def check_case(case: Case) -> None:
    """The self-checks, then the differential comparison."""
    self_check(case)
    problems = disagreements(case.raw, case.reads)
    assert not problems, "\n".join(problems)


@settings(DIFF, max_examples=max(EXAMPLES // 4, 50))
@given(cases())
def test_the_reference_finds_what_was_planted(case: Case) -> None:
    self_check(case)


@DIFF
@given(cases())
def test_fast_checkers_agree_with_the_reference(case: Case) -> None:
    check_case(case)


@settings(DIFF, max_examples=max(EXAMPLES // 4, 50))
@given(cases(("shuffle", "bad-shuffle")))
def test_shuffled_lines_keep_the_verdict_or_are_malformed(case: Case) -> None:
    check_case(case)


def test_vacuous_runs() -> None:
    """No ops, nothing acknowledged, no read: delivery and ordering are unknown."""
    header = b'{"schema":"wiber-history/1"}\n'
    for reads in (FinalReads(), FinalReads(api={"a:b": []})):
        assert not disagreements(header, reads)
        out = ref.check_all(ref.parse_history(header), reads)  # type: ignore[arg-type]
        assert out["delivery"].valid == "unknown"
        assert out["ordering"].valid == "unknown"
        assert out["redelivery"].valid is True
