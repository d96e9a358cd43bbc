"""Phase 5 of the bench, and the checkers' timing.

* :func:`profiles` (``profile``): py-spy on the API and a consumer while
  each path holds its end-to-end maximum, a second after the generator's
  workers were told to go (each path the system serves); then on a consumer
  draining a pre-filled backlog (only where the sink applies).
  Each profile carries the CPU every process of the stack used over the same
  window (``stack_cores``) and what the load achieved.
* :func:`checkers` (``checkers_ops``): check_all + summary timed on a
  synthetic history (:mod:`wiber_harness.bench.checkers_timing`), after the
  stack has stopped.
"""

from __future__ import annotations

import threading
import time

from wiber_harness.bench import stack_ops
from wiber_harness.bench.context import BenchRun
from wiber_harness.bench.profiling import CpuMeter, Profiler
from wiber_harness.bench.sink import measure_sink
from wiber_harness.bench.stats import median


def profiles(b: BenchRun) -> None:
    cfg, d, c = b.cfg, b.data, b.c
    pdir = b.out / "profiles"
    for kind in b.paths:
        pdata = b.path_data(kind)
        msr = median(s.rate for s in pdata.e2e)
        if not msr:
            continue
        target = b.pipeline_target(kind, read_back=True)
        profs = [
            Profiler(int(c.node(n).pid or 0), f"{kind}-{n}", pdir, cfg.profile_s, role=n)
            for n in ("api-1", "consumer-1")
        ]
        meter = CpuMeter(b.stack_pids())
        cores: dict[str, float | None] = {}

        def attach(
            ps: list[Profiler] = profs,
            mt: CpuMeter = meter,
            out: dict[str, float | None] = cores,
        ) -> None:
            # a second in: the generator's workers are sending, the pipeline is at pace
            threading.Timer(1.0, _start_all, args=(ps, mt, cfg.profile_s, out)).start()

        target.on_start = attach
        b.say(f"profiling {kind} at {msr:.0f} msg/s for {cfg.profile_s:g} s")
        m = b.attempt(f"profile {kind}", target.measure, msr, cfg.profile_s + 3.0, "profile")
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
    if not b.applies("sink_stored_per_s"):
        return
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
        _start_all([p], CpuMeter(b.stack_pids()), cfg.profile_s, sink_cores)

    b.say(f"profiling the sink draining {records} records")
    r = b.attempt(
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


def checkers(b: BenchRun) -> None:
    from wiber_harness.bench.checkers_timing import bench

    b.say(f"timing the checkers on {b.cfg.checkers_ops} synthetic ops")
    b.data.note_load("checkers")
    r = b.attempt("checkers", bench, b.cfg.checkers_ops)
    if r is not None:
        b.data.checkers = r
        b.say(
            f"checkers + metrics: {r['total_s']} s wall, {r['total_cpu_s']} s CPU on {r['ops']} ops"
        )


def _start_all(
    profilers: list[Profiler], meter: CpuMeter, seconds: float, out: dict[str, float | None]
) -> None:
    """Start the profilers and the CPU meter; the meter's reading lands in ``out`` after
    ``seconds``."""
    for p in profilers:
        p.start()
    meter.start()
    threading.Timer(seconds, lambda: out.update(meter.stop())).start()


__all__ = ["checkers", "profiles"]
