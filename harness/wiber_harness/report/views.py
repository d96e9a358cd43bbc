"""What the HTML and Markdown reports show, as plain data (no markup here).

Verdict words: ``valid`` (every promise the scenario expects held, or an
unsafe scenario broke the promise it must break), ``violation`` (a promise
broken, a threshold missed, or an unsafe scenario that failed to break
one), ``unknown`` (the harness could not decide: a checker crashed, a fault
left no evidence, a run was never judged).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from wiber_harness.checkers.base import Validity
from wiber_harness.verdict import word

VERDICT_ICON: dict[Validity, str] = {True: "✅", False: "❌", "unknown": "⚠️"}
# (key metric, label, unit, digits) in the order tables show them
FIGURES: tuple[tuple[str, str, str, int], ...] = (
    ("throughput", "throughput", "ack/s", 1),
    ("ack_p50_ms", "ack p50", "ms", 1),
    ("ack_p99_ms", "ack p99", "ms", 1),
    ("e2e_p50_ms", "e2e p50", "ms", 1),
    ("e2e_p99_ms", "e2e p99", "ms", 1),
    ("error_rate", "error rate", "%", 1),
    ("recovery_s", "recovery", "s", 2),
    ("max_gap_s", "max gap", "s", 2),
    ("convergence_s", "convergence", "s", 2),
    ("lost", "lost", "", 0),
    ("duplicated", "duplicated", "", 0),
)
# checker counts worth a table cell; the rest go under "all counts"
HEADLINE_COUNTS: dict[str, tuple[str, ...]] = {
    "delivery": (
        "acknowledged",
        "stored",
        "lost",
        "unreadable",
        "duplicated",
        "unexpected",
        "aborted",
        "recovered",
    ),
    "ordering": ("conversations_checked", "realtime_violations", "sender_order"),
    "convergence": ("converged", "not_stored", "recovery_s", "backlog_s"),
    "availability": ("windows", "max_error_rate", "longest_gap_s", "max_first_ok_after_heal_s"),
    "redelivery": (),
    "faults": ("faults", "without_evidence"),
}


def as_validity(v: object) -> Validity:
    """A verdict read back from JSON: ``True``, ``False``, else ``"unknown"``."""
    return v if v is True or v is False else "unknown"


def verdict_word(v: object) -> str:
    """The report's word for a verdict: ``valid``, ``violation`` or ``unknown``."""
    return word(as_validity(v)).lower()


def verdict_icon(v: object) -> str:
    """✅, ❌ or ⚠️."""
    return VERDICT_ICON[as_validity(v)]


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    """A figure for a table: ``-`` when unknown, percent for rates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "%":
        return f"{value * 100:.{digits}f}%"
    if math.isinf(value):
        return "never"
    if digits == 0 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def figure_cells(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "name": key,
            "label": label,
            "unit": unit if unit != "%" else "",
            "value": fmt(metrics.get(key), digits, unit),
        }
        for key, label, unit, digits in FIGURES
    ]


def expectation(expect: Mapping[str, Any]) -> str:
    v = expect.get("violation")
    if v:
        which = ", ".join(v) if isinstance(v, list) else "some checker"
        return f"must break a promise ({which})"
    valid = expect.get("valid") or []
    return f"promises hold ({', '.join(valid)})" if valid else "no checker required"


def count_text(counts: Mapping[str, Any], names: tuple[str, ...] | None = None) -> str:
    keys = names if names is not None else tuple(counts)
    parts = [f"{k}={fmt(counts[k], 3)}" for k in keys if k in counts]
    return ", ".join(parts)


def checker_rows(checks: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per checker: verdict, headline counts, all counts, examples (pretty JSON)."""
    rows = []
    for name, c in checks.items():
        counts = dict(c.get("counts") or {})
        headline = HEADLINE_COUNTS.get(name)
        examples = {
            k: json.dumps(v, indent=1, default=str) for k, v in (c.get("examples") or {}).items()
        }
        rows.append(
            {
                "name": name,
                "verdict": verdict_word(c.get("valid")),
                "headline": count_text(counts, headline) if headline else count_text(counts),
                "all_counts": count_text(counts),
                "examples": examples,
                "error": c.get("error"),
                "note": (c.get("details") or {}).get("note"),
            }
        )
    return rows


def checker_summary(check: Mapping[str, Any]) -> str:
    """One paragraph for a CI failure: verdict, non-zero counts, examples."""
    counts = {k: v for k, v in (check.get("counts") or {}).items() if v}
    lines = [f"{check.get('name', 'checker')}: {verdict_word(check.get('valid'))}"]
    if counts:
        lines.append("counts: " + count_text(counts))
    if check.get("error"):
        lines.append(f"error: {check['error']}")
    for anomaly, ex in (check.get("examples") or {}).items():
        lines.append(f"examples of {anomaly}: {json.dumps(ex, default=str)}")
    return "\n".join(lines)


def window_rows(windows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "fault": str(w.get("fault", "")),
            "kind": str(w.get("kind") or ""),
            "target": str(w.get("target") or ""),
            "start": fmt(w.get("start_s"), 2),
            "end": fmt(w.get("end_s"), 2),
            "duration": fmt(w.get("duration_s"), 2),
            "healed": "yes" if w.get("healed") else "no",
        }
        for w in windows
    ]


__all__ = [
    "FIGURES",
    "HEADLINE_COUNTS",
    "VERDICT_ICON",
    "as_validity",
    "checker_rows",
    "checker_summary",
    "count_text",
    "expectation",
    "figure_cells",
    "fmt",
    "verdict_icon",
    "verdict_word",
    "window_rows",
]
