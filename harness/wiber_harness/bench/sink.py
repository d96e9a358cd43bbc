"""The sink alone: consumers draining a backlog, against the store's raw insert rate.

:func:`measure_sink` (consumers must be stopped when it is called; they are
running when it returns):

1. commit the group at the topic's end (what earlier phases left in the
   topic is not this measurement's), empty the store;
2. pre-fill the topic with ``records`` Wiber records straight to the
   brokers (:func:`~wiber_harness.bench.stack_ops.prefill`);
3. start every consumer at once and wait until the group's lag is 0 and
   all ``records`` are stored (bounded by ``timeout``). Only the lag is
   polled while the consumers drain; the store is counted once the lag is
   0 (then at most every ``COUNT_EVERY_S``): on FerretDB a count scans and
   decodes every document (2.5 s at 50k documents on this machine kind),
   so counting every half second kept the store busy with the harness's
   own reads and cut the rate it measured;
4. ``stored_per_s``: the steady drain rate, read from the documents'
   ``storedAtNs`` stamps: (documents between the 10th and 90th percentile
   of stamps) / (time between them). Consumer start-up and group join
   (before the first stamp) and the last, partial batches are outside it.
5. ``store_cpu_s`` / ``consumers_cpu_s``: CPU seconds the store's process
   and the consumers used from their start to the end of the drain (None
   where a process cannot be measured from here), so
   :attr:`SinkRun.cpu_per_doc_s` compares with the raw insert's
   (:attr:`~wiber_harness.bench.stack_ops.RawInsert.cpu_per_doc_s`).

``on_started`` is called right after the consumers were started (the bench
attaches its profiler there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from wiber_harness.bench.profiling import process_cpu_s
from wiber_harness.bench.stack_ops import (
    consumer_names,
    group_lag,
    prefill,
    reset_store,
    skip_group_to_end,
    start_consumers,
    store_pid,
    stored_count,
    stored_times,
)
from wiber_harness.cluster.base import Cluster
from wiber_harness.errors import ClusterError

NS = 1_000_000_000
COUNT_EVERY_S = 2.0


@dataclass(frozen=True)
class SinkRun:
    """One sink measurement (see the module docstring)."""

    records: int
    stored: int
    prefill_s: float
    consumers_ready_s: float
    drain_s: float
    stored_per_s: float | None
    lag: int | None
    store_cpu_s: float | None = None
    consumers_cpu_s: float | None = None

    @property
    def cpu_per_doc_s(self) -> float | None:
        """Store and consumers' CPU seconds per stored document (None: not measured)."""
        if self.store_cpu_s is None or self.consumers_cpu_s is None or not self.stored:
            return None
        return (self.store_cpu_s + self.consumers_cpu_s) / self.stored

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 3)
        return d


def steady_rate(stamps_ns: list[int], lo: float = 0.1, hi: float = 0.9) -> float | None:
    """Documents per second between the ``lo`` and ``hi`` quantiles of the store stamps."""
    t = sorted(stamps_ns)
    if len(t) < 10:
        return None
    i, j = int(lo * (len(t) - 1)), int(hi * (len(t) - 1))
    span = (t[j] - t[i]) / NS
    return (j - i) / span if span > 0 else None


def measure_sink(
    cluster: Cluster,
    records: int,
    payload_size: int,
    run_id: str,
    *,
    timeout: float = 300.0,
    on_started: Callable[[], None] | None = None,
) -> SinkRun:
    """Drain a pre-filled backlog with the consumers (see the module docstring)."""
    skip_group_to_end(cluster)
    reset_store(cluster)
    prefill_s = prefill(cluster, records, payload_size, run_id)
    spid = store_pid(cluster)
    s0 = process_cpu_s(spid)
    t0 = time.monotonic()
    ready_s = start_consumers(cluster)
    cpids = [cluster.node(n).pid for n in consumer_names(cluster)]
    c0 = [process_cpu_s(p) for p in cpids]
    if on_started is not None:
        on_started()
    deadline = t0 + timeout
    stored, lag, counted = 0, None, 0.0
    drain_s, s1, c1 = 0.0, s0, c0
    while time.monotonic() < deadline:
        lag = group_lag(cluster)
        if lag == 0 and time.monotonic() - counted >= COUNT_EVERY_S:
            # the drain (and its CPU) ends here; the count after it is the harness's
            drain_s = time.monotonic() - t0
            s1, c1 = process_cpu_s(spid), [process_cpu_s(p) for p in cpids]
            counted = time.monotonic()
            stored = stored_count(cluster)
            if stored >= records:
                break
        time.sleep(0.5)
    else:
        drain_s = time.monotonic() - t0
        s1, c1 = process_cpu_s(spid), [process_cpu_s(p) for p in cpids]
        stored = stored_count(cluster)
    if stored < records:
        raise ClusterError(
            f"sink: {stored} of {records} pre-filled records stored after {timeout:.0f} s"
        )
    store_cpu = None if s0 is None or s1 is None else s1 - s0
    pairs = list(zip(c0, c1, strict=True))
    consumers_cpu = (
        sum(b - a for a, b in pairs if a is not None and b is not None)
        if pairs and all(a is not None and b is not None for a, b in pairs)
        else None
    )
    return SinkRun(
        records,
        stored,
        prefill_s,
        ready_s,
        drain_s,
        steady_rate(stored_times(cluster)),
        lag,
        store_cpu,
        consumers_cpu,
    )


__all__ = ["SinkRun", "measure_sink", "steady_rate"]
