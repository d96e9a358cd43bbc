"""The same-rate phase: the pipeline's latency at one fixed rate, the same on every backend.

Every other bench figure is measured at a rate the stack itself finds (a
maximum, or a fraction of one), so two stacks are never compared at the
same load. This phase is: right after the stack is ready, before any other
load, ``repetitions`` loads of ``same_rate_s`` seconds at ``same_rate``
messages/s (the baseline scenario's rate), per-message ``POST /messages``
with the consumers running, each drained and read back
(:class:`~wiber_harness.bench.measure.PipelineTarget`). Its figures
(ack and e2e p50 / p99, the median over the repetitions) are absolute and
not gated; they are what ``bench --backend local --backend compose`` puts
side by side (:mod:`wiber_harness.bench.backends`). It runs on every
backend the bench knows, and is the only phase that runs on compose
(:func:`wiber_harness.bench.applicability.backend_reason`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wiber_harness.bench.measure import Measure
from wiber_harness.bench.stats import Series

if TYPE_CHECKING:  # context imports document, which imports this module
    from wiber_harness.bench.context import BenchRun

QUANTITIES = (("ack", "p50"), ("ack", "p99"), ("e2e", "p50"), ("e2e", "p99"))


def same_rate(b: BenchRun) -> None:
    """Measure the same-rate loads into ``b.data.same_rate`` (a failed one is None)."""
    cfg = b.cfg
    target = b.pipeline_target("single", read_back=True)
    for rep in range(cfg.repetitions):
        m = b.attempt(
            f"same-rate load #{rep + 1}",
            target.measure,
            cfg.same_rate,
            cfg.same_rate_s,
            f"same{rep + 1}",
        )
        b.data.same_rate.append(m)
        b.data.note_load("same-rate")
        if m is not None:
            b.say(
                f"same rate {cfg.same_rate:g}/s #{rep + 1}: ack p50 {m.ack.get('p50')} ms, "
                f"p99 {m.ack.get('p99')} ms; e2e p50 {(m.e2e or {}).get('p50')} ms"
            )


def _q(m: Measure | None, which: str, q: str) -> float | None:
    if m is None:
        return None
    v = ((m.e2e if which == "e2e" else m.ack) or {}).get(q)
    return float(v) if isinstance(v, int | float) else None


def same_rate_doc(
    runs: list[Measure | None], rate: float, duration_s: float, backend: str
) -> dict[str, Any]:
    """``bench.json``'s ``same_rate`` section: the figures, then every run."""
    figures = {
        f"{which}_{q}_ms": Series.of(
            [x for x in (_q(m, which, q) for m in runs) if x is not None], "ms"
        ).to_dict()
        for which, q in QUANTITIES
    }
    return {
        "backend": backend,
        "rate": rate,
        "duration_s": duration_s,
        "path": "single",
        "figures": figures,
        "runs": [None if m is None else m.to_dict(histograms=False) for m in runs],
    }


__all__ = ["QUANTITIES", "same_rate", "same_rate_doc"]
