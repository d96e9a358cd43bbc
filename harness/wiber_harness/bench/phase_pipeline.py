"""Phases 3 and 4 of the bench: the sink, then the pipeline end to end.

* :func:`sink`, ``repetitions`` rounds: raw ``insert_many`` through the
  consumers' store proxies, into one collection and in the consumers' layout
  (:func:`raw_inserts`, consumers still stopped), then the consumers drain
  a pre-filled backlog of about ``sink_seconds`` (:func:`sink_records`,
  :mod:`wiber_harness.bench.sink`); the consumers keep running afterwards,
  the group at the topic's end and the store empty. For a system the sink
  does not apply to (:mod:`wiber_harness.bench.applicability`) only the
  raw insert is measured.
* :func:`end_to_end`, per path: the maximum sustainable rate with the
  consumers keeping up (steps from the smaller of the ingest maximum and
  the sink's capacity, ``e2e_searches`` times), then latency runs at
  ``levels`` (fractions) of it, repetitions interleaved.
"""

from __future__ import annotations

import time

from wiber_harness.bench import stack_ops
from wiber_harness.bench.context import BenchRun, PathKind, clamp, load_text, max_text
from wiber_harness.bench.search import Search, find_max_rate
from wiber_harness.bench.sink import measure_sink
from wiber_harness.bench.stats import median


def raw_inserts(b: BenchRun, rep: int) -> None:
    cfg, d = b.cfg, b.data
    for in_layout, into in ((False, d.raw), (True, d.raw_layout)):
        if in_layout and not b.applies("raw_insert_in_layout_per_s"):
            continue
        label = "raw insert" + (" in the consumers' layout" if in_layout else "")
        prev = median(r.docs_per_s for r in into if r is not None)
        n = cfg.raw_docs if prev is None else clamp(prev * cfg.raw_seconds, 2000, cfg.raw_docs * 10)
        r = b.attempt(
            f"{label} #{rep + 1}",
            stack_ops.raw_insert,
            b.c,
            n,
            b.batch_size,
            cfg.payload_size,
            f"raw{rep}{int(in_layout)}",
            in_layout=in_layout,
            read_buckets=cfg.settings.get("WIBER_STORE_READ_BUCKETS"),
        )
        into.append(r)
        d.note_load("raw")
        if r is not None:
            b.say(
                f"{label} #{rep + 1}: {r.docs_per_s:.0f} docs/s ({r.docs} docs, load {load_text()})"
            )


def sink_records(b: BenchRun) -> int:
    """About ``sink_seconds`` of draining, from the sink (or raw insert) rate seen so far."""
    cfg, d = b.cfg, b.data
    rate = median(r.stored_per_s for r in d.sink if r is not None)
    if rate is None:
        raw = median(r.docs_per_s for r in d.raw_layout if r is not None)
        rate = raw * 0.5 if raw else None
    if rate is None:
        return cfg.sink_records
    return clamp(rate * cfg.sink_seconds, 2000, cfg.sink_records * 10)


def sink(b: BenchRun) -> None:
    cfg, d, c = b.cfg, b.data, b.c
    if not b.applies("sink_stored_per_s"):
        # the raw insert reference still applies: the same store, the same documents
        for rep in range(cfg.repetitions):
            with b.phase("raw"):
                raw_inserts(b, rep)
        b.say(f"sink: not applicable ({d.not_applicable['sink_stored_per_s']})")
        stack_ops.skip_group_to_end(c)  # the references' records are not the consumers'
        stack_ops.start_consumers(c)
        # as Wiber's, which have drained the sink's backlogs by now: joined, partitions assigned
        b.attempt(
            "consumer group join", stack_ops.wait_group_stable, c, len(c.node_names("consumer"))
        )
        stack_ops.reset_store(c)
        return
    for rep in range(cfg.repetitions):
        if rep:
            stack_ops.stop_consumers(c)
        with b.phase("raw"):  # the sink's reference, right before it
            raw_inserts(b, rep)
        n = sink_records(b)
        r = b.attempt(
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
            b.say(
                f"sink #{rep + 1}: {r.stored_per_s or 0:.0f} stored/s "
                f"({r.records} records in {r.drain_s:.1f} s, load {load_text()})"
            )
    if not all(c.is_running(n2) for n2 in stack_ops.consumer_names(c)):
        stack_ops.skip_group_to_end(c)
        stack_ops.start_consumers(c)
    stack_ops.reset_store(c)


def end_to_end(b: BenchRun, kind: PathKind) -> None:
    """The path's maximum sustainable rate with the consumers keeping up, then the levels."""
    cfg, d = b.cfg, b.data
    pdata = b.path_data(kind)
    target = b.pipeline_target(kind, read_back=True)
    ingest = median(s.ack_rate for s in pdata.ingest)
    sink_cap = median(r.stored_per_s for r in d.sink if r is not None)
    caps = [x for x in (ingest, sink_cap) if x]
    if not caps:
        d.problems.append(
            f"{kind}: neither an ingest maximum nor a sink capacity; no end-to-end runs"
        )
        return
    for rep in range(cfg.e2e_searches):
        s: Search | None = b.attempt(
            f"{kind} e2e search #{rep + 1}",
            find_max_rate,
            target,
            estimate=min(caps),
            step_s=cfg.step_s,
            criterion="e2e",
            start=0.85,
            max_steps=cfg.max_steps,
            tag=f"e{rep + 1}",
            say=b.say,
        )
        if s is not None:
            pdata.e2e.append(s)
            b.say(
                f"{kind} e2e search #{rep + 1}: maximum sustainable {max_text(s)} msg/s "
                f"(load {load_text()})"
            )
        d.note_load(f"e2e-{kind}")
    msr = median(s.rate for s in pdata.e2e)
    if not msr:
        d.problems.append(f"{kind}: no rate held end to end; no latency levels")
        return
    for rep in range(cfg.repetitions):
        for f in cfg.levels:
            m = b.attempt(
                f"{kind} level {f:g} #{rep + 1}",
                target.measure,
                f * msr,
                cfg.level_s,
                f"L{f:g}r{rep + 1}",
            )
            if m is not None:
                pdata.levels.setdefault(f, []).append(m)
                b.say(
                    f"{kind} {f:.0%} of {msr:.0f}/s #{rep + 1}: "
                    f"ack p99 {m.ack.get('p99')} ms, "
                    f"e2e p99 {(m.e2e or {}).get('p99')} ms (load {load_text()})"
                )
            d.note_load(f"levels-{kind}")


__all__ = ["end_to_end", "raw_inserts", "sink", "sink_records"]
