"""Phase 2 of the bench: ingest and its references, the consumers stopped.

:func:`ingest_and_references` stops the consumers (nothing but the measured
client writes the topic or the store), starts the HTTP floor and runs
``repetitions`` rounds, each measuring the two sides of every ingest ratio
back to back:

* :func:`floor_round`: ``wrk`` against the floor; the generator against the
  floor with wrk's connection count, saturated (:func:`generator_check`);
  then the floor's maximum sustainable rate with the bench's generator;
* :func:`ingest` ``single``: per-message ``POST /messages``, its maximum
  sustainable ingest rate;
* :func:`producer_performance`: ProducerPerformance through the API's
  proxied bootstrap, and direct (the first round starts with an unrecorded
  sizing run; every recorded run is then about ``pp_seconds`` of steady
  state);
* :func:`ingest` ``batch``: ``POST /messages/batch``, likewise;
* :func:`end_to_end_latency`: EndToEndLatency through the API's proxied
  bootstrap (later runs about ``e2el_seconds`` of round trips).

The floor and the batch path are measured only when they apply to the
system (:mod:`wiber_harness.bench.applicability`); the floor runs under the
system's own API command line.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from wiber_harness.bench import kafka_tools as kt
from wiber_harness.bench import stack_ops
from wiber_harness.bench.context import BenchRun, PathKind, clamp, load_text, max_text
from wiber_harness.bench.floor import FloorServer, run_wrk
from wiber_harness.bench.measure import Measure
from wiber_harness.bench.search import held, probe
from wiber_harness.bench.stats import median


def ingest_and_references(b: BenchRun) -> None:
    cfg, d, c = b.cfg, b.data, b.c
    b.say("ingest and references: stopping the consumers (only the measured client writes)")
    stack_ops.stop_consumers(c)
    tools = b.work / "tools"
    log4j = kt.write_tools_log4j(tools)
    payload = tools / "payloads.txt"
    d.record_size = round(kt.write_payload_file(payload, 5000, cfg.payload_size), 1)
    sizes = {"proxied": cfg.pp_records, "direct": cfg.pp_records, "e2el": cfg.e2el_records}
    assert b.watchdog is not None
    with contextlib.ExitStack() as stack:
        url = None
        if b.applies("api_ingest_efficiency"):
            srv = stack.enter_context(FloorServer(b.work / "floor", b.watchdog, system=c.spec))
            url = srv.url
            b.say(f"HTTP floor at {srv.url} (pid {srv.pid})")
        for rep in range(cfg.repetitions):
            if url is not None:
                with b.phase("floor"):
                    floor_round(b, url, rep)
            with b.phase("ingest-single"):
                ingest(b, "single", rep)
            with b.phase("kafka"):
                producer_performance(b, rep, tools, log4j, payload, sizes)
            if "batch" in b.paths:
                with b.phase("ingest-batch"):
                    ingest(b, "batch", rep)
            with b.phase("kafka"):
                end_to_end_latency(b, rep, tools, log4j, sizes)
    d.generator_processes = b.processes


def floor_round(b: BenchRun, url: str, rep: int) -> None:
    cfg, d = b.cfg, b.data
    w = run_wrk(
        url,
        cfg.wrk_s,
        b.work / "floor",
        threads=cfg.wrk_threads,
        connections=cfg.wrk_connections,
        payload_size=cfg.payload_size,
    )
    d.wrk.append(w)
    if w.error:
        d.problems.append(f"wrk #{rep + 1}: {w.error}")
    b.say(f"wrk #{rep + 1}: {w.req_per_s} req/s (load {load_text()})")
    if w.req_per_s:
        generator_check(b, url, w.req_per_s, rep)
    # beyond what the floor serves, not far beyond: skipping costs the generator CPU too
    rate = 1.5 * w.req_per_s if w.req_per_s else cfg.floor_probe_rate
    target = b.floor_target(url)
    first = b.probe("floor", target, rate, rep)
    if first is None:
        return
    s = b.search_from("floor", target, first, rep)
    if s is not None:
        d.floor.append(s)
        b.say(f"floor search #{rep + 1}: maximum sustainable {max_text(s)} req/s")
    d.note_load("floor")


def generator_check(b: BenchRun, url: str, wrk_rps: float, rep: int) -> None:
    """The generator against the floor as wrk loads it: same connections, saturated.

    The first round picks the number of generator processes: 1, or more
    (up to ``max_generator_processes``) while the generator reaches less
    than ``min_generator_vs_wrk`` of wrk; later rounds measure the chosen
    number again, so the check has a sample per repetition.
    """
    cfg = b.cfg
    fixed = rep > 0 or cfg.generator_processes > 0
    counts = [b.processes] if fixed else list(range(1, cfg.max_generator_processes + 1))
    best: tuple[int, float] | None = None
    trials: list[dict[str, Any]] = []
    for procs in counts:
        m = b.attempt(
            f"generator check ({procs})",
            probe,
            b.floor_target(url, procs, cfg.wrk_connections),
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
        b.say(
            f"generator, {procs} process(es), {cfg.wrk_connections} connections: "
            f"{m.ack_rate:.0f} req/s = {share:.2f} x wrk"
        )
        if best is None or m.ack_rate > best[1]:
            best = (procs, m.ack_rate)
        if share >= cfg.min_generator_vs_wrk:
            break
    if best is not None:
        b.processes = best[0]
        for t in trials:
            t["chosen"] = t["processes"] == best[0]
        if best[1] < cfg.min_generator_vs_wrk * wrk_rps and rep == 0:
            b.data.problems.append(
                f"the generator reached {best[1] / wrk_rps:.2f} x wrk with {best[0]} "
                f"process(es), below {cfg.min_generator_vs_wrk}: the floor's figure is "
                "partly the generator's"
            )
    b.data.generator_trials += trials


def ingest(b: BenchRun, kind: PathKind, rep: int) -> None:
    """The path's maximum sustainable ingest rate (consumers stopped)."""
    target = b.pipeline_target(kind, read_back=False)
    floor = median(s.probe.ack_rate for s in b.data.floor if s.probe is not None) or 1000.0
    if kind in b.estimates:
        rate = 1.5 * b.estimates[kind]  # the previous round's maximum, and room above it
    elif kind == "single":
        rate = 1.2 * floor  # the API never answers faster than the floor
    else:
        # batching saves the HTTP cost per message, not the produce cost: a few times the
        # per-message maximum saturates it
        rate = 4.0 * b.estimates.get("single", floor)
    first = b.probe(f"{kind} ingest", target, rate, rep)
    if first is None:
        return
    kafka = median(r.records_per_s for r in b.data.pp_proxied if r is not None)
    first = saturating_probe(b, f"{kind} ingest", target, first, rep, kafka or float("inf"))
    s = b.search_from(f"{kind} ingest", target, first, rep, "ingest")
    if s is not None:
        b.path_data(kind).ingest.append(s)
        if s.ack_rate:
            b.estimates[kind] = s.ack_rate
        b.say(
            f"{kind} ingest search #{rep + 1}: maximum sustainable {max_text(s)} msg/s "
            f"(load {load_text()})"
        )
    b.data.note_load(f"ingest-{kind}")


PROBE_GROWTH = 3.0
MAX_REPROBES = 2


def saturating_probe(
    b: BenchRun, what: str, target: Any, first: Measure, rep: int, cap: float
) -> Measure:
    """A probe that held was not beyond the capacity, so its ack rate is only a lower
    bound of it: offer ``PROBE_GROWTH`` times more, up to ``MAX_REPROBES`` times and at
    most ``cap`` (Kafka's own producer rate: no path through the API can beat it). The
    last probe is the one the search starts from."""
    m, tries = first, 0
    while held(m, "ingest") and tries < MAX_REPROBES and m.rate < cap:
        rate = min(m.rate * PROBE_GROWTH, cap)
        b.say(f"{what} probe held at {m.rate:.0f}/s (not saturated); probing at {rate:.0f}/s")
        nxt = b.probe(what, target, rate, rep)
        if nxt is None:
            break
        m, tries = nxt, tries + 1
    return m


def producer_performance(
    b: BenchRun, rep: int, tools: Path, log4j: Path, payload: Path, sizes: dict[str, int]
) -> None:
    cfg, d, c = b.cfg, b.data, b.c
    kafka = c.prov.kafka

    def argv(bootstrap: str, records: int) -> list[str]:
        return kt.producer_performance_argv(
            kafka.java,
            kafka.classpath,
            log4j,
            bootstrap=bootstrap,
            topic=c.spec.topic,
            records=records,
            payload_file=payload,
            warmup_records=int(records * cfg.pp_warmup),
        )

    def records_for(records_per_s: float) -> int:
        # the next run sends about pp_seconds of steady state, whatever the machine
        return clamp(records_per_s * cfg.pp_seconds / (1 - cfg.pp_warmup), 10_000, 5_000_000)

    if rep == 0:
        # an unrecorded sizing run: a first, short run is mostly the JVM warming up, and
        # would make the first repetition a different measurement from the others
        r0 = b.attempt(
            "ProducerPerformance sizing run",
            _producer_performance,
            argv(c.kafka_bootstrap("api"), cfg.pp_records),
            tools / "pp-sizing.log",
        )
        if r0 is not None:
            n = records_for(r0.records_per_s)
            sizes["proxied"] = sizes["direct"] = n
            b.say(
                f"ProducerPerformance sizing run: {r0.records_per_s:.0f} records/s; "
                f"{n} records per run"
            )
    for label, boot, into in (
        ("proxied", c.kafka_bootstrap("api"), d.pp_proxied),
        ("direct", c.kafka_direct, d.pp_direct),
    ):
        n = sizes[label]
        r = b.attempt(
            f"ProducerPerformance {label} #{rep + 1}",
            _producer_performance,
            argv(boot, n),
            tools / f"pp-{label}-{rep + 1}.log",
        )
        into.append(r)
        d.note_load("kafka")
        if r is not None:
            b.say(
                f"ProducerPerformance {label} #{rep + 1}: {r.records_per_s:.0f} records/s "
                f"(p99 {r.p99_ms:.0f} ms, {n} records, load {load_text()})"
            )
            sizes[label] = records_for(r.records_per_s)


def end_to_end_latency(
    b: BenchRun, rep: int, tools: Path, log4j: Path, sizes: dict[str, int]
) -> None:
    cfg, d, c = b.cfg, b.data, b.c
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
    e = b.attempt(
        f"EndToEndLatency #{rep + 1}", _end_to_end_latency, argv, tools / f"e2el-{rep + 1}.log"
    )
    d.e2el.append(e)
    d.note_load("kafka")
    if e is not None:
        b.say(
            f"EndToEndLatency #{rep + 1}: p50 {e.p50_ms:g} ms, p99 {e.p99_ms:g} ms "
            f"({n} records, load {load_text()})"
        )
        sizes["e2el"] = clamp(cfg.e2el_seconds * 1000.0 / max(e.avg_ms, 0.1), 200, 20_000)


def _producer_performance(argv: list[str], log: Path) -> kt.ProducerPerfResult:
    return kt.parse_producer_performance(kt.run_tool(argv, log, 600)[0])


def _end_to_end_latency(argv: list[str], log: Path) -> kt.EndToEndResult:
    return kt.parse_end_to_end_latency(kt.run_tool(argv, log, 600)[0])


__all__ = [
    "end_to_end_latency",
    "floor_round",
    "generator_check",
    "ingest",
    "ingest_and_references",
    "producer_performance",
]
