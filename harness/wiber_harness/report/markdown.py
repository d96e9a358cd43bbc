"""``summary.md``: the suite at a glance, for CI job summaries.

Written from the ``wiber-summary/1`` document alone (GitHub renders it in
``$GITHUB_STEP_SUMMARY``): a headline with the suite verdict, one table row
per scenario (verdict, expectation, runs, the key figures as medians over
repeats), then one bullet per reason of every scenario that is not valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wiber_harness.report.views import FIGURES, fmt, verdict_icon, verdict_word

# the report's key figures but convergence, each headed with its unit (the table is wide)
_HEADS = {"throughput": "ack/s", "error_rate": "error rate", "duplicated": "dup"}
COLUMNS: tuple[tuple[str, str, str, int], ...] = tuple(
    (key, _HEADS.get(key, f"{label} {unit}".rstrip()), unit, digits)
    for key, label, unit, digits in FIGURES
    if key != "convergence_s"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Mapping[str, Any], *, report_hint: str | None = None) -> str:
    c = summary.get("counts") or {}
    v = summary.get("verdict")
    lines = [
        f"## {verdict_icon(v)} {summary.get('title', 'Wiber suite')}: {verdict_word(v)}",
        "",
        f"{c.get('scenarios', 0)} scenarios, {c.get('runs', 0)} runs: {c.get('valid', 0)} valid, "
        f"{c.get('violation', 0)} violation, {c.get('unknown', 0)} unknown. "
        "Figures are medians over a scenario's runs (lost and dup: its worst run).",
        "",
        "| scenario | verdict | expects | runs | " + " | ".join(h for _, h, _, _ in COLUMNS) + " |",
        "|---|---|---|--:|" + "--:|" * len(COLUMNS),
    ]
    scenarios: Mapping[str, Any] = summary.get("scenarios") or {}
    for name, s in scenarios.items():
        m = s.get("metrics") or {}
        figs = " | ".join(fmt(m.get(k), d, u) for k, _, u, d in COLUMNS)
        expects = "must break" if s.get("expect_violation") else "promises hold"
        sv = s.get("verdict")
        lines.append(
            f"| {_cell(name)} | {verdict_icon(sv)} {verdict_word(sv)} | "
            f"{expects} | {s.get('runs', 0)} | {figs} |"
        )
    bad = [(n, s) for n, s in scenarios.items() if s.get("verdict") is not True]
    if bad:
        lines += ["", "### Not valid", ""]
        for name, s in bad:
            reasons = s.get("reasons") or ["no reason recorded"]
            for r in reasons:
                lines.append(
                    f"- **{_cell(name)}** ({verdict_word(s.get('verdict'))}): {_cell(str(r))}"
                )
    if report_hint:
        lines += ["", report_hint]
    return "\n".join(lines) + "\n"


__all__ = ["render_markdown"]
