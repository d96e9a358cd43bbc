"""``bench.json``: the bench's results, in the ``wiber-bench/1`` schema the gate reads.

The regression gate (:mod:`wiber_harness.report.compare`) reads
``schema``, ``figures`` and ``promises``; everything else is for people and
for the bench report (:mod:`wiber_harness.bench.html`), which is built from
this document alone. Keys:

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wiber_harness import __version__
from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.floor import WrkResult
from wiber_harness.bench.kafka_tools import EndToEndResult, ProducerPerfResult
from wiber_harness.bench.measure import Measure
from wiber_harness.bench.search import Search
from wiber_harness.bench.sink import SinkRun
from wiber_harness.bench.stack_ops import RawInsert
from wiber_harness.bench.stats import Series, ratio_samples
from wiber_harness.report.compare import BENCH_FILE, BENCH_SCHEMA
from wiber_harness.report.runs import ReportError

GROUP = "bench"
HALF = 0.5


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
    raw_view: list[RawInsert | None] = field(default_factory=list)
    wrk: list[WrkResult] = field(default_factory=list)
    floor: list[Search] = field(default_factory=list)
    generator_processes: int = 1
    generator_trials: list[dict[str, Any]] = field(default_factory=list)
    single: PathData = field(default_factory=PathData)
    batch: PathData = field(default_factory=PathData)
    sink: list[SinkRun | None] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    checkers: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    load_samples: list[tuple[str, float]] = field(default_factory=list)  # (phase, 1-min load)
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cluster_start_s: float | None = None
    phases: dict[str, float] = field(default_factory=dict)

    def note_load(self, phase: str) -> None:
        self.load_samples.append((phase, os.getloadavg()[0]))

    def phase_load(self, *phases: str) -> float | None:
        xs = [v for p, v in self.load_samples if p in phases]
        return round(sum(xs) / len(xs), 2) if xs else None


def _reps(xs: Sequence[Any], n: int) -> list[Any]:
    return list(xs) + [None] * max(0, n - len(xs))


def _ack(s: Search | None) -> float | None:
    return s.ack_rate if s is not None else None


def _level_runs(p: PathData, fraction: float) -> list[Measure]:
    return p.levels.get(fraction, [])


def _p(m: Measure | None, which: str, q: str = "p99") -> float | None:
    if m is None:
        return None
    d = m.e2e if which == "e2e" else m.ack
    v = (d or {}).get(q)
    return float(v) if isinstance(v, int | float) else None


def _e2el_p99(r: EndToEndResult | None) -> float | None:
    # the tool truncates each latency to whole ms: a printed 0 is the [0, 1) ms bin
    return None if r is None else max(r.p99_ms, 0.5)


def _figure(
    name: str,
    title: str,
    direction: str,
    samples: list[float],
    *,
    threshold_pct: float,
    floor: float,
    numerator: str,
    denominator: str,
    description: str,
    load_avg: float | None,
) -> dict[str, Any]:
    s = Series.of(samples, "x")
    return {
        "name": name,
        "group": GROUP,
        "direction": direction,
        **s.to_dict(),
        "threshold_pct": threshold_pct,
        "floor": floor,
        "title": title,
        "numerator": numerator,
        "denominator": denominator,
        "description": description,
        "load_avg": load_avg,
    }


def _ctx(
    title: str, values: Sequence[float | None], unit: str, description: str, load_avg: float | None
) -> dict[str, Any]:
    return {
        "title": title,
        **Series.of(values, unit).to_dict(),
        "description": description,
        "load_avg": load_avg,
    }


def build_document(d: BenchData, finished_at: dt.datetime | None = None) -> dict[str, Any]:
    """The ``wiber-bench/1`` document of a bench run (see the module docstring)."""
    cfg = d.config
    n = cfg.repetitions
    finished_at = finished_at or dt.datetime.now(dt.UTC)
    single_msr = [_ack(s) for s in _reps(d.single.ingest, n)]
    batch_msr = [_ack(s) for s in _reps(d.batch.ingest, n)]
    floor_msr = [_ack(s) for s in _reps(d.floor, n)]
    pp = [r.records_per_s if r else None for r in _reps(d.pp_proxied, n)]
    ppd = [r.records_per_s if r else None for r in _reps(d.pp_direct, n)]
    sink = [r.stored_per_s if r else None for r in _reps(d.sink, n)]
    raw = [r.docs_per_s if r else None for r in _reps(d.raw, n)]
    raw_view = [r.docs_per_s if r else None for r in _reps(d.raw_view, n)]
    kafka_p99 = [_e2el_p99(r) for r in _reps(d.e2el, n)]
    half = _reps(_level_runs(d.single, HALF), n)
    half_b = _reps(_level_runs(d.batch, HALF), n)
    e2e99 = [_p(m, "e2e") for m in half]
    e2e99_b = [_p(m, "e2e") for m in half_b]
    wrk = [w.req_per_s if w is not None else None for w in _reps(d.wrk, n)]
    floor_sat = [
        s.probe.ack_rate if s is not None and s.probe is not None else None
        for s in _reps(d.floor, n)
    ]
    la = d.phase_load
    figures = [
        _figure(
            "api_ingest_efficiency",
            "API ingest efficiency",
            "higher",
            ratio_samples(single_msr, floor_msr),
            threshold_pct=30.0,
            floor=0.02,
            numerator="per-message POST /messages acknowledged/s at its maximum sustainable "
            "ingest rate (consumers stopped)",
            denominator="HTTP floor req/s at its maximum sustainable rate (same generator, bounds)",
            description="How much of what one uvicorn worker can answer at all the API turns into "
            "acknowledged messages.",
            load_avg=la("ingest-single", "floor"),
        ),
        _figure(
            "batch_ingest_efficiency",
            "Batch ingest efficiency",
            "higher",
            ratio_samples(batch_msr, pp),
            threshold_pct=30.0,
            floor=0.02,
            numerator=f"POST /messages/batch ({cfg.batch_size} per request) acknowledged messages/s "
            "at its maximum sustainable ingest rate (consumers stopped)",
            denominator="Kafka ProducerPerformance records/s (acks=all, same topic, record size and "
            "compression, through the API's Toxiproxy bootstrap)",
            description="How much of Kafka's own producer throughput the batch route delivers.",
            load_avg=la("ingest-batch", "kafka"),
        ),
        _figure(
            "sink_efficiency",
            "Sink efficiency",
            "higher",
            ratio_samples(sink, raw),
            threshold_pct=30.0,
            floor=0.02,
            numerator="consumers' steady drain rate of a pre-filled backlog (stored/s)",
            denominator="raw insert_many docs/s (same store, document shape, batch size, writers "
            "and proxies)",
            description="How much of the store's raw write rate the consumers achieve.",
            load_avg=la("sink", "raw"),
        ),
        _figure(
            "e2e_p99_vs_kafka",
            "End-to-end p99 vs Kafka",
            "lower",
            ratio_samples(e2e99, kafka_p99),
            threshold_pct=50.0,
            floor=1.0,
            numerator="per-message e2e p99 (intended send to stored) at 50% of its maximum "
            "sustainable end-to-end rate",
            denominator="Kafka EndToEndLatency p99 (acks=all, through the API's proxies)",
            description="How many Kafka round trips the pipeline's tail costs.",
            load_avg=la("levels-single", "kafka"),
        ),
    ]
    context = {
        "floor_req_per_s": _ctx(
            "HTTP floor, maximum sustainable (generator)",
            floor_msr,
            "req/s",
            "the floor's maximum sustainable rate with the bench's generator",
            la("floor"),
        ),
        "floor_saturation_req_per_s": _ctx(
            "HTTP floor, saturated (generator)",
            floor_sat,
            "req/s",
            "the generator's acknowledged/s when offered far more "
            "than the floor serves (its probe)",
            la("floor"),
        ),
        "wrk_req_per_s": _ctx(
            "HTTP floor, wrk",
            wrk,
            "req/s",
            f"wrk -t{cfg.wrk_threads} -c{cfg.wrk_connections}, closed loop, same endpoint and body",
            la("floor"),
        ),
        "generator_vs_wrk": _ctx(
            "Generator ÷ wrk (floor, saturated)",
            [t["vs_wrk"] for t in d.generator_trials if t.get("chosen")],
            "x",
            f"the generator with wrk's {cfg.wrk_connections} connections against the "
            f"floor; must be >= {cfg.min_generator_vs_wrk}: the generator is not the "
            "bottleneck",
            la("floor"),
        ),
        "single_ingest_max_per_s": _ctx(
            "Per-message: maximum sustainable ingest",
            single_msr,
            "msg/s",
            "acknowledged/s at the highest rate that held, consumers stopped",
            la("ingest-single"),
        ),
        "batch_ingest_max_per_s": _ctx(
            "Batch: maximum sustainable ingest",
            batch_msr,
            "msg/s",
            "acknowledged messages/s at the highest rate that held, consumers stopped",
            la("ingest-batch"),
        ),
        "single_e2e_max_per_s": _ctx(
            "Per-message: maximum sustainable end to end",
            [_ack(s) for s in d.single.e2e],
            "msg/s",
            "acknowledged/s at the highest rate that held with the consumers keeping up",
            la("e2e-single"),
        ),
        "batch_e2e_max_per_s": _ctx(
            "Batch: maximum sustainable end to end",
            [_ack(s) for s in d.batch.e2e],
            "msg/s",
            "acknowledged messages/s at the highest rate that held with the consumers keeping up",
            la("e2e-batch"),
        ),
        "producer_perf_proxied_per_s": _ctx(
            "ProducerPerformance via Toxiproxy",
            pp,
            "records/s",
            "steady state, through the API's proxied bootstrap",
            la("kafka"),
        ),
        "producer_perf_direct_per_s": _ctx(
            "ProducerPerformance direct",
            ppd,
            "records/s",
            "steady state, through the brokers' direct listeners",
            la("kafka"),
        ),
        "proxy_cost": _ctx(
            "Toxiproxy cost (direct ÷ proxied)",
            ratio_samples(ppd, pp),
            "x",
            "how much faster Kafka's producer is without the proxies",
            la("kafka"),
        ),
        "kafka_e2e_p99_ms": _ctx(
            "Kafka EndToEndLatency p99",
            kafka_p99,
            "ms",
            "one record at a time, acks=all, via the API's proxies (whole ms)",
            la("kafka"),
        ),
        "single_e2e_p99_ms_at_50": _ctx(
            "Per-message e2e p99 at 50%",
            e2e99,
            "ms",
            "intended send to stored",
            la("levels-single"),
        ),
        "single_ack_p99_ms_at_50": _ctx(
            "Per-message ack p99 at 50%",
            [_p(m, "ack") for m in half],
            "ms",
            "intended send to acknowledgement",
            la("levels-single"),
        ),
        "batch_e2e_p99_ms_at_50": _ctx(
            "Batch e2e p99 at 50%",
            e2e99_b,
            "ms",
            "intended send to stored (includes waiting for the batch to fill)",
            la("levels-batch"),
        ),
        "batch_e2e_p99_vs_kafka": _ctx(
            "Batch e2e p99 at 50% ÷ Kafka p99",
            ratio_samples(e2e99_b, kafka_p99),
            "x",
            "as e2e_p99_vs_kafka, for the batch route",
            la("levels-batch", "kafka"),
        ),
        "sink_stored_per_s": _ctx(
            "Consumers draining a backlog",
            sink,
            "docs/s",
            f"{cfg.consumers} consumers, {cfg.sink_records} pre-filled records",
            la("sink"),
        ),
        "raw_insert_per_s": _ctx(
            "Raw insert_many",
            raw,
            "docs/s",
            f"{cfg.consumers} writers through the consumers' proxies",
            la("raw"),
        ),
        "raw_insert_with_view_per_s": _ctx(
            "Raw insert_many + read-view copy",
            raw_view,
            "docs/s",
            "the two writes the consumer does per batch",
            la("raw"),
        ),
    }
    if d.checkers.get("total_s") is not None:
        context["checkers_1m_ops_s"] = _ctx(
            f"Checkers + metrics on {d.checkers.get('ops')} ops",
            [d.checkers["total_s"]],
            "s",
            "wall time of check_all + summary on a synthetic history (budget 10 s)",
            la("checkers"),
        )
    promises = []
    for path, pdata in (("single", d.single), ("batch", d.batch)):
        for m in _all_measures(pdata):
            if m.lost:
                promises.append(f"{path} {m.tag}: {m.lost} acknowledged messages never stored")
            if m.duplicated:
                promises.append(f"{path} {m.tag}: {m.duplicated} messages stored more than once")
    loads = [v for _, v in d.load_samples]
    end = os.getloadavg()
    return {
        "schema": BENCH_SCHEMA,
        "title": "Wiber benchmark" + (" (quick)" if cfg.quick else ""),
        "quick": cfg.quick,
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
        "figures": figures,
        "context": context,
        "references": {
            "record_size": d.record_size,
            "producer_performance": {
                "proxied": [_dict(r) for r in d.pp_proxied],
                "direct": [_dict(r) for r in d.pp_direct],
            },
            "end_to_end_latency": [_dict(r) for r in d.e2el],
            "raw_insert": [_dict(r) for r in d.raw],
            "raw_insert_with_view": [_dict(r) for r in d.raw_view],
            "wrk": [w.to_dict() for w in d.wrk],
        },
        "floor": {"searches": [s.to_dict() for s in d.floor]},
        "generator": {"processes": d.generator_processes, "trials": d.generator_trials},
        "phases": {k: round(v, 1) for k, v in d.phases.items()},
        "pipeline": {"single": _path_doc(d.single), "batch": _path_doc(d.batch)},
        "sink": {"runs": [_dict(r) for r in d.sink]},
        "profiles": d.profiles,
        "checkers": d.checkers,
        "promises": promises,
        "problems": d.problems,
    }


def _dict(x: Any) -> Any:
    return None if x is None else x.to_dict()


def _all_measures(p: PathData) -> list[Measure]:
    out = [m for s in p.ingest + p.e2e for m in ([s.probe] if s.probe else []) + s.steps]
    return out + [m for runs in p.levels.values() for m in runs]


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


__all__ = ["BenchData", "PathData", "build_document", "load_document", "write_document"]
