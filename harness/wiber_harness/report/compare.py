"""The regression gate: compare a current set of runs with a baseline.

Inputs (each side, :func:`~wiber_harness.report.sides.load_side`): a
``summary.json`` (``wiber-summary/1``), a ``bench.json`` (``wiber-bench/1``),
a folder holding either, or run folders / a suite folder (their summary is
built first). Both sides must be of one kind.

Exit codes (:attr:`CompareResult.exit_code`):

* **1**: a promise is broken in CURRENT, or a figure regressed beyond
  noise. Broken means: a scenario's verdict is a violation, or (for a
  scenario that does not *expect* a violation, i.e. not an unsafe-setting
  scenario) any of its runs lost or duplicated a message (``lost`` /
  ``duplicated`` > 0). The baseline's verdicts do not matter;
* **2**: cannot compare (and nothing above failed): a file is missing,
  unreadable, malformed (a field of the wrong type, a non-finite or absurd
  number, nesting deeper than 64 levels: then nothing else is looked at,
  whatever the other side says) or of another schema; the sides are of
  different kinds; a baseline scenario (or bench group) is missing from
  CURRENT; a CURRENT scenario's verdict is ``unknown`` (the harness could
  not decide, so the gate cannot vouch for it); or no figure was measured
  on both sides (a gate that compared nothing must not pass); or
  ``threshold_pct`` / ``mad_k`` is not a finite number in 0 ..
  :data:`~wiber_harness.report.doc_checks.MAX_THRESHOLD_PCT`. Each problem
  is one sentence naming the file and the fix;
* **0**: otherwise.

Regressions, per scenario (bench: per group) and figure
(:class:`~wiber_harness.report.sides.Figure`: name, direction, threshold,
floor). Each side's value is the median of that scenario's runs (repeats);
the *spread* is the baseline's MAD (median absolute deviation from the
median, unscaled) when the baseline has two or more runs, or a bench
figure's own ``spread``.
The allowed worsening is::

    bound = max(threshold_pct% x |baseline median|, mad_k x spread, floor)

and the figure regressed when it got worse (lower for ``higher`` figures,
higher for ``lower`` ones) by more than ``bound``. With single runs only
the threshold and the floor apply. The floor keeps tiny absolute changes
of near-zero figures (a 2 ms p50, an error rate of 0) from failing the
gate. Improvements never fail. A figure missing on either side is noted and
skipped; a scenario only in CURRENT is noted (its promises are still
gated).

Defaults (:data:`~wiber_harness.report.sides.DEFAULT_FIGURES`, ``mad_k`` =
:data:`DEFAULT_MAD_K` = 4, about 2.7 sigma for normal noise): throughput (acknowledged/s, higher is
better) 30%; ack p50 100% / floor 5 ms; ack p99 100% / 25 ms; e2e p50
100% / 10 ms; e2e p99 100% / 50 ms; error rate 50% / 0.05 absolute; recovery
50% / 5 s; max gap 50% / 2 s; convergence 50% / 10 s. Latencies may double
before they count: on a shared 2-core machine two honest quick suites of the
same code differed by up to +276% in one scenario's ack p50 (single runs)
and medians of 5 vs 5 seeded runs by up to +63% (leader-kill e2e p50), while
open-loop throughput tracks the offered rate unless something breaks.
``threshold_pct`` given to :func:`compare` (``--threshold``) replaces every
figure's percentage; floors stay.

The sides (:mod:`wiber_harness.report.sides`) say what each input holds,
including the part of ``bench.json`` the gate reads.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wiber_harness.errors import HarnessError
from wiber_harness.report.doc_checks import MAX_THRESHOLD_PCT
from wiber_harness.report.sides import Figure, Side, SideInput, load_side

DEFAULT_MAD_K = 4.0


@dataclass(frozen=True)
class FigureDelta:
    """One figure of one group, baseline against current."""

    group: str
    figure: Figure
    baseline: float
    current: float
    n_baseline: int
    n_current: int
    spread: float | None
    bound: float
    bound_from: str
    regressed: bool

    @property
    def worse_by(self) -> float:
        d = self.current - self.baseline
        return -d if self.figure.direction == "higher" else d

    @property
    def change_pct(self) -> float | None:
        return (
            (self.current - self.baseline) / abs(self.baseline) * 100.0 if self.baseline else None
        )

    def sentence(self) -> str:
        f = self.figure
        u = f" {f.unit}" if f.unit else ""
        pct = f" ({self.change_pct:+.1f}%)" if self.change_pct is not None else ""
        spread = f"; baseline spread (MAD) {self.spread:.4g}{u}" if self.spread is not None else ""
        runs = (
            f"medians of {self.n_baseline} vs {self.n_current} runs"
            if max(self.n_baseline, self.n_current) > 1
            else "single runs"
        )
        verb = "regressed" if self.regressed else "within noise"
        return (
            f"{self.group}: {f.name} {verb}: {self.current:.4g}{u} against baseline "
            f"{self.baseline:.4g}{u}{pct}, {f.direction} is better; allowed worsening "
            f"{self.bound:.4g}{u} ({self.bound_from}){spread}; {runs}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "figure": self.figure.name,
            "direction": self.figure.direction,
            "unit": self.figure.unit,
            "baseline": self.baseline,
            "current": self.current,
            "change_pct": self.change_pct,
            "n_baseline": self.n_baseline,
            "n_current": self.n_current,
            "spread": self.spread,
            "bound": self.bound,
            "bound_from": self.bound_from,
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class CompareResult:
    """The gate's answer; ``exit_code`` 0 ok, 1 broken or regressed, 2 cannot compare."""

    baseline: str
    current: str
    broken: list[str] = field(default_factory=list)
    deltas: list[FigureDelta] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[FigureDelta]:
        return [d for d in self.deltas if d.regressed]

    @property
    def exit_code(self) -> int:
        if self.broken or self.regressions:
            return 1
        return 2 if self.problems else 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def lines(self) -> list[str]:
        """Human-readable lines: the verdict first, then why."""
        word = {0: "OK", 1: "FAILED", 2: "CANNOT COMPARE"}[self.exit_code]
        out = [
            f"compare {word}: {self.current} against baseline {self.baseline} "
            f"({len(self.deltas)} figures compared, {len(self.regressions)} regressed, "
            f"{len(self.broken)} broken promises)"
        ]
        out += [f"  broken promise: {b}" for b in self.broken]
        out += [f"  regression: {d.sentence()}" for d in self.regressions]
        out += [f"  cannot compare: {p}" for p in self.problems]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def markdown(self) -> str:
        icon = {0: "✅", 1: "❌", 2: "⚠️"}[self.exit_code]
        word = {0: "no regression", 1: "failed", 2: "cannot compare"}[self.exit_code]
        rows = [
            "| group | figure | baseline | current | change | allowed worsening | verdict |",
            "|---|---|--:|--:|--:|--:|---|",
        ]
        for d in self.deltas:
            pct = f"{d.change_pct:+.1f}%" if d.change_pct is not None else "-"
            rows.append(
                f"| {d.group} | {d.figure.name} | {d.baseline:.4g} | {d.current:.4g} | {pct} | "
                f"{d.bound:.4g} ({d.bound_from}) | {'❌ regressed' if d.regressed else 'ok'} |"
            )
        items = [f"- ❌ broken promise: {b}" for b in self.broken]
        items += [f"- ❌ {d.sentence()}" for d in self.regressions]
        items += [f"- ⚠️ cannot compare: {p}" for p in self.problems]
        body = [f"### {icon} Regression gate: {word}"]
        if items:
            body += ["", *items]
        if self.deltas:
            body += ["", *rows]
        return "\n".join(body) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "wiber-compare/1",
            "exit_code": self.exit_code,
            "baseline": self.baseline,
            "current": self.current,
            "broken": self.broken,
            "problems": self.problems,
            "notes": self.notes,
            "figures": [d.to_dict() for d in self.deltas],
        }


# -- comparing -------------------------------------------------------------------


def _mad(values: Sequence[float]) -> float:
    m = statistics.median(values)
    return statistics.median(abs(v - m) for v in values)


def compare_figure(
    group: str,
    fig: Figure,
    base: Sequence[float],
    cur: Sequence[float],
    *,
    mad_k: float,
    spread: float | None = None,
) -> FigureDelta:
    """One figure: medians, the noise bound, and whether it got worse beyond it."""
    b, c = statistics.median(base), statistics.median(cur)
    if spread is None and len(base) >= 2:
        spread = _mad(base)
    parts = {
        f"{fig.threshold_pct:g}% of baseline": fig.threshold_pct / 100.0 * abs(b),
        f"{mad_k:g}x MAD": mad_k * spread if spread is not None else 0.0,
        "floor": fig.floor,
    }
    bound_from, bound = max(parts.items(), key=lambda kv: kv[1])
    worse = (b - c) if fig.direction == "higher" else (c - b)
    return FigureDelta(
        group, fig, b, c, len(base), len(cur), spread, bound, bound_from, regressed=worse > bound
    )


def compare(
    baseline: SideInput,
    current: SideInput,
    *,
    threshold_pct: float | None = None,
    mad_k: float = DEFAULT_MAD_K,
    figures: Sequence[Figure] | None = None,
) -> CompareResult:
    """Gate CURRENT against BASELINE (see the module docstring for every rule)."""
    labels = [_label(baseline), _label(current)]
    for name, x in (("threshold_pct", threshold_pct), ("mad_k", mad_k)):
        if x is not None and not (math.isfinite(x) and 0 <= x <= MAX_THRESHOLD_PCT):
            return CompareResult(
                labels[0],
                labels[1],
                problems=[f"{name} is {x!r}, not a number in 0..{MAX_THRESHOLD_PCT:g}; pass one"],
            )
    sides: list[Side] = []
    for which, src in (("baseline", baseline), ("current", current)):
        try:
            sides.append(load_side(src))
        except HarnessError as e:
            return CompareResult(labels[0], labels[1], problems=[f"{which}: {e}"])
    base, cur = sides
    if base.kind != cur.kind:
        return CompareResult(
            base.source,
            cur.source,
            problems=[
                f"{base.source} is a {base.kind} and {cur.source} a {cur.kind}; "
                "compare two of one kind"
            ],
        )
    problems = list(cur.undecided)
    notes: list[str] = []
    missing = [g for g in base.groups if g not in cur.groups]
    if missing:
        problems.append(
            f"{cur.source} lacks {', '.join(missing)}, which the baseline {base.source} has; "
            "run the same suite, or refresh the baseline (reports/baselines/README.md)"
        )
    new = [g for g in cur.groups if g not in base.groups]
    if new:
        notes.append(
            f"no baseline for {', '.join(new)}: their promises are gated, their figures are not"
        )
    specs = {f.name: f for f in figures} if figures is not None else {**base.figures, **cur.figures}
    deltas: list[FigureDelta] = []
    for group in [g for g in cur.groups if g in base.groups]:
        for name, fig in specs.items():
            if threshold_pct is not None:
                fig = replace(fig, threshold_pct=threshold_pct)
            b, c = base.samples.get((group, name)), cur.samples.get((group, name))
            if not b or not c:
                if b or c:
                    notes.append(
                        f"{group}: {name} not measured in "
                        f"{'current' if b else 'baseline'}; not compared"
                    )
                continue
            deltas.append(
                compare_figure(
                    group, fig, b, c, mad_k=mad_k, spread=base.spreads.get((group, name))
                )
            )
    if not deltas and not problems:  # (a problem above already says why nothing compared)
        problems.append(
            f"nothing was compared: no figure is measured in both {base.source} and "
            f"{cur.source}, and a gate that compared nothing cannot pass; compare outputs "
            "of runs that measured something (or bench.json files with values)"
        )
    return CompareResult(
        base.source,
        cur.source,
        broken=list(cur.broken),
        deltas=deltas,
        problems=problems,
        notes=notes,
    )


def _label(src: SideInput) -> str:
    if isinstance(src, str | Path):
        return str(src)
    if isinstance(src, Mapping):
        return "<document>"
    return ", ".join(str(p) for p in src)


__all__ = ["DEFAULT_MAD_K", "CompareResult", "FigureDelta", "compare", "compare_figure"]
