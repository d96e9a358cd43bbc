"""One measured load: sent open loop, drained, read back, judged against the bounds.

A *target* is where load goes and how it is read back:

* :class:`FloorTarget`: the HTTP floor; acknowledgement latency only;
* :class:`PipelineTarget`: the API(s) of the running stack, per-message
  (``batch=0``) or batched; after the load it waits for the pipeline to
  drain (:func:`wiber_harness.end_phase.drain`: everything acknowledged
  stored, group lag 0), reads the store (only this load's documents), and
  resets the store for the next load
  (:func:`~wiber_harness.bench.stack_ops.reset_store`).

:meth:`measure` returns a :class:`Measure` computed by the harness's own
metrics (:func:`wiber_harness.metrics.summary` over one
:class:`~wiber_harness.checkers.analysis.Analysis`):

* ``ack`` / ``e2e``: latency percentiles (ms) from each message's
  *intended* send time (no coordinated omission) to its acknowledgement /
  to its ``storedAtNs`` in the store; ``*_hist``: the HDR histograms
  (encoded, microseconds) behind them;
* ``ack_rate``: acknowledged messages per second, ``ok / max(duration,
  last ok - start)``: the offered rate when the target keeps up, what it
  really acknowledged when it does not;
* ``backlog_growth``: slope (messages/s, least squares over 0.25 s bins
  after the first 0.5 s) of acknowledged-but-not-stored messages during the
  load: near 0 when the consumers keep up, the shortfall when they do not;
* ``lost`` / ``duplicated``: the delivery checker's counts (promises seen
  broken while benchmarking), None when the store was not read or did not
  drain;
* ``ingest_held``: the *ingest* side held: the generator kept up (sent
  >= ``min_send_ratio`` of the offered rate, at most ``max_skipped`` of
  the schedule skipped at the concurrency bound), at most ``max_errors``
  of the sends failed, and ack p99 <= ``ack_p99_ms``;
* ``held``: the ingest side held and, when the store was read back, e2e
  p99 <= ``e2e_p99_ms``, the backlog grew by at most
  ``max_backlog_growth`` x rate per second, and the pipeline drained.
  ``why`` names each bound the load broke (ingest bounds first).

The store read keeps only this load's documents (:func:`load_filter`: by
idempotency-key prefix, or by the tags' nonces for a pipeline that stores
no key). A pipeline that stores no write time has the store polled during
the load (:class:`~wiber_harness.bench.store_poll.StorePoller`, every
``poll_s``; its counts in ``generator["store_poll"]``), and the first
sighting of each document is its stored time.

With ``read_back=False`` a :class:`PipelineTarget` neither drains nor
reads the store (the bench stops the consumers for its ingest-only
searches): ``e2e``, ``backlog_growth``, ``lost`` are None and ``held`` is
``ingest_held``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from wiber_harness.bench.generator import GeneratorPool, LoadRun, LoadSpec
from wiber_harness.bench.stack_ops import reset_store
from wiber_harness.bench.store_poll import StorePoller
from wiber_harness.checkers.analysis import OK, Analysis
from wiber_harness.checkers.delivery import delivery_from
from wiber_harness.clock import Clock
from wiber_harness.cluster.base import Cluster
from wiber_harness.end_phase import StoreWatch, drain, observed_times, read_store
from wiber_harness.metrics import summary
from wiber_harness.reads import FinalReads, StoredRecord
from wiber_harness.workload.tag import nonce_for

Kind = Literal["floor", "single", "batch"]
NS = 1_000_000_000
BIN_NS = 250_000_000


@dataclass(frozen=True)
class Bounds:
    """When a load *held* (see the module docstring)."""

    ack_p99_ms: float = 1000.0
    e2e_p99_ms: float = 3000.0
    min_send_ratio: float = 0.95
    max_skipped: float = 0.01
    max_errors: float = 0.01
    max_backlog_growth: float = 0.10

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass
class Measure:
    """One load on one target, measured (see the module docstring for each field)."""

    kind: Kind
    tag: str
    rate: float
    duration: float
    batch: int
    scheduled: int
    sent: int
    skipped: int
    ok: int
    failed: int
    indeterminate: int
    send_rate: float
    ack_rate: float
    ack: dict[str, Any]
    e2e: dict[str, Any] | None
    ack_hist: str | None
    e2e_hist: str | None
    backlog_growth: float | None
    drained: bool | None
    drain_s: float | None
    lost: int | None
    duplicated: int | None
    generator: dict[str, Any]
    load_avg: tuple[float, float, float]
    started_at: float
    held: bool = False
    ingest_held: bool = False
    why: list[str] = field(default_factory=list)

    def judge(self, b: Bounds) -> None:
        why: list[str] = []
        if self.send_rate < b.min_send_ratio * self.rate:
            why.append(f"the generator sent {self.send_rate:.0f}/s of {self.rate:.0f}/s offered")
        if self.scheduled and self.skipped > b.max_skipped * self.scheduled:
            why.append(f"{self.skipped} of {self.scheduled} sends skipped at the concurrency bound")
        bad = self.failed + self.indeterminate
        if self.sent and bad > b.max_errors * self.sent:
            why.append(f"{bad} of {self.sent} sends failed or indeterminate")
        p99 = self.ack.get("p99")
        if p99 is None or p99 > b.ack_p99_ms:
            why.append(f"ack p99 {p99} ms > {b.ack_p99_ms:g} ms")
        self.ingest_held = not why
        if self.e2e is not None:
            e99 = self.e2e.get("p99")
            if e99 is None or e99 > b.e2e_p99_ms:
                why.append(f"e2e p99 {e99} ms > {b.e2e_p99_ms:g} ms")
            g = self.backlog_growth
            if g is not None and g > b.max_backlog_growth * self.rate:
                why.append(f"backlog grew {g:.0f} msg/s (> {b.max_backlog_growth:.0%} of the rate)")
            if self.drained is False:
                why.append("the pipeline did not drain")
        self.why = why
        self.held = not why

    def to_dict(self, histograms: bool = True) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if histograms or not k.endswith("_hist")}
        d["load_avg"] = list(self.load_avg)
        for k in ("rate", "send_rate", "ack_rate", "backlog_growth"):
            if isinstance(d.get(k), float):
                d[k] = round(d[k], 2)
        return d


class Target(Protocol):
    kind: Kind

    def measure(self, rate: float, duration: float, tag: str) -> Measure: ...


def _backlog_growth(an: Analysis, start_ns: int, end_ns: int) -> float | None:
    s, st = an.sends, an.store
    acked = np.sort(s.k_ack[~np.isnan(s.k_ack)])
    stored = np.sort(st.r_stored_at[~np.isnan(st.r_stored_at)])
    edges = np.arange(start_ns + NS // 2, end_ns + 1, BIN_NS, dtype=np.float64)
    if len(edges) < 3:
        return None
    backlog = np.searchsorted(acked, edges, side="right") - np.searchsorted(
        stored, edges, side="right"
    )
    slope = np.polyfit((edges - edges[0]) / NS, backlog.astype(np.float64), 1)[0]
    return float(slope)


def measure_run(
    load: LoadRun,
    kind: Kind,
    tag: str,
    reads: FinalReads | None,
    bounds: Bounds,
    drained: bool | None = None,
    drain_s: float | None = None,
) -> Measure:
    """Metrics of one finished load (``reads``: the store's documents of this load, or None)."""
    spec = load.spec
    an = Analysis(load.ops, reads or FinalReads())
    summ = summary(load.ops, reads or FinalReads(), analysis=an)
    s = an.sends
    ok_done = s.a_done[s.a_outcome == OK]
    c = summ["counts"]
    last_ok = float(np.nanmax(ok_done)) if len(ok_done) else float(load.start_ns)
    span = max(spec.duration, (last_ok - load.start_ns) / NS)
    scheduled = load.worker_sum("scheduled")
    lost = dup = None
    growth = None
    e2e = None
    if reads is not None:
        e2e = summ["e2e_latency_ms"]
        growth = _backlog_growth(an, load.start_ns, load.end_ns)
        if drained:
            d = delivery_from(an)
            lost, dup = int(d.counts.get("lost", 0)), int(d.counts.get("duplicated", 0))
    gen = {
        "processes": spec.processes,
        "cpu_s": round(sum(float(w.get("cpu_s", 0.0)) for w in load.workers), 3),
        "launch_lag_p99_ms": round(load.worker_max("launch_lag_p99_ms"), 3),
        "launch_lag_max_ms": round(load.worker_max("launch_lag_max_ms"), 3),
        "loop": load.workers[0].get("loop") if load.workers else None,
        "client_errors": load.worker_sum("client_errors"),
    }
    m = Measure(
        kind=kind,
        tag=tag,
        rate=spec.rate,
        duration=spec.duration,
        batch=spec.batch,
        scheduled=scheduled,
        sent=int(c["sent"]),
        skipped=load.worker_sum("skipped"),
        ok=int(c["acknowledged"]),
        failed=int(c["failed"]),
        indeterminate=int(c["indeterminate"]),
        send_rate=sum(float(w.get("achieved_rate", 0.0)) for w in load.workers),
        ack_rate=int(c["acknowledged"]) / span if span > 0 else 0.0,
        ack=summ["ack_latency_ms"],
        e2e=e2e,
        ack_hist=summ["histograms"]["ack"],
        e2e_hist=summ["histograms"]["e2e"] if reads is not None else None,
        backlog_growth=growth,
        drained=drained,
        drain_s=None if drain_s is None else round(drain_s, 3),
        lost=lost,
        duplicated=dup,
        generator=gen,
        load_avg=os.getloadavg(),
        started_at=time.time(),
    )
    m.judge(bounds)
    return m


@dataclass
class FloorTarget:
    """The HTTP floor at ``url``, loaded by ``pool``."""

    url: str
    pool: GeneratorPool
    bounds: Bounds
    concurrency: int = 256
    payload_size: int = 64
    kind: Kind = "floor"
    _n: int = 0

    def measure(self, rate: float, duration: float, tag: str) -> Measure:
        self._n += 1
        spec = LoadSpec(
            (self.url,),
            rate,
            duration,
            concurrency=self.concurrency,
            payload_size=self.payload_size,
            run_id=f"floor{self._n}-{tag}",
            processes=self.pool.processes,
        )
        load = self.pool.run(spec)
        return measure_run(load, "floor", tag, None, self.bounds)


@dataclass
class PipelineTarget:
    """The stack's API(s), loaded by ``pool``: per-message when ``batch`` is 0, else batches."""

    cluster: Cluster
    pool: GeneratorPool
    bounds: Bounds
    batch: int = 0
    concurrency: int = 256
    payload_size: int = 64
    conversations: int = 50
    drain_timeout: float = 120.0
    read_back: bool = True
    poll_s: float = 0.02  # store poll while loading, for a pipeline that stores no write time
    kind: Kind = "single"
    on_start: Callable[[], None] | None = None
    _n: int = 0

    def __post_init__(self) -> None:
        self.kind = "batch" if self.batch else "single"

    def measure(self, rate: float, duration: float, tag: str) -> Measure:
        self._n += 1
        run_id = f"{self.kind}{self._n}-{tag}-{os.getpid()}-{int(time.time())}"
        spec = LoadSpec(
            tuple(self.cluster.endpoints().apis),
            rate,
            duration,
            batch=self.batch,
            concurrency=self.concurrency,
            payload_size=self.payload_size,
            conversations=self.conversations,
            run_id=run_id,
            processes=self.pool.processes,
        )
        clock = Clock()
        watch = StoreWatch(clock)
        poller = None
        on_start = self.on_start
        if self.read_back and observed_times(self.cluster):
            # no stored write time: the stored time is the first sighting (store_poll)
            poller = StorePoller(self.cluster, watch, self.poll_s)
            on_start = _both(self.on_start, poller.start)
        try:
            load = self.pool.run(spec, self.cluster.spec.api, on_start, clock=clock)
            if not self.read_back:
                return measure_run(load, self.kind, tag, None, self.bounds)
            drained, drain_s, _ = drain(
                self.cluster, load.ops, timeout=self.drain_timeout, settle=8.0, watch=watch
            )
        finally:
            if poller is not None:
                poller.stop()
        ours = load_filter(run_id, spec.processes)
        records = [r for r in read_store(self.cluster, load.clock, watch) if ours(r)]
        reads = FinalReads(store=records, drained=drained, drain_s=drain_s)
        try:
            m = measure_run(load, self.kind, tag, reads, self.bounds, drained, drain_s)
            if poller is not None:
                m.generator["store_poll"] = poller.to_dict()
            return m
        finally:
            reset_store(self.cluster)


def _both(first: Callable[[], None] | None, second: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        if first is not None:
            first()
        second()

    return call


def load_filter(run_id: str, processes: int) -> Callable[[StoredRecord], bool]:
    """Whether a stored record is one of this load's: its idempotency key starts with the
    load's run id, or (a pipeline that stores no key) its tag carries one of the nonces of
    the load's generator workers (each worker's run id is ``{run_id}-g{w}``)."""
    nonces = {nonce_for(f"{run_id}-g{w}") for w in range(processes)}

    def ours(r: StoredRecord) -> bool:
        if r.key is not None:
            return r.key.startswith(run_id)
        return r.tag is not None and r.tag.partition("-")[0] in nonces

    return ours


__all__ = [
    "Bounds",
    "FloorTarget",
    "Kind",
    "Measure",
    "PipelineTarget",
    "Target",
    "load_filter",
    "measure_run",
]
