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

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings

from tests.reference import checker as ref
from tests.reference.generate import Case, cases
from tests.reference.mutate import MUTATION_WEIGHTS
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
# mutations whose disagreement is a known, documented spec-or-fast issue: kept out of
# the random run, pinned by a strict xfail below until the issue is settled
KNOWN = {"null-field": "test_known_disagreement_null_where_the_spec_names_a_type"}
AGREED = tuple(m for m in MUTATION_WEIGHTS if m not in KNOWN)
ANOMALIES = frozenset(
    {
        *ref.DELIVERY_BAD,
        *("recovered", "id_mismatch", "duplicated_keys", "position_checked"),
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
    for name, result in mine.items():  # what the case exercised (--hypothesis-show-statistics)
        if currently_in_test_context():
            event(f"{name}: valid={result.valid}")
            for count in sorted(c for c, v in result.counts.items() if v and c in ANOMALIES):
                event(f"{name}.{count} > 0")
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
    for two keys (its owner is the first attempt), or attempts of one key that name
    different conversations or senders (the first attempt's count)."""
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


@settings(DIFF, max_examples=max(EXAMPLES // 4, 50))
@given(cases(AGREED))
def test_the_reference_finds_what_was_planted(case: Case) -> None:
    self_check(case)


@DIFF
@given(cases(AGREED))
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


# ---------------------------------------------------------------- regression cases
# Each disagreement hypothesis found, as its minimal case.

HEADER = b'{"schema":"wiber-history/1"}'
FP = (
    b'"value":{"fault":"f0","kind":"failpoint","params":'
    b'{"name":"consumer.after_store_before_commit","action":"crash"}}}'
)
INJECT = b'{"id":1,"type":"invoke","f":"inject","process":"nemesis","time":0,' + FP
INJECTED = b'{"id":1,"type":"ok","f":"inject","process":"nemesis","time":1,' + FP
HEAL = (
    b'{"id":2,"type":"invoke","f":"heal","process":"nemesis","time":2,'
    b'"value":{"fault":"f0","kind":"failpoint"}}'
)
HEALED = (
    b'{"id":2,"type":"ok","f":"heal","process":"nemesis","time":3,"value":{"fault":"f0",'
    b'"kind":"failpoint","evidence":{"nodes":{"consumer-1":{"crashed":true}}}}}'
)


def history(*lines: bytes) -> bytes:
    return b"\n".join([HEADER, *lines]) + b"\n"


def test_regression_a_crash_window_without_a_delivery_log_is_unknown() -> None:
    """Found: the reference counted the window missing (False), the fast said unknown
    with missing_redelivery 0. Spec issue (section 5 is contradictory as written);
    the reference now follows the stated intent, "nothing to judge by"."""
    raw = history(INJECT, INJECTED, HEAL, HEALED)
    assert not disagreements(raw, FinalReads())
    result = ref.check_redelivery(ref.parse_history(raw), FinalReads())  # type: ignore[arg-type]
    assert result.valid == "unknown" and result.counts["missing_redelivery"] == 0


def test_regression_a_heal_written_before_its_inject_still_closes_the_window() -> None:
    """Found by a valid shuffle: the reference paired a heal only after its inject,
    the fast pairs by fault id. The spec does not say; file order must not decide."""
    raw = history(HEAL, HEALED, INJECT, INJECTED)
    assert not disagreements(raw, FinalReads())
    result = ref.check_redelivery(ref.parse_history(raw), FinalReads())  # type: ignore[arg-type]
    assert result.counts["crash_windows"] == 1


SEND = b'{"id":1,"type":"invoke","f":"send","process":"client-a","time":0,"value":{"key":"k"'
NULLS = {
    "value": [b'{"id":1,"type":"invoke","f":"heal","process":"client-a","time":0,"value":null}'],
    "conversation": [SEND + b',"conversation":null}}'],
    "retry_of": [SEND + b',"retry_of":null}}'],
    "seq": [SEND + b',"seq":null}}'],
    "intended": [SEND + b',"intended":null}}'],
    "error": [
        SEND + b"}}",
        b'{"id":1,"type":"info","f":"send","process":"client-a","time":1,"value":{"error":null}}',
    ],
}


@pytest.mark.xfail(
    strict=True,
    reason="spec or fast issue: section 1 names a type without 'or null' (value: object; "
    "conversation, from, to, sender, retry_of: strings; seq: integer; intended: a number; "
    "error: string) and the reference reads null there as malformed; the fast "
    "(wellformed.py) counts null as absent. Settle one way, then drop this xfail.",
)
@pytest.mark.parametrize("field", sorted(NULLS))
def test_known_disagreement_null_where_the_spec_names_a_type(field: str) -> None:
    assert not disagreements(history(*NULLS[field]), FinalReads())
