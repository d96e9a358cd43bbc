"""The figures of ``bench.json``: the gated ratios and the absolute context behind them.

:func:`ratio_figures` and :func:`context_figures` turn what a run measured
(:class:`~wiber_harness.bench.document.BenchData`) into the document's
``figures`` and ``context`` (their meaning:
:mod:`wiber_harness.bench.document`). Every figure has one sample per
repetition, in repetition order: :class:`Samples` lines up each measured
quantity by repetition (None where a measurement failed), so a ratio pairs
repetition ``i`` of its numerator with repetition ``i`` of its denominator.
:func:`broken_promises`: every acknowledged message lost or stored twice in
any measured load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wiber_harness.bench.kafka_tools import EndToEndResult
from wiber_harness.bench.measure import Measure
from wiber_harness.bench.search import Search
from wiber_harness.bench.stats import Series, ratio_samples

if TYPE_CHECKING:
    from wiber_harness.bench.document import BenchData, PathData

GROUP = "bench"
HALF = 0.5
# a ratio that gates throughput: 30 % worse than the baseline fails, never below this floor
THROUGHPUT_THRESHOLD_PCT, THROUGHPUT_FLOOR = 30.0, 0.02


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
    threshold_pct: float = THROUGHPUT_THRESHOLD_PCT,
    floor: float = THROUGHPUT_FLOOR,
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


@dataclass(frozen=True)
class Samples:
    """Each measured quantity by repetition (None: that repetition's measurement failed)."""

    single_msr: list[float | None]  # per-message maximum sustainable ingest (ack/s)
    batch_msr: list[float | None]
    floor_msr: list[float | None]  # the HTTP floor's maximum sustainable req/s
    floor_sat: list[float | None]  # the floor's saturated probe (ack/s)
    wrk: list[float | None]
    pp: list[float | None]  # ProducerPerformance records/s, proxied
    ppd: list[float | None]  # ... direct
    sink: list[float | None]  # consumers' steady drain (stored/s)
    raw: list[float | None]  # raw insert_many docs/s
    raw_layout: list[float | None]  # ... written in the consumers' layout
    sink_cpu: list[float | None]  # store + consumers' CPU s per stored document
    raw_cpu: list[float | None]  # store + writers' CPU s per raw-inserted document
    kafka_p99: list[float | None]  # EndToEndLatency p99 (ms)
    half: list[Measure | None]  # per-message runs at 50 % of the end-to-end maximum
    e2e99: list[float | None]  # their e2e p99 (ms)
    e2e99_b: list[float | None]  # the batch path's

    @classmethod
    def of(cls, d: BenchData) -> Samples:
        n = d.config.repetitions
        half = _reps(_level_runs(d.single, HALF), n)
        half_b = _reps(_level_runs(d.batch, HALF), n)
        return cls(
            single_msr=[_ack(s) for s in _reps(d.single.ingest, n)],
            batch_msr=[_ack(s) for s in _reps(d.batch.ingest, n)],
            floor_msr=[_ack(s) for s in _reps(d.floor, n)],
            floor_sat=[
                s.probe.ack_rate if s is not None and s.probe is not None else None
                for s in _reps(d.floor, n)
            ],
            wrk=[w.req_per_s if w is not None else None for w in _reps(d.wrk, n)],
            pp=[r.records_per_s if r else None for r in _reps(d.pp_proxied, n)],
            ppd=[r.records_per_s if r else None for r in _reps(d.pp_direct, n)],
            sink=[r.stored_per_s if r else None for r in _reps(d.sink, n)],
            raw=[r.docs_per_s if r else None for r in _reps(d.raw, n)],
            raw_layout=[r.docs_per_s if r else None for r in _reps(d.raw_layout, n)],
            sink_cpu=[r.cpu_per_doc_s if r else None for r in _reps(d.sink, n)],
            raw_cpu=[r.cpu_per_doc_s if r else None for r in _reps(d.raw, n)],
            kafka_p99=[_e2el_p99(r) for r in _reps(d.e2el, n)],
            half=half,
            e2e99=[_p(m, "e2e") for m in half],
            e2e99_b=[_p(m, "e2e") for m in half_b],
        )


def ratio_figures(d: BenchData, s: Samples) -> list[dict[str, Any]]:
    """The gated ratios, in the order the module docstring of document lists them."""
    cfg, la = d.config, d.phase_load
    return [
        _figure(
            "api_ingest_efficiency",
            "API ingest efficiency",
            "higher",
            ratio_samples(s.single_msr, s.floor_msr),
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
            ratio_samples(s.batch_msr, s.pp),
            numerator=f"POST /messages/batch ({cfg.batch_size} per request) acknowledged "
            "messages/s at its maximum sustainable ingest rate (consumers stopped)",
            denominator="Kafka ProducerPerformance records/s (acks=all, same topic, record size "
            "and compression, through the API's Toxiproxy bootstrap)",
            description="How much of Kafka's own producer throughput the batch route delivers.",
            load_avg=la("ingest-batch", "kafka"),
        ),
        _figure(
            "sink_efficiency",
            "Sink efficiency",
            "higher",
            ratio_samples(s.sink, s.raw),
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
            ratio_samples(s.e2e99, s.kafka_p99),
            threshold_pct=50.0,
            floor=1.0,
            numerator="per-message e2e p99 (intended send to stored) at 50% of its maximum "
            "sustainable end-to-end rate",
            denominator="Kafka EndToEndLatency p99 (acks=all, through the API's proxies)",
            description="How many Kafka round trips the pipeline's tail costs.",
            load_avg=la("levels-single", "kafka"),
        ),
    ]


def context_figures(d: BenchData, s: Samples) -> dict[str, dict[str, Any]]:
    """The absolute figures behind the ratios (and a few more), not gated."""
    cfg, la = d.config, d.phase_load
    context = {
        "floor_req_per_s": _ctx(
            "HTTP floor, maximum sustainable (generator)",
            s.floor_msr,
            "req/s",
            "the floor's maximum sustainable rate with the bench's generator",
            la("floor"),
        ),
        "floor_saturation_req_per_s": _ctx(
            "HTTP floor, saturated (generator)",
            s.floor_sat,
            "req/s",
            "the generator's acknowledged/s when offered far more "
            "than the floor serves (its probe)",
            la("floor"),
        ),
        "wrk_req_per_s": _ctx(
            "HTTP floor, wrk",
            s.wrk,
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
            s.single_msr,
            "msg/s",
            "acknowledged/s at the highest rate that held, consumers stopped",
            la("ingest-single"),
        ),
        "batch_ingest_max_per_s": _ctx(
            "Batch: maximum sustainable ingest",
            s.batch_msr,
            "msg/s",
            "acknowledged messages/s at the highest rate that held, consumers stopped",
            la("ingest-batch"),
        ),
        "single_e2e_max_per_s": _ctx(
            "Per-message: maximum sustainable end to end",
            [_ack(x) for x in d.single.e2e],
            "msg/s",
            "acknowledged/s at the highest rate that held with the consumers keeping up",
            la("e2e-single"),
        ),
        "batch_e2e_max_per_s": _ctx(
            "Batch: maximum sustainable end to end",
            [_ack(x) for x in d.batch.e2e],
            "msg/s",
            "acknowledged messages/s at the highest rate that held with the consumers keeping up",
            la("e2e-batch"),
        ),
        "producer_perf_proxied_per_s": _ctx(
            "ProducerPerformance via Toxiproxy",
            s.pp,
            "records/s",
            "steady state, through the API's proxied bootstrap",
            la("kafka"),
        ),
        "producer_perf_direct_per_s": _ctx(
            "ProducerPerformance direct",
            s.ppd,
            "records/s",
            "steady state, through the brokers' direct listeners",
            la("kafka"),
        ),
        "proxy_cost": _ctx(
            "Toxiproxy cost (direct ÷ proxied)",
            ratio_samples(s.ppd, s.pp),
            "x",
            "how much faster Kafka's producer is without the proxies",
            la("kafka"),
        ),
        "kafka_e2e_p99_ms": _ctx(
            "Kafka EndToEndLatency p99",
            s.kafka_p99,
            "ms",
            "one record at a time, acks=all, via the API's proxies (whole ms)",
            la("kafka"),
        ),
        "single_e2e_p99_ms_at_50": _ctx(
            "Per-message e2e p99 at 50%",
            s.e2e99,
            "ms",
            "intended send to stored",
            la("levels-single"),
        ),
        "single_ack_p99_ms_at_50": _ctx(
            "Per-message ack p99 at 50%",
            [_p(m, "ack") for m in s.half],
            "ms",
            "intended send to acknowledgement",
            la("levels-single"),
        ),
        "batch_e2e_p99_ms_at_50": _ctx(
            "Batch e2e p99 at 50%",
            s.e2e99_b,
            "ms",
            "intended send to stored (includes waiting for the batch to fill)",
            la("levels-batch"),
        ),
        "batch_e2e_p99_vs_kafka": _ctx(
            "Batch e2e p99 at 50% ÷ Kafka p99",
            ratio_samples(s.e2e99_b, s.kafka_p99),
            "x",
            "as e2e_p99_vs_kafka, for the batch route",
            la("levels-batch", "kafka"),
        ),
        "sink_stored_per_s": _ctx(
            "Consumers draining a backlog",
            s.sink,
            "docs/s",
            f"{cfg.consumers} consumers, {cfg.sink_records} pre-filled records",
            la("sink"),
        ),
        "raw_insert_per_s": _ctx(
            "Raw insert_many",
            s.raw,
            "docs/s",
            f"{cfg.consumers} writers through the consumers' proxies",
            la("raw"),
        ),
        "sink_cpu_per_doc_vs_raw": _ctx(
            "Sink CPU per stored document vs the raw insert's",
            ratio_samples(s.sink_cpu, s.raw_cpu),
            "x",
            "(store + consumers) CPU seconds per stored document while draining, over "
            "(store + writers) CPU seconds per document of the raw insert_many",
            la("sink", "raw"),
        ),
        "raw_insert_in_layout_per_s": _ctx(
            "Raw insert_many in the consumers' layout",
            s.raw_layout,
            "docs/s",
            "one write per document, into its conversation's bucket collection",
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
    return context


def broken_promises(d: BenchData) -> list[str]:
    """Every load that lost an acknowledged message or stored one twice, said once each."""
    promises = []
    loads = [("single", m) for m in _all_measures(d.single)]
    loads += [("batch", m) for m in _all_measures(d.batch)]
    loads += [("same-rate", m) for m in d.same_rate if m is not None]
    for path, m in loads:
        if m.lost:
            promises.append(f"{path} {m.tag}: {m.lost} acknowledged messages never stored")
        if m.duplicated:
            promises.append(f"{path} {m.tag}: {m.duplicated} messages stored more than once")
    return promises


def _all_measures(p: PathData) -> list[Measure]:
    out = [m for s in p.ingest + p.e2e for m in ([s.probe] if s.probe else []) + s.steps]
    return out + [m for runs in p.levels.values() for m in runs]


__all__ = ["Samples", "broken_promises", "context_figures", "ratio_figures"]
