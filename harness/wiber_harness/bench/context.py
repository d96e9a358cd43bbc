"""One bench run's state and the helpers every phase uses (:class:`BenchRun`).

The phases (:mod:`~wiber_harness.bench.phase_ingest`,
:mod:`~wiber_harness.bench.phase_pipeline`,
:mod:`~wiber_harness.bench.phase_profiles`) are functions of a
:class:`BenchRun`; :mod:`~wiber_harness.bench.suite` runs them in order.
A :class:`BenchRun` promises:

* :meth:`~BenchRun.attempt`: a failing measurement never stops the bench;
  it is recorded in ``problems`` (and its traceback in ``work/errors.log``)
  and its sample is missing;
* :meth:`~BenchRun.phase`: the seconds each phase took add up in
  ``phases``;
* :meth:`~BenchRun.pool`: one generator pool per process count, started
  once and reused by every load (closed by :meth:`~BenchRun.close_pools`);
* :meth:`~BenchRun.probe` then :meth:`~BenchRun.search_from`: a max-rate
  search from a probe's estimate, as every ingest-side maximum is measured;
* progress lines carry the seconds since the bench started.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from wiber_harness.bench import stack_ops
from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.document import BenchData, PathData
from wiber_harness.bench.generator import GeneratorPool
from wiber_harness.bench.measure import FloorTarget, Measure, PipelineTarget, Target
from wiber_harness.bench.search import Criterion, Search, find_max_rate, probe
from wiber_harness.cluster.base import Cluster
from wiber_harness.cluster.guards import Watchdog
from wiber_harness.cluster.local import LocalCluster

Say = Callable[[str], None]
PathKind = Literal["single", "batch"]
PATHS: tuple[PathKind, ...] = ("single", "batch")
T = TypeVar("T")


class BenchRun:
    """The state of one bench run (see the module docstring)."""

    def __init__(self, cfg: BenchConfig, say: Say) -> None:
        self.cfg = cfg
        self.out = cfg.out_dir.resolve()
        self.work = self.out / "work"
        self.data = BenchData(cfg, dt.datetime.now(dt.UTC), load_start=os.getloadavg())
        self.t0 = time.monotonic()
        self._say = say
        self.watchdog: Watchdog | None = None
        self.cluster: Cluster | None = None
        self.processes = max(1, cfg.generator_processes)
        self.pools: dict[int, GeneratorPool] = {}
        self.estimates: dict[str, float] = {}

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

    def close_pools(self) -> None:
        for p in self.pools.values():
            p.close()

    @property
    def stack(self) -> Cluster:
        """The running stack, whatever its backend."""
        assert self.cluster is not None
        return self.cluster

    @property
    def c(self) -> LocalCluster:
        """The running stack of the phases that drive local processes (local backend only)."""
        assert isinstance(self.cluster, LocalCluster)
        return self.cluster

    @property
    def batch_size(self) -> int:
        """The consumer's batch size (its setting, or Wiber's default)."""
        v = self.cfg.settings.get("WIBER_CONSUMER_BATCH_SIZE")
        return int(v) if v else int(stack_ops.wiber_settings().consumer_batch_size)

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

    def pipeline_target(self, kind: PathKind, read_back: bool) -> PipelineTarget:
        cfg = self.cfg
        return PipelineTarget(
            self.stack,
            self.pool(self.processes),
            cfg.bounds,
            batch=cfg.batch_size if kind == "batch" else 0,
            concurrency=cfg.concurrency,
            payload_size=cfg.payload_size,
            conversations=cfg.conversations,
            read_back=read_back,
            poll_s=cfg.store_poll_s,
        )

    def applies(self, figure: str) -> bool:
        """Whether ``figure`` applies to the system measured (bench.applicability)."""
        return figure not in self.data.not_applicable

    @property
    def paths(self) -> tuple[PathKind, ...]:
        """The pipeline paths this system serves: per message, and batch when it has a route."""
        return tuple(k for k in PATHS if k == "single" or self.applies("batch_ingest_max_per_s"))

    def path_data(self, kind: PathKind) -> PathData:
        return self.data.single if kind == "single" else self.data.batch

    def probe(self, what: str, target: Target, rate: float, rep: int) -> Measure | None:
        """Repetition ``rep``'s probe of ``target`` at ``rate``; None when it failed."""
        cfg = self.cfg
        return self.attempt(
            f"{what} probe #{rep + 1}", probe, target, rate, cfg.probe_s, f"r{rep + 1}"
        )

    def search_from(
        self, what: str, target: Target, first: Measure, rep: int, criterion: Criterion = "ingest"
    ) -> Search | None:
        """Repetition ``rep``'s max-rate search from the probe ``first``'s estimate (the probe
        is kept with the search); None when it failed."""
        cfg = self.cfg
        return self.attempt(
            f"{what} search #{rep + 1}",
            find_max_rate,
            target,
            estimate=first.ack_rate,
            step_s=cfg.step_s,
            criterion=criterion,
            max_steps=cfg.max_steps,
            tag=f"r{rep + 1}",
            say=self.say,
            probe=first,
        )

    def stack_pids(self) -> dict[str, int]:
        """Every process of the stack and the generator, by name (for the CPU meter)."""
        pids = {p.name: p.pid for p in self.c.processes() if p.pid}
        for n, pool in self.pools.items():
            for w, pid in enumerate(pool.pids):
                pids[f"generator-{n}.{w}"] = pid
        return pids


def clamp(x: float, lo: int, hi: int) -> int:
    return int(min(max(x, lo), hi))


def max_text(s: Search) -> str:
    """A search's answer as said in progress lines: "at least" when its last step still held."""
    return ("at least " if s.open_ended else "") + (
        "-" if s.ack_rate is None else f"{s.ack_rate:.0f}"
    )


def load_text() -> str:
    """The machine's load averages, as progress lines show them: ``1.2/1.0/0.9``."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


__all__ = ["PATHS", "BenchRun", "PathKind", "Say", "clamp", "load_text", "max_text"]
