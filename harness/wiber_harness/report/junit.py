"""``junit.xml``: one ``<testcase>`` per scenario, for CI test views.

Mapping (a scenario's runs are its repeats, merged as verdicts are: a
violation beats unknown beats valid):

* valid: a passing testcase;
* violation: one ``<failure>`` per broken promise of every violating run:
  ``message`` is the run's reason sentence (prefixed with the run id when
  the scenario ran more than once), ``type`` is ``violation`` for a checker
  and ``threshold`` for a missed metric bound, and the text is the checker's
  summary (verdict, non-zero counts, examples of each anomaly) or the
  measured figure. Several ``<failure>`` elements in one testcase are what
  Jenkins, GitLab and the common GitHub JUnit actions read; a strict
  single-failure consumer shows the first;
* unknown (and nothing violated): one ``<error type="unknown">``: the
  harness could not decide, which is neither a pass nor a broken promise,
  and an error is how JUnit says "the test itself could not run".
  ``<skipped>`` was rejected: CI would show it as harmless.

``<system-out>`` carries each run's folder and key figures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wiber_harness.checkers.base import merge_validity
from wiber_harness.report.runs import RunData
from wiber_harness.report.views import FIGURES, checker_summary, fmt

CLASSNAME = "wiber.scenarios"


def _failure_for(run: RunData, reason: str, prefix: str) -> ET.Element:
    checks = run.checks
    checker = next((c for c in checks if reason.startswith(f"{c} ")), None)
    metric = reason.split(" ", 1)[0]
    el = ET.Element(
        "failure", {"message": prefix + reason, "type": "violation" if checker else "threshold"}
    )
    if checker is not None:
        el.text = checker_summary({"name": checker, **checks[checker]})
    else:
        value = run.thresholds.get(metric)
        el.text = f"{reason}\nmeasured {metric} = {value}" if metric in run.thresholds else reason
    return el


def _figures(run: RunData) -> str:
    th = run.thresholds
    figs = ", ".join(
        f"{label}={fmt(th.get(key), digits, unit)}{' ' + unit if unit not in ('', '%') else ''}"
        for key, label, unit, digits in FIGURES
    )
    return f"{run.run_id}: {run.path}\n  {figs}"


def testcase(scenario: str, runs: Sequence[RunData]) -> ET.Element:
    verdict = merge_validity([r.verdict for r in runs])
    time = sum(float(r.summary.get("duration_s") or 0.0) for r in runs)
    case = ET.Element("testcase", {"classname": CLASSNAME, "name": scenario, "time": f"{time:.3f}"})
    many = len(runs) > 1
    if verdict is False:
        for r in runs:
            if r.verdict is not False:
                continue
            prefix = f"{r.run_id}: " if many else ""
            reasons = [str(x) for x in r.result.get("reasons") or []] or [
                "the run's verdict is a violation"
            ]
            for reason in reasons:
                case.append(_failure_for(r, reason, prefix))
    elif verdict == "unknown":
        why = [
            f"{r.run_id}: {x}" if many else str(x)
            for r in runs
            if r.verdict == "unknown"
            for x in (r.result.get("reasons") or [])
        ]
        err = ET.SubElement(
            case,
            "error",
            {
                "type": "unknown",
                "message": "the harness could not decide: "
                + ("; ".join(why) or "no reason recorded"),
            },
        )
        err.text = "\n".join(
            checker_summary({"name": n, **c})
            for r in runs
            for n, c in r.checks.items()
            if c.get("valid") == "unknown"
        )
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(_figures(r) for r in runs)
    return case


def junit_tree(runs: Sequence[RunData], title: str) -> ET.ElementTree:
    by: dict[str, list[RunData]] = {}
    for r in runs:
        by.setdefault(r.scenario, []).append(r)
    cases = [testcase(name, by[name]) for name in sorted(by)]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    time = sum(float(c.get("time", "0")) for c in cases)
    attrs: Mapping[str, Any] = {
        "name": title,
        "tests": len(cases),
        "failures": failures,
        "errors": errors,
        "skipped": 0,
        "time": f"{time:.3f}",
    }
    root = ET.Element("testsuites", {k: str(v) for k, v in attrs.items()})
    suite = ET.SubElement(root, "testsuite", {k: str(v) for k, v in attrs.items()})
    suite.extend(cases)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(runs: Sequence[RunData], path: Path, title: str) -> None:
    junit_tree(runs, title).write(path, encoding="utf-8", xml_declaration=True)


__all__ = ["CLASSNAME", "junit_tree", "testcase", "write_junit"]
