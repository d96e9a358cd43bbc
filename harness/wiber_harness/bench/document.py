"""``bench.json``: the bench's results, in the ``wiber-bench/1`` schema the gate reads.

The regression gate (:mod:`wiber_harness.report.compare`) reads
``schema``, ``figures`` and ``promises``; everything else is for people and
for the bench report (:mod:`wiber_harness.bench.html`), which is built from
this document alone. :class:`BenchData` is what a run measured;
:mod:`wiber_harness.bench.figures` computes the figures from it. Keys:

* ``figures``: the **gated ratios**, each measured against a reference taken
  on the same cluster in the same run, with one sample per repetition
  (value = median, spread = MAD, :mod:`wiber_harness.bench.stats`):

  ==========================  =========  ===============================================
  name                        direction  samples
  ==========================  =========  ===============================================
  ``api_ingest_efficiency``   higher     per-message POST: acknowledged/s at its maximum
                                         sustainable ingest rate ÷ the HTTP floor's
                                         maximum sustainable req/s (same generator,
                                         same bounds)
  ``batch_ingest_efficiency`` higher     batch POST: acknowledged messages/s at its
                                         maximum sustainable ingest rate ÷
                                         ProducerPerformance records/s through the
                                         API's proxied bootstrap
  ``sink_efficiency``         higher     consumers' steady drain rate (stored/s) ÷ raw
                                         ``insert_many`` docs/s into the same store
  ``e2e_p99_vs_kafka``        lower      per-message e2e p99 at 50 % of its maximum
                                         sustainable end-to-end rate ÷ Kafka
                                         EndToEndLatency p99
  ==========================  =========  ===============================================

  *Ingest* rates are measured like the Kafka references, with the
  consumers stopped (API and Kafka only; a step holds on the ingest bounds:
  generator kept up, errors, ack p99); *end-to-end* rates with the
  consumers running (a step also needs e2e p99 in bound and no growing
  backlog). Repetition ``i`` of a ratio's two sides is measured back to back.

  Each carries ``name, group, direction, value, spread, samples, unit,
  threshold_pct, floor`` (the gate's fields) and ``title, numerator,
  denominator, description, load_avg`` (for people).
* ``context``: the **absolute figures** behind the ratios (and a few more),
  ``{name: {title, value, spread, samples, n, unit, description, load_avg}}``.
  Not gated: on a shared machine they move with everybody else's load;
  ``load_avg`` is the mean 1-minute load average while they were measured.
* ``references``, ``floor``, ``pipeline`` (per path ``single`` / ``batch``:
  ``ingest`` and ``e2e`` searches with every step and their maxima,
  ``max_sustainable_rate`` (the end-to-end one), ``levels`` with every run,
  HDR histograms included), ``sink``, ``generator``, ``phases`` (seconds
  each phase took), ``profiles``, ``checkers``: the raw measurements.
* ``load_average``: the machine's load averages at start, at end, and the
  1-minute figure's min / mean / max over every measurement.
* ``system``: the pipeline measured: ``name``, ``path`` (the profile it
  was loaded from; null: Wiber's built-in spec), ``e2e_time_source``
  (where a stored message's time comes from) and ``not_applicable``
  (figure name -> why it does not apply to this system,
  :mod:`wiber_harness.bench.applicability`). A figure or context entry
  that does not apply carries the same reason as ``not_applicable`` and
  no samples; it is never a failed or a made-up measurement, and it does
  not count as missing.
* ``backend``: where the stack ran (``local`` or ``compose``).
* ``same_rate``: the latency at one fixed rate, the same on every backend
  (:mod:`wiber_harness.bench.phase_same_rate`): ``backend, rate,
  duration_s, path, figures`` (``ack_p50_ms``, ``ack_p99_ms``,
  ``e2e_p50_ms``, ``e2e_p99_ms``: value = median over the repetitions,
  spread, samples) and ``runs`` (every load, without histograms). Not
  gated; ``bench --backend local --backend compose`` puts it side by side
  (:mod:`wiber_harness.bench.backends`).
* ``promises``: broken promises seen while benchmarking (acknowledged
  messages lost or stored twice): the gate fails on any.
* ``problems``: measurements that failed (a figure missing its samples says
  why here).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wiber_harness import __version__
from wiber_harness.bench.applicability import e2e_time_source, is_wiber
from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.figures import Samples, broken_promises, context_figures, ratio_figures
from wiber_harness.bench.floor import WrkResult
from wiber_harness.bench.kafka_tools import EndToEndResult, ProducerPerfResult
from wiber_harness.bench.measure import Measure
from wiber_harness.bench.phase_same_rate import same_rate_doc
from wiber_harness.bench.search import Search
from wiber_harness.bench.sink import SinkRun
from wiber_harness.bench.stack_ops import RawInsert
from wiber_harness.bench.stats import Series
from wiber_harness.report.runs import ReportError
from wiber_harness.report.sides import BENCH_FILE, BENCH_SCHEMA


@dataclass
class PathData:
    """One pipeline path (per-message or batch): its searches and its latency levels."""

    ingest: list[Search] = field(default_factory=list)
    e2e: list[Search] = field(default_factory=list)
    levels: dict[float, list[Measure]] = field(default_factory=dict)


@dataclass
class BenchData:
    """Everything a bench run measured, before it becomes the document."""

    config: BenchConfig
    started_at: dt.datetime
    record_size: float | None = None
    pp_proxied: list[ProducerPerfResult | None] = field(default_factory=list)
    pp_direct: list[ProducerPerfResult | None] = field(default_factory=list)
    e2el: list[EndToEndResult | None] = field(default_factory=list)
    raw: list[RawInsert | None] = field(default_factory=list)
    raw_layout: list[RawInsert | None] = field(default_factory=list)
    wrk: list[WrkResult] = field(default_factory=list)
    floor: list[Search] = field(default_factory=list)
    generator_processes: int = 1
    generator_trials: list[dict[str, Any]] = field(default_factory=list)
    single: PathData = field(default_factory=PathData)
    batch: PathData = field(default_factory=PathData)
    sink: list[SinkRun | None] = field(default_factory=list)
    same_rate: list[Measure | None] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    checkers: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    load_samples: list[tuple[str, float]] = field(default_factory=list)  # (phase, 1-min load)
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cluster_start_s: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    # figure name -> why it does not apply to the system measured (bench.applicability)
    not_applicable: dict[str, str] = field(default_factory=dict)

    def note_load(self, phase: str) -> None:
        self.load_samples.append((phase, os.getloadavg()[0]))

    def phase_load(self, *phases: str) -> float | None:
        xs = [v for p, v in self.load_samples if p in phases]
        return round(sum(xs) / len(xs), 2) if xs else None


def build_document(d: BenchData, finished_at: dt.datetime | None = None) -> dict[str, Any]:
    """The ``wiber-bench/1`` document of a bench run (see the module docstring)."""
    cfg = d.config
    finished_at = finished_at or dt.datetime.now(dt.UTC)
    s = Samples.of(d)
    loads = [v for _, v in d.load_samples]
    end = os.getloadavg()
    na = d.not_applicable
    name = cfg.system.name
    title = "Wiber benchmark" if is_wiber(cfg.system) else f"Benchmark of {name}"
    return {
        "schema": BENCH_SCHEMA,
        "title": title + (" (quick)" if cfg.quick else ""),
        "system": {
            "name": name,
            "path": cfg.system_path,
            "e2e_time_source": e2e_time_source(cfg.system, cfg.store_poll_s),
            "not_applicable": dict(sorted(na.items())),
        },
        "quick": cfg.quick,
        "backend": cfg.backend,
        "started_at": d.started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "elapsed_s": round((finished_at - d.started_at).total_seconds(), 1),
        "cluster_start_s": d.cluster_start_s,
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "system": platform.system(),
        },
        "versions": {"wiber_harness": __version__, "python": platform.python_version()},
        "config": cfg.to_dict(),
        "load_average": {
            "start": [round(x, 2) for x in d.load_start],
            "end": [round(x, 2) for x in end],
            "min1": round(min(loads), 2) if loads else None,
            "mean1": round(sum(loads) / len(loads), 2) if loads else None,
            "max1": round(max(loads), 2) if loads else None,
        },
        "figures": [mark_not_applicable(f, na.get(f["name"])) for f in ratio_figures(d, s)],
        "context": {k: mark_not_applicable(v, na.get(k)) for k, v in context_figures(d, s).items()},
        "references": {
            "record_size": d.record_size,
            "producer_performance": {
                "proxied": [_dict(r) for r in d.pp_proxied],
                "direct": [_dict(r) for r in d.pp_direct],
            },
            "end_to_end_latency": [_dict(r) for r in d.e2el],
            "raw_insert": [_dict(r) for r in d.raw],
            "raw_insert_in_layout": [_dict(r) for r in d.raw_layout],
            "wrk": [w.to_dict() for w in d.wrk],
        },
        "floor": {"searches": [s.to_dict() for s in d.floor]},
        "generator": {"processes": d.generator_processes, "trials": d.generator_trials},
        "phases": {k: round(v, 1) for k, v in d.phases.items()},
        "pipeline": {"single": _path_doc(d.single), "batch": _path_doc(d.batch)},
        "sink": {"runs": [_dict(r) for r in d.sink]},
        "same_rate": same_rate_doc(d.same_rate, cfg.same_rate, cfg.same_rate_s, cfg.backend),
        "profiles": d.profiles,
        "checkers": d.checkers,
        "promises": broken_promises(d),
        "problems": d.problems,
    }


def mark_not_applicable(figure: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """``figure`` as it is when it does not apply (``reason``): no samples, the reason said."""
    if reason is None:
        return figure
    return {
        **figure,
        "value": None,
        "spread": None,
        "samples": [],
        "n": 0,
        "not_applicable": reason,
    }


def _dict(x: Any) -> Any:
    return None if x is None else x.to_dict()


def _path_doc(p: PathData) -> dict[str, Any]:
    e2e = Series.of([s.ack_rate for s in p.e2e], "msg/s")
    return {
        "max_sustainable_rate": e2e.to_dict(),
        "ingest": {
            "max": Series.of([s.ack_rate for s in p.ingest], "msg/s").to_dict(),
            "searches": [s.to_dict() for s in p.ingest],
        },
        "e2e": {"max": e2e.to_dict(), "searches": [s.to_dict() for s in p.e2e]},
        "levels": [
            {
                "fraction": f,
                "rate": round(runs[0].rate, 1) if runs else None,
                "runs": [m.to_dict() for m in runs],
            }
            for f, runs in sorted(p.levels.items())
        ],
    }


def write_document(doc: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / BENCH_FILE
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


def load_document(path: Path) -> dict[str, Any]:
    """Read a bench.json (or the one in a folder); ReportError with the fix if it is not one."""
    p = path / BENCH_FILE if path.is_dir() else path
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ReportError(
            f"{p}: cannot read it as JSON ({e}); run `wiber-harness bench` to write one"
        ) from e
    if not isinstance(doc, dict) or doc.get("schema") != BENCH_SCHEMA:
        raise ReportError(
            f"{p}: not a {BENCH_SCHEMA} document; run `wiber-harness bench` to write one"
        )
    return doc


__all__ = [
    "BenchData",
    "PathData",
    "build_document",
    "load_document",
    "mark_not_applicable",
    "write_document",
]
