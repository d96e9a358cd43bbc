"""The sink alone: consumers draining a backlog, against the store's raw insert rate.

:func:`measure_sink` (consumers must be stopped when it is called; they are
running when it returns):

1. commit the group at the topic's end (what earlier phases left in the
   topic is not this measurement's), empty the store;
2. pre-fill the topic with ``records`` Wiber records straight to the
   brokers (:func:`~wiber_harness.bench.stack_ops.prefill`);
3. start every consumer at once and wait until all ``records`` are stored
   and the group's lag is 0 (bounded by ``timeout``);
4. ``stored_per_s``: the steady drain rate, read from the documents'
   ``storedAtNs`` stamps: (documents between the 10th and 90th percentile
   of stamps) / (time between them). Consumer start-up and group join
   (before the first stamp) and the last, partial batches are outside it.

``on_started`` is called right after the consumers were started (the bench
attaches its profiler there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from wiber_harness.bench.stack_ops import (
    group_lag,
    prefill,
    reset_store,
    skip_group_to_end,
    start_consumers,
    stored_count,
    stored_times,
)
from wiber_harness.cluster.base import Cluster
from wiber_harness.errors import ClusterError

NS = 1_000_000_000


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
    t0 = time.monotonic()
    ready_s = start_consumers(cluster)
    if on_started is not None:
        on_started()
    deadline = t0 + timeout
    stored, lag = 0, None
    while time.monotonic() < deadline:
        stored = stored_count(cluster)
        if stored >= records:
            lag = group_lag(cluster)
            if lag == 0:
                break
        time.sleep(0.5)
    drain_s = time.monotonic() - t0
    if stored < records:
        raise ClusterError(
            f"sink: {stored} of {records} pre-filled records stored after {timeout:.0f} s"
        )
    return SinkRun(
        records, stored, prefill_s, ready_s, drain_s, steady_rate(stored_times(cluster)), lag
    )


__all__ = ["SinkRun", "measure_sink", "steady_rate"]
