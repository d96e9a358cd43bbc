"""``summary.json``: the machine-readable digest of a set of runs.

Schema ``wiber-summary/1`` (a consumer must check ``schema``; a field is
only ever added within a major version, never renamed or removed)::

    {
      "schema": "wiber-summary/1",
      "title": str, "generated_at": ISO-8601 UTC, "harness_version": str,
      "verdict": true | false | "unknown",       # merge over scenarios
      "exit_code": 0 | 1 | 2,                    # as for `run`
      "counts": {"scenarios", "runs", "valid", "violation", "unknown"},  # per scenario
      "metric_names": [KEY_METRICS...],
      "scenarios": {                              # by scenario name, sorted
        NAME: {
          "verdict", "exit_code", "runs": N, "run_ids": [...],
          "description", "expect_violation": bool,
          "reasons": [str, ...],                  # "<run id>: <reason>" with repeats
          "checks": {CHECKER: true | false | "unknown"},   # merged over runs
          "counts": {sent, acknowledged, failed, indeterminate, stored},  # median
          "metrics": {KEY_METRIC: median over runs, or the maximum for the
                      promise counts lost, duplicated, unexpected,
                      ordering_violations (one bad repeat must not be voted
                      away); null when no run measured it}
        }
      },
      "runs": [                                   # every run, in input order
        {"id", "scenario", "path", "verdict", "exit_code", "reasons",
         "expect_violation", "seed", "backend",
         "checks": {CHECKER: {"valid", "counts", "error"}},
         "counts": {...}, "metrics": {KEY_METRIC: value or null},
         "fault_windows": [{fault, kind, target, start_s, end_s, ...}]}
      ]
    }

Key metrics (:data:`KEY_METRICS`, from result.json's threshold metrics and
summary): ``throughput`` (acknowledged sends/s over the run), ``ack_p50_ms``
/ ``ack_p99_ms`` (acknowledgement latency from the intended send time),
``e2e_p50_ms`` / ``e2e_p99_ms`` (intended send time to stored),
``error_rate`` (worst fault window's (fail + info) / sent, or the whole
run's without faults), ``recovery_s`` (slowest heal-to-next-ack),
``max_gap_s`` (longest stretch without an ack), ``convergence_s``, and the
promise counts ``lost``, ``duplicated``, ``unexpected``,
``ordering_violations``. A figure that was not measured, or is infinite
(a window that never recovered), is ``null``: JSON has no infinity and a
gate must not compare it as a number.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from wiber_harness import __version__
from wiber_harness.checkers.base import Validity, merge_validity
from wiber_harness.inputs import load_json
from wiber_harness.report.doc_checks import check_summary
from wiber_harness.report.runs import ReportError, RunData
from wiber_harness.verdict import exit_code

SUMMARY_SCHEMA = "wiber-summary/1"
SUMMARY_FILE = "summary.json"
KEY_METRICS: tuple[str, ...] = (
    "throughput",
    "ack_p50_ms",
    "ack_p99_ms",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "error_rate",
    "recovery_s",
    "max_gap_s",
    "convergence_s",
    "lost",
    "duplicated",
    "unexpected",
    "ordering_violations",
)
COUNT_NAMES: tuple[str, ...] = ("sent", "acknowledged", "failed", "indeterminate", "stored")
PROMISE_COUNTS: tuple[str, ...] = ("lost", "duplicated")
# aggregated over repeats by their maximum, not their median
WORST_OF: frozenset[str] = frozenset({"lost", "duplicated", "unexpected", "ordering_violations"})


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def run_metrics(run: RunData) -> dict[str, float | None]:
    """The key metrics of one run (None where unknown)."""
    th = run.thresholds
    return {name: _number(th.get(name)) for name in KEY_METRICS}


def run_entry(run: RunData) -> dict[str, Any]:
    r = run.result
    counts = run.summary.get("counts") or {}
    return {
        "id": run.run_id,
        "scenario": run.scenario,
        "path": str(run.path),
        "verdict": run.verdict,
        "exit_code": exit_code(run.verdict),
        "reasons": [str(x) for x in r.get("reasons") or []],
        "expect_violation": run.expect_violation,
        "seed": r.get("seed"),
        "backend": r.get("backend"),
        "checks": {
            name: {
                "valid": c.get("valid", "unknown"),
                "counts": dict(c.get("counts") or {}),
                "error": c.get("error"),
            }
            for name, c in run.checks.items()
        },
        "counts": {k: counts.get(k) for k in COUNT_NAMES},
        "metrics": run_metrics(run),
        "fault_windows": list(run.summary.get("fault_windows") or []),
    }


def _median(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return round(float(v.median()), 6) if len(v) else None


def _worst(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.max()) if len(v) else None


def scenario_entries(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per scenario: merged verdicts, medians over its runs (repeats)."""
    out: dict[str, dict[str, Any]] = {}
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(str(r["scenario"]), []).append(r)
    for name in sorted(by):
        group = by[name]
        verdict = merge_validity([r["verdict"] for r in group])
        metrics = pd.DataFrame([r["metrics"] for r in group], columns=list(KEY_METRICS))
        counts = pd.DataFrame([r["counts"] for r in group], columns=list(COUNT_NAMES))
        checkers: dict[str, list[Validity]] = {}
        for r in group:
            for c, v in r["checks"].items():
                checkers.setdefault(c, []).append(v["valid"])
        prefix = len(group) > 1
        out[name] = {
            "verdict": verdict,
            "exit_code": exit_code(verdict),
            "runs": len(group),
            "run_ids": [r["id"] for r in group],
            "description": next((r.get("description") for r in group if r.get("description")), ""),
            "expect_violation": any(r["expect_violation"] for r in group),
            "reasons": [f"{r['id']}: {x}" if prefix else x for r in group for x in r["reasons"]],
            "checks": {c: merge_validity(vs) for c, vs in checkers.items()},
            "counts": {k: _median(counts[k]) for k in COUNT_NAMES},
            "metrics": {k: (_worst if k in WORST_OF else _median)(metrics[k]) for k in KEY_METRICS},
        }
    return out


def build_summary(runs: Sequence[RunData], *, title: str = "Wiber suite") -> dict[str, Any]:
    """The ``wiber-summary/1`` document of a set of loaded runs."""
    entries = []
    for run in runs:
        e = run_entry(run)
        e["description"] = run.result.get("description") or ""
        entries.append(e)
    scenarios = scenario_entries(entries)
    for e in entries:
        e.pop("description")
    verdicts = [s["verdict"] for s in scenarios.values()]
    verdict = merge_validity(verdicts) if verdicts else "unknown"
    return {
        "schema": SUMMARY_SCHEMA,
        "title": title,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "verdict": verdict,
        "exit_code": exit_code(verdict),
        "counts": {
            "scenarios": len(scenarios),
            "runs": len(entries),
            "valid": sum(1 for v in verdicts if v is True),
            "violation": sum(1 for v in verdicts if v is False),
            "unknown": sum(1 for v in verdicts if v == "unknown"),
        },
        "metric_names": list(KEY_METRICS),
        "scenarios": scenarios,
        "runs": entries,
    }


def write_summary(doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n")


def load_summary(path: Path) -> dict[str, Any]:
    """Read and validate a summary.json; :class:`ReportError` says what is wrong and how to
    fix it."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        raise ReportError(
            f"{path}: no such file; run `wiber-harness report RUN_DIR... --out DIR` to write one"
        )
    fix = "write it again with `wiber-harness report`"
    doc = load_json(path, "summary", fix)
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != SUMMARY_SCHEMA:
        raise ReportError(
            f"{path}: schema {schema!r:.60} is not {SUMMARY_SCHEMA!r}; write it again "
            "with this harness's `wiber-harness report`"
        )
    try:
        check_summary(doc)
    except ValueError as e:
        raise ReportError(f"{path}: {e}; {fix}") from None
    return dict(doc)


__all__ = [
    "COUNT_NAMES",
    "KEY_METRICS",
    "PROMISE_COUNTS",
    "SUMMARY_FILE",
    "SUMMARY_SCHEMA",
    "WORST_OF",
    "build_summary",
    "load_summary",
    "run_entry",
    "run_metrics",
    "scenario_entries",
    "write_summary",
]
