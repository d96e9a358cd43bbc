"""``run_bench``: the whole benchmark on one stack, into ``bench.json`` and ``bench.html``.

OpenMessaging Benchmark's method applied to the pipeline, with every
pipeline figure paired with a reference measured on the *same* cluster in
the *same* run (the machine is shared and its load moves; ratios cancel
most of that). Phases, in order:

1. **Start** one stack of ``cfg.backend`` (``local``:
   :class:`~wiber_harness.cluster.local.LocalCluster`; ``compose``:
   :class:`~wiber_harness.cluster.compose.ComposeCluster`; 3 brokers,
   the store, Toxiproxy, the API, the consumers of the system measured:
   ``cfg.system``, Wiber's own by default, any pipeline with a system
   profile otherwise) for the whole bench, and (local) the HTTP floor
   (:mod:`wiber_harness.bench.endpoint` under the API's uvicorn command
   line) beside it. Decide what applies to the system
   (:func:`decide_applicability`, :mod:`wiber_harness.bench.applicability`):
   a figure that does not is recorded as such, with the reason, and its
   measurements are skipped. On compose (or with ``same_rate_only``) that
   is every gated and context figure
   (:func:`~wiber_harness.bench.applicability.backend_reason`): only the
   same-rate phase runs, then the stack stops.

   **Same rate** (:mod:`wiber_harness.bench.phase_same_rate`), first, so
   every backend measures it at the same point of a fresh stack:
   ``repetitions`` loads at ``same_rate`` msg/s (the baseline scenario's
   rate), consumers running.
2. **Ingest and references**, consumers stopped (nothing but the measured
   client writes the topic or the store), ``repetitions`` rounds, each
   measuring the two sides of a ratio back to back:

   * ``wrk`` against the floor; the generator against the floor with wrk's
     connection count, saturated (first round: 1 generator process, more
     while it reaches less than ``min_generator_vs_wrk`` of wrk); then the
     floor's maximum sustainable rate with the bench's generator;
   * per-message ``POST /messages``: its maximum sustainable *ingest* rate
     (probe, then steps, :mod:`wiber_harness.bench.search`);
   * ProducerPerformance through the API's proxied bootstrap, and direct
     (the first round starts with an unrecorded sizing run, so every
     recorded run is about ``pp_seconds`` of steady state);
   * ``POST /messages/batch``: its maximum sustainable ingest rate;
   * EndToEndLatency through the API's proxied bootstrap.

3. **Sink**, ``repetitions`` rounds: raw ``insert_many`` through the
   consumers' store proxies, into one collection and in the consumers' layout (consumers
   still stopped), then the consumers drain a pre-filled backlog
   (:mod:`wiber_harness.bench.sink`); consumers keep running afterwards.
4. **End to end**, per message then batch: the maximum sustainable rate
   with the consumers keeping up (steps from the smaller of the ingest
   maximum and the sink's capacity, ``e2e_searches`` times), then latency
   runs at ``levels`` (25/50/75 %) of it, repetitions interleaved.
5. **Profiles** (``profile``): py-spy on the API and a consumer while each
   path holds its end-to-end maximum, and on a consumer draining a backlog.
6. **Stop** the stack (data directories removed, logs kept); time the
   checkers on a synthetic history (``checkers_ops``); write ``bench.json``
   (:mod:`wiber_harness.bench.document`) and ``bench.html``
   (:mod:`wiber_harness.bench.html`).

A failing measurement is recorded in ``problems`` and its sample is
missing; the bench carries on. A stack that cannot start raises. Each
phase is a module of functions of the run's state
(:class:`~wiber_harness.bench.context.BenchRun`):
:mod:`~wiber_harness.bench.phase_ingest` (2),
:mod:`~wiber_harness.bench.phase_pipeline` (3, 4),
:mod:`~wiber_harness.bench.phase_profiles` (5, and the checkers of 6).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from wiber_harness.bench.applicability import (
    backend_reason,
    batch_reason,
    floor_reason,
    not_applicable,
)
from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.context import BenchRun, Say, load_text
from wiber_harness.bench.document import BenchData, build_document, write_document
from wiber_harness.bench.figures import Samples, context_figures, ratio_figures
from wiber_harness.bench.html import write_bench_html
from wiber_harness.bench.phase_ingest import ingest_and_references
from wiber_harness.bench.phase_pipeline import end_to_end, sink
from wiber_harness.bench.phase_profiles import checkers, profiles
from wiber_harness.bench.phase_same_rate import same_rate
from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.factory import make_cluster
from wiber_harness.cluster.guards import Watchdog


@dataclass(frozen=True)
class BenchResult:
    """Where the bench wrote its results, and the document itself."""

    out_dir: Path
    bench_json: Path
    bench_html: Path | None
    document: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """1 a promise was broken, 2 a gated figure that applies to the system has fewer than
        2 samples, else 0."""
        if self.document.get("promises"):
            return 1
        if any(
            int(f.get("n", 0)) < 2
            for f in self.document.get("figures", [])
            if not f.get("not_applicable")
        ):
            return 2
        return 0


def run_bench(cfg: BenchConfig, say: Say | None = None) -> BenchResult:
    """Run the benchmark described by ``cfg`` (see the module docstring)."""
    b = BenchRun(cfg, say or (lambda s: None))
    b.work.mkdir(parents=True, exist_ok=True)
    b.watchdog = Watchdog()
    b.cluster = make_cluster(
        cfg.backend,
        ClusterConfig(
            run_dir=b.out / "cluster",
            partitions=cfg.partitions,
            consumers=cfg.consumers,
            apis=1,
            settings=dict(cfg.settings),
            system=cfg.system,
        ),
    )
    only_same_rate = backend_reason(cfg.backend, cfg.same_rate_only) is not None
    try:
        with b.phase("start"):
            b.say(f"starting the {cfg.backend} stack ({cfg.system.name})")
            b.cluster.start()
        b.data.cluster_start_s = round(b.data.phases["start"], 1)
        b.say(f"stack ready in {b.data.cluster_start_s} s (load average {load_text()})")
        decide_applicability(b)
        with b.phase("same-rate"):
            same_rate(b)
        if not only_same_rate:
            ingest_and_references(b)
            with b.phase("sink"):
                sink(b)
            for kind in b.paths:
                with b.phase(f"e2e-{kind}"):
                    end_to_end(b, kind)
            if cfg.profile:
                with b.phase("profiles"):
                    profiles(b)
    finally:
        b.say("stopping the stack")
        b.close_pools()
        b.cluster.close()
        b.watchdog.close()
        _drop_data(b.out / "cluster")
    if cfg.checkers_ops and not only_same_rate:
        with b.phase("checkers"):
            checkers(b)
    return _write(b)


def decide_applicability(b: BenchRun) -> None:
    """What does not apply to the system measured, and why (bench.applicability): the
    batch route is asked once with an empty batch, before any load."""
    spec = b.stack.spec
    route = spec.api.batch_route
    status, error = None, None
    try:
        url = b.stack.endpoints().api + route
        r = httpx.post(url, json={spec.api.batch_field: []}, timeout=10.0)
        status = r.status_code
    except httpx.HTTPError as e:
        error = f"{type(e).__name__}: {e}"
    b.data.not_applicable = not_applicable(
        spec, batch=batch_reason(route, status, error), floor=floor_reason(spec)
    )
    unmeasured = backend_reason(b.cfg.backend, b.cfg.same_rate_only)
    if unmeasured is not None:
        b.data.not_applicable = dict.fromkeys(figure_names(b.data), unmeasured)
        b.say(f"every gated and context figure: {unmeasured}")
        return
    for name, why in sorted(b.data.not_applicable.items()):
        b.say(f"{name}: not applicable to {spec.name} ({why})")


def figure_names(d: BenchData) -> list[str]:
    """Every gated and context figure's name (what the document would carry)."""
    s = Samples.of(d)
    return [f["name"] for f in ratio_figures(d, s)] + list(context_figures(d, s))


def _write(b: BenchRun) -> BenchResult:
    """bench.json, then bench.html; a report that cannot be drawn is a problem in bench.json."""
    doc = build_document(b.data)
    path = write_document(doc, b.out)
    html = None
    try:
        html = write_bench_html(doc, b.out)
    except Exception as e:  # the numbers are written; a plot bug must not lose them
        doc["problems"].append(f"bench.html: {type(e).__name__}: {e}")
        path = write_document(doc, b.out)
    return BenchResult(b.out, path, html, doc)


def _drop_data(cluster_dir: Path) -> None:
    """Remove the nodes' data directories (hundreds of MB); keep their logs."""
    for d in cluster_dir.glob("nodes/*/data"):
        shutil.rmtree(d, ignore_errors=True)


__all__ = ["BenchResult", "run_bench"]
