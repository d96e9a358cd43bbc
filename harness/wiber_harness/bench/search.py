"""The maximum sustainable rate: OpenMessaging Benchmark's question, asked by stepping.

One search on one target (:class:`~wiber_harness.bench.measure.Target`):

1. **Estimate.** Either given (e.g. the smaller of the API's ingest maximum
   and the sink's capacity), or from a **probe** (:func:`probe`): offer a
   rate well above what the target can do for a few seconds; the
   generator's concurrency bound turns the excess into skipped sends, so
   the probe's ``ack_rate`` estimates the capacity ``E``.
2. **Steps.** Offer ``start x E`` for ``step_s``. If it held, step up
   through the ladder (:data:`LADDER`) until a step does not; otherwise
   step down until one holds. At most ``max_steps`` steps, except that a
   search still holding on its way up takes up to ``EXTRA_UP_STEPS`` more
   (an estimate that was low must not cap the answer); if its last step
   still held, the answer is a lower bound (``open_ended``). Likewise a
   search that has not held once on its way down takes up to
   ``EXTRA_DOWN_STEPS`` more (an estimate that was high must not leave no
   answer: on 2 cores the end-to-end capacity can be well under the sink's
   capacity measured alone). *Held* is the
   search's ``criterion``: ``"ingest"`` (:attr:`Measure.ingest_held`: the
   generator kept up, few errors, ack p99 in bound) or ``"e2e"``
   (:attr:`Measure.held`: also e2e p99 in bound, no growing backlog,
   drained).
3. **Answer.** The maximum sustainable rate is the highest offered rate
   that held (None when none did), and its ``ack_rate`` the acknowledged
   messages per second measured there.

The ladder is relative to ``E`` so every repetition is an independent
estimate with the same resolution (about 15 % of ``E`` near ``E``), in a
few steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from wiber_harness.bench.measure import Measure, Target

Criterion = Literal["ingest", "e2e"]
LADDER: tuple[float, ...] = (
    0.05,
    0.08,
    0.12,
    0.17,
    0.25,
    0.35,
    0.5,
    0.6,
    0.7,
    0.85,
    1.0,
    1.15,
    1.3,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    4.0,
)
EXTRA_UP_STEPS = 3
EXTRA_DOWN_STEPS = 3


def held(m: Measure, criterion: Criterion) -> bool:
    return m.ingest_held if criterion == "ingest" else m.held


@dataclass
class Search:
    """One search: its criterion, the probe (if any), the estimate, every step."""

    kind: str
    criterion: Criterion
    probe: Measure | None
    estimate: float
    steps: list[Measure] = field(default_factory=list)

    @property
    def best(self) -> Measure | None:
        ok = [m for m in self.steps if held(m, self.criterion)]
        return max(ok, key=lambda m: m.rate) if ok else None

    @property
    def open_ended(self) -> bool:
        """The highest rate offered held: the capacity is at least :attr:`rate`."""
        return bool(self.steps) and held(max(self.steps, key=lambda m: m.rate), self.criterion)

    @property
    def rate(self) -> float | None:
        b = self.best
        return b.rate if b is not None else None

    @property
    def ack_rate(self) -> float | None:
        b = self.best
        return b.ack_rate if b is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "criterion": self.criterion,
            "estimate": round(self.estimate, 1),
            "max_sustainable_rate": None if self.rate is None else round(self.rate, 1),
            "ack_rate_at_max": None if self.ack_rate is None else round(self.ack_rate, 1),
            "open_ended": self.open_ended,
            "probe": self.probe.to_dict(histograms=False) if self.probe is not None else None,
            "steps": [m.to_dict(histograms=False) for m in self.steps],
        }


def probe(target: Target, rate: float, seconds: float, tag: str = "") -> Measure:
    """Offer ``rate`` (beyond the target's capacity) for ``seconds``; its ``ack_rate``
    estimates it."""
    return target.measure(rate, seconds, f"{tag}probe")


def find_max_rate(
    target: Target,
    *,
    estimate: float,
    step_s: float,
    criterion: Criterion = "ingest",
    start: float = 0.7,
    max_steps: int = 6,
    tag: str = "",
    say: Callable[[str], None] | None = None,
    probe: Measure | None = None,
) -> Search:
    """Step around ``estimate`` (see the module docstring); ``probe`` is recorded with the
    search."""
    say = say or (lambda s: None)
    estimate = max(estimate, 1.0)
    search = Search(target.kind, criterion, probe, estimate)

    def step(f: float) -> bool:
        m = target.measure(f * estimate, step_s, f"{tag}x{f:g}")
        search.steps.append(m)
        ok = held(m, criterion)
        verdict = "held" if ok else "did not hold: " + "; ".join(m.why)
        e2e = f", e2e p99 {m.e2e.get('p99')} ms" if m.e2e else ""
        say(
            f"{target.kind} ({criterion}): {m.rate:.0f}/s {verdict} "
            f"(ack {m.ack_rate:.0f}/s, ack p99 {m.ack.get('p99')} ms{e2e})"
        )
        return ok

    first = step(start)
    ladder = (
        [f for f in LADDER if f > start] if first else [f for f in reversed(LADDER) if f < start]
    )
    limit = max_steps + (EXTRA_UP_STEPS if first else EXTRA_DOWN_STEPS)
    for f in ladder:
        if len(search.steps) >= limit:
            break
        if step(f) != first:
            break
    return search


__all__ = ["EXTRA_UP_STEPS", "LADDER", "Criterion", "Search", "find_max_rate", "held", "probe"]
