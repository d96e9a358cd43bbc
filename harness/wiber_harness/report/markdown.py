"""``summary.md``: the suite at a glance, for CI job summaries.

Written from the ``wiber-summary/1`` document alone (GitHub renders it in
``$GITHUB_STEP_SUMMARY``): a headline with the suite verdict, one table row
per scenario (verdict, expectation, runs, the key figures as medians over
repeats), then one bullet per reason of every scenario that is not valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wiber_harness.report.views import VERDICT_ICON, fmt, verdict_word

COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("throughput", "ack/s", "", 1),
    ("ack_p50_ms", "ack p50 ms", "", 1),
    ("ack_p99_ms", "ack p99 ms", "", 1),
    ("e2e_p50_ms", "e2e p50 ms", "", 1),
    ("e2e_p99_ms", "e2e p99 ms", "", 1),
    ("error_rate", "error rate", "%", 1),
    ("recovery_s", "recovery s", "", 2),
    ("max_gap_s", "max gap s", "", 2),
    ("lost", "lost", "", 0),
    ("duplicated", "dup", "", 0),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _icon(v: Any) -> str:
    return VERDICT_ICON.get(v if v is True or v is False else "unknown", "⚠️")


def render_markdown(summary: Mapping[str, Any], *, report_hint: str | None = None) -> str:
    c = summary.get("counts") or {}
    v = summary.get("verdict")
    lines = [
        f"## {_icon(v)} {summary.get('title', 'Wiber suite')}: {verdict_word(v)}",
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
        lines.append(
            f"| {_cell(name)} | {_icon(s.get('verdict'))} {verdict_word(s.get('verdict'))} | "
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
