"""The judge: a run's history and final reads in, its verdict and result.json out.

:func:`judge_run` runs the checkers (:mod:`wiber_harness.checkers`) over
one shared :class:`~wiber_harness.checkers.analysis.Analysis`, adds the
fault evidence (a fault that did not take effect makes the run "unknown")
and the metrics, lets the scenario's ``expect`` decide
(:func:`wiber_harness.scenario.expect.judge`) and writes ``result.json``.
:func:`check_run` does the same offline from a stored run folder. Exit
codes: 0 valid, 1 a promise broken (or an unsafe scenario that failed to
break one), 2 the harness could not decide.

This module imports nothing that starts or talks to a stack, so ``check``
stays light.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from wiber_harness import __version__
from wiber_harness.checkers import CheckResult, check_all
from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import Validity, merge_validity
from wiber_harness.columns import History, reading_history
from wiber_harness.errors import CheckerError, HarnessError, InvalidScenario
from wiber_harness.faults.evidence import fault_evidence
from wiber_harness.history import Op
from wiber_harness.inputs import check_file, load_json, too_deep
from wiber_harness.memory import gc_paused
from wiber_harness.metrics import summary, threshold_metrics
from wiber_harness.reads import FinalReads
from wiber_harness.scenario import Scenario, load_scenario
from wiber_harness.verdict import EXIT_CODES as EXIT
from wiber_harness.wellformed import Malformed, validate_ops

RESULT_SCHEMA = "wiber-result/1"


@dataclass
class RunResult:
    run_dir: Path
    scenario: str
    verdict: Validity
    reasons: list[str]
    checks: dict[str, dict[str, Any]]
    metrics: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]


def judge_run(
    scenario: Scenario,
    ops: list[Op] | History,
    reads: FinalReads,
    run_dir: Path,
    env: dict[str, Any] | None = None,
) -> RunResult:
    """Checkers + fault evidence + metrics + expectations -> verdict; writes result.json.

    ``ops`` is the run's history as ops (checked here against the rules of
    :mod:`wiber_harness.wellformed`) or as a :class:`History` (already checked
    by its reader).
    """
    reasons: list[str] = []
    if not isinstance(ops, History):
        try:
            validate_ops(ops)
        except Malformed as e:
            raise CheckerError(
                f"{run_dir}: the history is malformed ({e}); this is a harness bug, please "
                "report it"
            ) from None
        ops = History.from_ops(ops)
    try:
        an = Analysis(ops, reads)
        checks = check_all(ops, reads, analysis=an)
        summ = summary(ops, reads, analysis=an)
        metrics = threshold_metrics(checks, summ)
    except HarnessError as e:
        raise CheckerError(f"{run_dir}: the checkers could not run ({e})") from e
    nemesis = ops.nemesis
    faults_ok, fault_problems = fault_evidence(nemesis)
    checks["faults"] = CheckResult(
        name="faults",
        valid=True if faults_ok else "unknown",
        counts={
            "faults": sum(1 for o in nemesis if o.type != "invoke"),
            "without_evidence": len(fault_problems),
        },
        examples={"without_evidence": fault_problems[:5]} if fault_problems else {},
    )
    # a checker that did not say valid may say why in one sentence: its shortfall ends with it
    causes = {
        k: v.details["cause"]
        for k, v in checks.items()
        if v.valid is not True and isinstance(v.details.get("cause"), str)
    }
    verdict, why = scenario.expect.judge(
        {k: v.valid for k, v in checks.items() if k != "faults"}, metrics, causes
    )
    reasons += why
    reasons += list(scenario.notes or ())  # what --quick changed to keep a fault's meaning
    if not faults_ok:
        reasons += [f"fault without evidence: {p}" for p in fault_problems]
        found = any(v.valid is False for k, v in checks.items() if k != "faults")
        if found:
            pass  # a violation found anyway stands (and proves an unsafe setup unsafe)
        elif scenario.expect.violation:
            # an unsafe setup must break a promise under its fault; the fault did not
            # happen, so "no violation" proves nothing either way
            verdict = "unknown"
        else:
            verdict = merge_validity([verdict, "unknown"])  # the run proves nothing
    result = RunResult(
        run_dir,
        scenario.name,
        verdict,
        reasons,
        {k: v.to_dict() for k, v in checks.items()},
        {"thresholds": metrics, "summary": summ},
    )
    _write_result(result, scenario, env or {})
    return result


def _write_result(r: RunResult, scenario: Scenario, env: dict[str, Any]) -> None:
    doc = {
        "schema": RESULT_SCHEMA,
        "scenario": r.scenario,
        "description": scenario.description,
        "verdict": r.verdict,
        "exit_code": r.exit_code,
        "reasons": r.reasons,
        "expect": {
            "valid": list(scenario.expect.valid),
            "violation": scenario.expect.violation,
            "thresholds": {k: str(v) for k, v in scenario.expect.thresholds.items()},
        },
        "checks": r.checks,
        "metrics": r.metrics,
        "seed": scenario.workload.seed,
        "backend": env.get("backend"),
        "env": env,
        "versions": {"wiber_harness": __version__, "python": platform.python_version()},
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "system": platform.system(),
        },
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    path = r.run_dir / "result.json"
    try:
        path.write_bytes(
            orjson.dumps(
                doc,
                option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                default=_default,
            )
        )
    except orjson.JSONEncodeError as e:
        raise CheckerError(
            f"{path}: cannot write the result ({e}); a value in the history or final reads "
            "nests too deep to be written back, so restore those files"
        ) from None
    except OSError as e:
        raise CheckerError(
            f"{path}: cannot write the result ({e.strerror}); make the run folder writable "
            "(and result.json a file)"
        ) from None


def _default(o: Any) -> Any:
    if isinstance(o, float):
        return None
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


# the helper's share of a large history when this process decodes the final reads
# meanwhile (measured on 1M ops: both processes then finish at about the same time)
OVERLAPPED_SHARE = 0.65


def check_run(run_dir: Path) -> RunResult:
    """Re-check a stored run folder offline (writes result.json again).

    Every file is checked before it is read (:mod:`wiber_harness.inputs`: a regular
    file within its size limit); anything unreadable or malformed raises a
    :class:`~wiber_harness.errors.HarnessError` whose message is one sentence naming
    the file and the line or field. A ``result.json`` already there only lends its
    ``env``; an unreadable one is ignored, since it is rewritten.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "a file" if run_dir.is_file() else "no such folder"
        raise CheckerError(
            f"{run_dir}: {what}, not a run folder; pass a folder a run wrote "
            "(reports/runs/<time>-<scenario>)"
        )
    run_dir = run_dir.resolve()
    fix = "re-run the scenario (or restore the file)"
    for name, kind in _RUN_FILES:
        path = run_dir / name
        if not (path.exists() or path.is_symlink()):
            raise CheckerError(
                f"{run_dir}: no {name}; is this a run folder (reports/runs/<time>-<scenario>)?"
            )
        check_file(path, kind, fix)
    try:
        scenario = load_scenario(run_dir / "scenario.yaml")
    except InvalidScenario as e:  # PyYAML's own messages span lines: make it one
        raise InvalidScenario(" ".join(str(e).split())) from None
    except RecursionError:
        raise CheckerError(
            f"{run_dir / 'scenario.yaml'}: nested too deep to read (thousands of levels); {fix}"
        ) from None
    with gc_paused():
        return _check_files(run_dir, scenario, fix)


def _check_files(run_dir: Path, scenario: Scenario, fix: str) -> RunResult:
    """The history and the final reads read, then judged. A large history's later
    part is read by a helper process meanwhile the final reads are decoded here;
    the history's own errors still come first."""
    with reading_history(run_dir / "history.jsonl", helper_share=OVERLAPPED_SHARE) as pending:
        reads_error: HarnessError | None = None
        try:
            reads = FinalReads.load(run_dir / "final_reads.json")
        except RecursionError:
            reads_error = too_deep(run_dir / "final_reads.json", fix)
        except HarnessError as e:
            reads_error = e
        try:
            history = pending.result()
        except RecursionError:
            raise too_deep(run_dir / "history.jsonl", fix) from None
    if reads_error is not None:
        raise reads_error
    return judge_run(scenario, history, reads, run_dir, _old_env(run_dir / "result.json"))


_RUN_FILES = (
    ("scenario.yaml", "scenario"),
    ("history.jsonl", "history"),
    ("final_reads.json", "final reads"),
)


def _old_env(path: Path) -> dict[str, Any]:
    """The ``env`` of an earlier result.json, or {} when there is none to be had."""
    if not path.is_file():
        return {}
    with contextlib.suppress(HarnessError):
        doc = load_json(path, "result", "")
        env = doc.get("env") if isinstance(doc, dict) else None
        if isinstance(env, dict):
            return dict(env)
    return {}


__all__ = ["EXIT", "RESULT_SCHEMA", "RunResult", "check_run", "judge_run"]
