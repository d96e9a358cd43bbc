"""``run_bench``: the whole benchmark on one local stack, into ``bench.json`` and ``bench.html``.

OpenMessaging Benchmark's method applied to the pipeline, with every
pipeline figure paired with a reference measured on the *same* cluster in
the *same* run (the machine is shared and its load moves; ratios cancel
most of that). Phases, in order:

1. **Start** one :class:`~wiber_harness.cluster.local.LocalCluster` (3
   brokers, the store, Toxiproxy, the API, the consumers) for the whole
   bench, and the HTTP floor (:mod:`wiber_harness.bench.endpoint` under the
   API's uvicorn command line) beside it.
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
   consumers' store proxies, without and with the read-view copy (consumers
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
missing; the bench carries on. A stack that cannot start raises.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from wiber_harness.bench import kafka_tools as kt
from wiber_harness.bench import stack_ops
from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.document import BenchData, PathData, build_document, write_document
from wiber_harness.bench.floor import FloorServer, run_wrk
from wiber_harness.bench.generator import GeneratorPool
from wiber_harness.bench.measure import FloorTarget, PipelineTarget
from wiber_harness.bench.profiling import CpuMeter, Profiler
from wiber_harness.bench.search import Search, find_max_rate, probe
from wiber_harness.bench.sink import measure_sink
from wiber_harness.bench.stats import median
from wiber_harness.cluster.local import LocalCluster, LocalClusterConfig
from wiber_harness.cluster.watchdog import Watchdog

Say = Callable[[str], None]
T = TypeVar("T")
Path_ = Literal["single", "batch"]


@dataclass(frozen=True)
class BenchResult:
    """Where the bench wrote its results, and the document itself."""

    out_dir: Path
    bench_json: Path
    bench_html: Path | None
    document: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """1 a promise was broken, 2 a gated figure has fewer than 2 samples, else 0."""
        if self.document.get("promises"):
            return 1
        if any(int(f.get("n", 0)) < 2 for f in self.document.get("figures", [])):
            return 2
        return 0


class _Bench:
    def __init__(self, cfg: BenchConfig, say: Say) -> None:
        self.cfg = cfg
        self.out = cfg.out_dir.resolve()
        self.work = self.out / "work"
        self.data = BenchData(cfg, dt.datetime.now(dt.UTC), load_start=os.getloadavg())
        self.t0 = time.monotonic()
        self._say = say
        self.watchdog: Watchdog | None = None
        self.cluster: LocalCluster | None = None
        self.processes = max(1, cfg.generator_processes)
        self.pools: dict[int, GeneratorPool] = {}
        self.estimates: dict[str, float] = {}

    # -- helpers ----------------------------------------------------------------------
    def say(self, line: str) -> None:
        self._say(f"[{time.monotonic() - self.t0:6.0f}s] {line}")

    def attempt(self, what: str, fn: Callable[..., T], *args: Any, **kw: Any) -> T | None:
        """``fn(*args, **kw)``; on failure record a problem and return None."""
        try:
            return fn(*args, **kw)
        except Exception as e:
            self.data.problems.append(f"{what}: {type(e).__name__}: {e}")
            self.say(f"{what} FAILED: {e}")
            with (self.work / "errors.log").open("a") as log:
                log.write(f"--- {what}\n{traceback.format_exc()}\n")
            return None

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.monotonic()
        try:
            yield
        finally:
            self.data.phases[name] = self.data.phases.get(name, 0.0) + time.monotonic() - t

    def pool(self, processes: int) -> GeneratorPool:
        """The generator pool of ``processes`` workers (started once, reused by every load)."""
        if processes not in self.pools:
            p = GeneratorPool(processes, self.work / f"generator-{processes}", self.watchdog)
            p.start()
            self.pools[processes] = p
        return self.pools[processes]

    @property
    def c(self) -> LocalCluster:
        assert self.cluster is not None
        return self.cluster

    @property
    def batch_size(self) -> int:
        """The consumer's batch size (its setting, or Wiber's default)."""
        v = self.cfg.settings.get("WIBER_CONSUMER_BATCH_SIZE")
        return int(v) if v else int(stack_ops.wiber_settings().consumer_batch_size)

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> BenchResult:
        cfg = self.cfg
        self.work.mkdir(parents=True, exist_ok=True)
        self.watchdog = Watchdog()
        self.cluster = LocalCluster(
            LocalClusterConfig(
                run_dir=self.out / "cluster",
                partitions=cfg.partitions,
                consumers=cfg.consumers,
                apis=1,
                settings=dict(cfg.settings),
            )
        )
        try:
            with self.phase("start"):
                self.say("starting the local stack")
                self.cluster.start()
            self.data.cluster_start_s = round(self.data.phases["start"], 1)
            self.say(f"stack ready in {self.data.cluster_start_s} s (load average {_load()})")
            self.ingest_and_references()
            with self.phase("sink"):
                self.sink()
            kinds: tuple[Path_, ...] = ("single", "batch")
            for kind in kinds:
                with self.phase(f"e2e-{kind}"):
                    self.end_to_end(kind)
            if cfg.profile:
                with self.phase("profiles"):
                    self.profiles()
        finally:
            self.say("stopping the stack")
            for p in self.pools.values():
                p.close()
            self.cluster.close()
            self.watchdog.close()
            _drop_data(self.out / "cluster")
        if cfg.checkers_ops:
            with self.phase("checkers"):
                self.checkers()
        doc = build_document(self.data)
        path = write_document(doc, self.out)
        html = None
        try:
            from wiber_harness.bench.html import write_bench_html

            html = write_bench_html(doc, self.out)
        except Exception as e:  # the numbers are written; a plot bug must not lose them
            doc["problems"].append(f"bench.html: {type(e).__name__}: {e}")
            path = write_document(doc, self.out)
        return BenchResult(self.out, path, html, doc)

    # -- phase 2 ------------------------------------------------------------------------------
    def ingest_and_references(self) -> None:
        cfg, d, c = self.cfg, self.data, self.c
        self.say("ingest and references: stopping the consumers (only the measured client writes)")
        stack_ops.stop_consumers(c)
        tools = self.work / "tools"
        log4j = kt.write_tools_log4j(tools)
        payload = tools / "payloads.txt"
        d.record_size = round(kt.write_payload_file(payload, 5000, cfg.payload_size), 1)
        sizes = {"proxied": cfg.pp_records, "direct": cfg.pp_records, "e2el": cfg.e2el_records}
        assert self.watchdog is not None
        with FloorServer(self.work / "floor", self.watchdog) as srv:
            self.say(f"HTTP floor at {srv.url} (pid {srv.pid})")
            for rep in range(cfg.repetitions):
                with self.phase("floor"):
                    self.floor_round(srv.url, rep)
                with self.phase("ingest-single"):
                    self.ingest("single", rep)
                with self.phase("kafka"):
                    self.producer_performance(rep, tools, log4j, payload, sizes)
                with self.phase("ingest-batch"):
                    self.ingest("batch", rep)
                with self.phase("kafka"):
                    self.end_to_end_latency(rep, tools, log4j, sizes)
        d.generator_processes = self.processes

    def floor_round(self, url: str, rep: int) -> None:
        cfg, d = self.cfg, self.data
        w = run_wrk(
            url,
            cfg.wrk_s,
            self.work / "floor",
            threads=cfg.wrk_threads,
            connections=cfg.wrk_connections,
            payload_size=cfg.payload_size,
        )
        d.wrk.append(w)
        if w.error:
            d.problems.append(f"wrk #{rep + 1}: {w.error}")
        self.say(f"wrk #{rep + 1}: {w.req_per_s} req/s (load {_load()})")
        if w.req_per_s:
            self.generator_check(url, w.req_per_s, rep)
        # beyond what the floor serves, not far beyond: skipping costs the generator CPU too
        rate = 1.5 * w.req_per_s if w.req_per_s else cfg.floor_probe_rate
        target = self.floor_target(url)
        first = self.attempt(
            f"floor probe #{rep + 1}", probe, target, rate, cfg.probe_s, f"r{rep + 1}"
        )
        if first is None:
            return
        s = self.attempt(
            f"floor search #{rep + 1}",
            find_max_rate,
            target,
            estimate=first.ack_rate,
            step_s=cfg.step_s,
            max_steps=cfg.max_steps,
            tag=f"r{rep + 1}",
            say=self.say,
            probe=first,
        )
        if s is not None:
            d.floor.append(s)
            self.say(f"floor search #{rep + 1}: maximum sustainable {_max(s)} req/s")
        d.note_load("floor")

    def floor_target(
        self, url: str, processes: int | None = None, concurrency: int | None = None
    ) -> FloorTarget:
        cfg = self.cfg
        return FloorTarget(
            url,
            self.pool(processes or self.processes),
            cfg.bounds,
            concurrency=concurrency or cfg.concurrency,
            payload_size=cfg.payload_size,
        )

    def generator_check(self, url: str, wrk_rps: float, rep: int) -> None:
        """The generator against the floor as wrk loads it: same connections, saturated.

        The first round picks the number of generator processes: 1, or more
        (up to ``max_generator_processes``) while the generator reaches less
        than ``min_generator_vs_wrk`` of wrk; later rounds measure the chosen
        number again, so the check has a sample per repetition.
        """
        cfg = self.cfg
        fixed = rep > 0 or cfg.generator_processes > 0
        counts = [self.processes] if fixed else list(range(1, cfg.max_generator_processes + 1))
        best: tuple[int, float] | None = None
        trials = []
        for procs in counts:
            m = self.attempt(
                f"generator check ({procs})",
                probe,
                self.floor_target(url, procs, cfg.wrk_connections),
                1.2 * wrk_rps,
                cfg.probe_s,
                f"gen{procs}r{rep + 1}",
            )
            if m is None:
                continue
            share = m.ack_rate / wrk_rps
            trials.append(
                {
                    "rep": rep + 1,
                    "processes": procs,
                    "connections": cfg.wrk_connections,
                    "ack_rate": round(m.ack_rate, 1),
                    "wrk_req_per_s": wrk_rps,
                    "vs_wrk": round(share, 3),
                    "cpu_s": m.generator.get("cpu_s"),
                    "chosen": False,
                }
            )
            self.say(
                f"generator, {procs} process(es), {cfg.wrk_connections} connections: "
                f"{m.ack_rate:.0f} req/s = {share:.2f} x wrk"
            )
            if best is None or m.ack_rate > best[1]:
                best = (procs, m.ack_rate)
            if share >= cfg.min_generator_vs_wrk:
                break
        if best is not None:
            self.processes = best[0]
            for t in trials:
                t["chosen"] = t["processes"] == best[0]
            if best[1] < cfg.min_generator_vs_wrk * wrk_rps and rep == 0:
                self.data.problems.append(
                    f"the generator reached {best[1] / wrk_rps:.2f} x wrk with {best[0]} process(es), "
                    f"below {cfg.min_generator_vs_wrk}: the floor's figure is partly the generator's"
                )
        self.data.generator_trials += trials

    def pipeline_target(self, kind: Path_, read_back: bool) -> PipelineTarget:
        cfg = self.cfg
        return PipelineTarget(
            self.c,
            self.pool(self.processes),
            cfg.bounds,
            batch=cfg.batch_size if kind == "batch" else 0,
            concurrency=cfg.concurrency,
            payload_size=cfg.payload_size,
            conversations=cfg.conversations,
            read_back=read_back,
        )

    def path_data(self, kind: Path_) -> PathData:
        return self.data.single if kind == "single" else self.data.batch

    def ingest(self, kind: Path_, rep: int) -> None:
        """The path's maximum sustainable ingest rate (consumers stopped)."""
        cfg = self.cfg
        target = self.pipeline_target(kind, read_back=False)
        floor = median(s.probe.ack_rate for s in self.data.floor if s.probe is not None) or 1000.0
        if kind in self.estimates:
            rate = 1.5 * self.estimates[kind]  # the previous round's maximum, and room above it
        elif kind == "single":
            rate = 1.2 * floor  # the API never answers faster than the floor
        else:
            # batching saves the HTTP cost per message, not the produce cost: a few times the
            # per-message maximum saturates it
            rate = 4.0 * self.estimates.get("single", floor)
        first = self.attempt(
            f"{kind} ingest probe #{rep + 1}", probe, target, rate, cfg.probe_s, f"r{rep + 1}"
        )
        if first is None:
            return
        s = self.attempt(
            f"{kind} ingest search #{rep + 1}",
            find_max_rate,
            target,
            estimate=first.ack_rate,
            step_s=cfg.step_s,
            criterion="ingest",
            max_steps=cfg.max_steps,
            tag=f"r{rep + 1}",
            say=self.say,
            probe=first,
        )
        if s is not None:
            self.path_data(kind).ingest.append(s)
            if s.ack_rate:
                self.estimates[kind] = s.ack_rate
            self.say(
                f"{kind} ingest search #{rep + 1}: maximum sustainable {_max(s)} msg/s "
                f"(load {_load()})"
            )
        self.data.note_load(f"ingest-{kind}")

    def producer_performance(
        self, rep: int, tools: Path, log4j: Path, payload: Path, sizes: dict[str, int]
    ) -> None:
        cfg, d, c = self.cfg, self.data, self.c
        kafka = c.prov.kafka
        if rep == 0:
            # an unrecorded sizing run: a first, short run is mostly the JVM warming up, and
            # would make the first repetition a different measurement from the others
            argv = kt.producer_performance_argv(
                kafka.java,
                kafka.classpath,
                log4j,
                bootstrap=c.kafka_bootstrap("api"),
                topic=c.spec.topic,
                records=cfg.pp_records,
                payload_file=payload,
                warmup_records=int(cfg.pp_records * cfg.pp_warmup),
            )
            r0 = self.attempt(
                "ProducerPerformance sizing run",
                _producer_performance,
                argv,
                tools / "pp-sizing.log",
            )
            if r0 is not None:
                n = _clamp(
                    r0.records_per_s * cfg.pp_seconds / (1 - cfg.pp_warmup), 10_000, 5_000_000
                )
                sizes["proxied"] = sizes["direct"] = n
                self.say(
                    f"ProducerPerformance sizing run: {r0.records_per_s:.0f} records/s; "
                    f"{n} records per run"
                )
        for label, boot, into in (
            ("proxied", c.kafka_bootstrap("api"), d.pp_proxied),
            ("direct", c.kafka_direct, d.pp_direct),
        ):
            n = sizes[label]
            argv = kt.producer_performance_argv(
                kafka.java,
                kafka.classpath,
                log4j,
                bootstrap=boot,
                topic=c.spec.topic,
                records=n,
                payload_file=payload,
                warmup_records=int(n * cfg.pp_warmup),
            )
            r = self.attempt(
                f"ProducerPerformance {label} #{rep + 1}",
                _producer_performance,
                argv,
                tools / f"pp-{label}-{rep + 1}.log",
            )
            into.append(r)
            d.note_load("kafka")
            if r is not None:
                self.say(
                    f"ProducerPerformance {label} #{rep + 1}: {r.records_per_s:.0f} records/s "
                    f"(p99 {r.p99_ms:.0f} ms, {n} records, load {_load()})"
                )
                # the next round sends about pp_seconds of steady state, whatever the machine
                sizes[label] = _clamp(
                    r.records_per_s * cfg.pp_seconds / (1 - cfg.pp_warmup), 10_000, 5_000_000
                )

    def end_to_end_latency(self, rep: int, tools: Path, log4j: Path, sizes: dict[str, int]) -> None:
        cfg, d, c = self.cfg, self.data, self.c
        kafka = c.prov.kafka
        n = sizes["e2el"]
        argv = kt.end_to_end_latency_argv(
            kafka.java,
            kafka.classpath,
            log4j,
            bootstrap=c.kafka_bootstrap("api"),
            topic=c.spec.topic,
            records=n,
            record_size=round(d.record_size or 300),
        )
        e = self.attempt(
            f"EndToEndLatency #{rep + 1}", _end_to_end_latency, argv, tools / f"e2el-{rep + 1}.log"
        )
        d.e2el.append(e)
        d.note_load("kafka")
        if e is not None:
            self.say(
                f"EndToEndLatency #{rep + 1}: p50 {e.p50_ms:g} ms, p99 {e.p99_ms:g} ms "
                f"({n} records, load {_load()})"
            )
            sizes["e2el"] = _clamp(cfg.e2el_seconds * 1000.0 / max(e.avg_ms, 0.1), 200, 20_000)

    def raw_inserts(self, rep: int) -> None:
        cfg, d = self.cfg, self.data
        for with_view, into in ((False, d.raw), (True, d.raw_view)):
            label = "raw insert" + (" + view" if with_view else "")
            prev = median(r.docs_per_s for r in into if r is not None)
            n = (
                cfg.raw_docs
                if prev is None
                else _clamp(prev * cfg.raw_seconds, 2000, cfg.raw_docs * 10)
            )
            r = self.attempt(
                f"{label} #{rep + 1}",
                stack_ops.raw_insert,
                self.c,
                n,
                self.batch_size,
                cfg.payload_size,
                f"raw{rep}{int(with_view)}",
                with_view=with_view,
                read_buckets=cfg.settings.get("WIBER_STORE_READ_BUCKETS"),
            )
            into.append(r)
            d.note_load("raw")
            if r is not None:
                self.say(
                    f"{label} #{rep + 1}: {r.docs_per_s:.0f} docs/s ({r.docs} docs, load {_load()})"
                )

    # -- phases 3 and 4 ---------------------------------------------------------------------------
    def sink_records(self) -> int:
        """About ``sink_seconds`` of draining, from the sink (or raw insert) rate seen so far."""
        cfg, d = self.cfg, self.data
        rate = median(r.stored_per_s for r in d.sink if r is not None)
        if rate is None:
            raw = median(r.docs_per_s for r in d.raw_view if r is not None)
            rate = raw * 0.5 if raw else None
        return (
            cfg.sink_records
            if rate is None
            else _clamp(rate * cfg.sink_seconds, 2000, cfg.sink_records * 10)
        )

    def sink(self) -> None:
        cfg, d, c = self.cfg, self.data, self.c
        for rep in range(cfg.repetitions):
            if rep:
                stack_ops.stop_consumers(c)
            with self.phase("raw"):  # the sink's reference, right before it
                self.raw_inserts(rep)
            n = self.sink_records()
            r = self.attempt(
                f"sink #{rep + 1}",
                measure_sink,
                c,
                n,
                cfg.payload_size,
                f"sink{rep}-{int(time.time())}",
            )
            d.sink.append(r)
            d.note_load("sink")
            if r is not None:
                self.say(
                    f"sink #{rep + 1}: {r.stored_per_s or 0:.0f} stored/s "
                    f"({r.records} records in {r.drain_s:.1f} s, load {_load()})"
                )
        if not all(c.is_running(n2) for n2 in stack_ops.consumer_names(c)):
            stack_ops.skip_group_to_end(c)
            stack_ops.start_consumers(c)
        stack_ops.reset_store(c)

    def end_to_end(self, kind: Path_) -> None:
        """The path's maximum sustainable rate with the consumers keeping up, then the levels."""
        cfg, d = self.cfg, self.data
        pdata = self.path_data(kind)
        target = self.pipeline_target(kind, read_back=True)
        ingest = median(s.ack_rate for s in pdata.ingest)
        sink = median(r.stored_per_s for r in d.sink if r is not None)
        caps = [x for x in (ingest, sink) if x]
        if not caps:
            d.problems.append(
                f"{kind}: neither an ingest maximum nor a sink capacity; no end-to-end runs"
            )
            return
        for rep in range(cfg.e2e_searches):
            s: Search | None = self.attempt(
                f"{kind} e2e search #{rep + 1}",
                find_max_rate,
                target,
                estimate=min(caps),
                step_s=cfg.step_s,
                criterion="e2e",
                start=0.85,
                max_steps=cfg.max_steps,
                tag=f"e{rep + 1}",
                say=self.say,
            )
            if s is not None:
                pdata.e2e.append(s)
                self.say(
                    f"{kind} e2e search #{rep + 1}: maximum sustainable {_max(s)} msg/s "
                    f"(load {_load()})"
                )
            d.note_load(f"e2e-{kind}")
        msr = median(s.rate for s in pdata.e2e)
        if not msr:
            d.problems.append(f"{kind}: no rate held end to end; no latency levels")
            return
        for rep in range(cfg.repetitions):
            for f in cfg.levels:
                m = self.attempt(
                    f"{kind} level {f:g} #{rep + 1}",
                    target.measure,
                    f * msr,
                    cfg.level_s,
                    f"L{f:g}r{rep + 1}",
                )
                if m is not None:
                    pdata.levels.setdefault(f, []).append(m)
                    self.say(
                        f"{kind} {f:.0%} of {msr:.0f}/s #{rep + 1}: ack p99 {m.ack.get('p99')} ms, "
                        f"e2e p99 {(m.e2e or {}).get('p99')} ms (load {_load()})"
                    )
                d.note_load(f"levels-{kind}")

    # -- phase 5 --------------------------------------------------------------------------------
    def profiles(self) -> None:
        cfg, d, c = self.cfg, self.data, self.c
        pdir = self.out / "profiles"
        kinds: tuple[Path_, ...] = ("single", "batch")
        for kind in kinds:
            pdata = self.path_data(kind)
            msr = median(s.rate for s in pdata.e2e)
            if not msr:
                continue
            target = self.pipeline_target(kind, read_back=True)
            profs = [
                Profiler(int(c.node(n).pid or 0), f"{kind}-{n}", pdir, cfg.profile_s, role=n)
                for n in ("api-1", "consumer-1")
            ]
            meter = CpuMeter(self.stack_pids())
            cores: dict[str, float | None] = {}

            def attach(
                ps: list[Profiler] = profs,
                mt: CpuMeter = meter,
                out: dict[str, float | None] = cores,
            ) -> None:
                # a second in: the generator's workers are sending, the pipeline is at pace
                threading.Timer(1.0, _start_all, args=(ps, mt, cfg.profile_s, out)).start()

            target.on_start = attach
            self.say(f"profiling {kind} at {msr:.0f} msg/s for {cfg.profile_s:g} s")
            m = self.attempt(f"profile {kind}", target.measure, msr, cfg.profile_s + 3.0, "profile")
            for p in profs:
                s = p.finish()
                s["scenario"] = f"{kind} POST at its end-to-end maximum ({msr:.0f} msg/s)"
                s["stack_cores"] = cores
                if m is not None:
                    s["load"] = {
                        "ack_rate": round(m.ack_rate, 1),
                        "held": m.held,
                        "ack_p99_ms": m.ack.get("p99"),
                        "e2e_p99_ms": (m.e2e or {}).get("p99"),
                    }
                d.profiles.append(s)
        sink_rate = median(r.stored_per_s for r in d.sink if r is not None) or 2000.0
        records = max(cfg.sink_records, int(sink_rate * (cfg.profile_s + 4)))
        stack_ops.stop_consumers(c)
        holder: list[Profiler] = []
        sink_cores: dict[str, float | None] = {}

        def on_started() -> None:
            p = Profiler(
                int(c.node("consumer-1").pid or 0),
                "sink-consumer-1",
                pdir,
                cfg.profile_s,
                role="consumer-1",
            )
            holder.append(p)
            _start_all([p], CpuMeter(self.stack_pids()), cfg.profile_s, sink_cores)

        self.say(f"profiling the sink draining {records} records")
        r = self.attempt(
            "profile sink",
            measure_sink,
            c,
            records,
            cfg.payload_size,
            f"sinkprof-{int(time.time())}",
            on_started=on_started,
        )
        for p in holder:
            s = p.finish()
            s["scenario"] = f"consumers draining a backlog of {records} records"
            s["stack_cores"] = sink_cores
            if r is not None:
                s["load"] = {"stored_per_s": r.stored_per_s}
            d.profiles.append(s)

    def stack_pids(self) -> dict[str, int]:
        """Every process of the stack and the generator, by name (for the CPU meter)."""
        pids = {p.name: p.pid for p in self.c.processes() if p.pid}
        for n, pool in self.pools.items():
            for w, pid in enumerate(pool.pids):
                pids[f"generator-{n}.{w}"] = pid
        return pids

    def checkers(self) -> None:
        from wiber_harness.bench.checkers_timing import bench

        self.say(f"timing the checkers on {self.cfg.checkers_ops} synthetic ops")
        self.data.note_load("checkers")
        r = self.attempt("checkers", bench, self.cfg.checkers_ops)
        if r is not None:
            self.data.checkers = r
            self.say(
                f"checkers + metrics: {r['total_s']} s wall, {r['total_cpu_s']} s CPU on {r['ops']} ops"
            )


def _producer_performance(argv: list[str], log: Path) -> kt.ProducerPerfResult:
    return kt.parse_producer_performance(kt.run_tool(argv, log, 600)[0])


def _end_to_end_latency(argv: list[str], log: Path) -> kt.EndToEndResult:
    return kt.parse_end_to_end_latency(kt.run_tool(argv, log, 600)[0])


def _start_all(
    profilers: list[Profiler], meter: CpuMeter, seconds: float, out: dict[str, float | None]
) -> None:
    """Start the profilers and the CPU meter; the meter's reading lands in ``out`` after ``seconds``."""
    for p in profilers:
        p.start()
    meter.start()
    threading.Timer(seconds, lambda: out.update(meter.stop())).start()


def _clamp(x: float, lo: int, hi: int) -> int:
    return int(min(max(x, lo), hi))


def _max(s: Search) -> str:
    """A search's answer as said in progress lines: "at least" when its last step still held."""
    return ("at least " if s.open_ended else "") + _r(s.ack_rate)


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _drop_data(cluster_dir: Path) -> None:
    """Remove the nodes' data directories (hundreds of MB); keep their logs."""
    for d in cluster_dir.glob("nodes/*/data"):
        shutil.rmtree(d, ignore_errors=True)


def run_bench(cfg: BenchConfig, say: Say | None = None) -> BenchResult:
    """Run the benchmark described by ``cfg`` (see the module docstring)."""
    return _Bench(cfg, say or (lambda s: None)).run()


__all__ = ["BenchResult", "run_bench"]
