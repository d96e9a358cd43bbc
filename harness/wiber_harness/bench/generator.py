"""Open-loop load from one or more generator processes, merged into one history.

A :class:`GeneratorPool` keeps ``processes`` worker processes (``python -m
wiber_harness.bench.generator --serve``) alive across loads; for each load
(:meth:`GeneratorPool.run`) every worker runs a real
:class:`~wiber_harness.workload.Workload` at ``rate / processes`` against the
same URLs, and the pool returns their ops as one history (:class:`LoadRun`).
:func:`run_load` is the one-shot form. Promises:

* **One clock.** Every worker builds the load's
  :class:`~wiber_harness.clock.Clock` from the parent's ``t0_ns`` /
  ``wall0_ns`` (``CLOCK_MONOTONIC`` is system-wide), so op times,
  ``intended`` times and the store's ``storedAtNs`` (through
  :meth:`Clock.from_wall`) share one axis.
* **One start.** Workers build their workload and print ``ready``; when all
  are ready the parent sends each ``go <start_ns>`` and every schedule
  starts at that run time. A worker not ready within ``start_timeout``
  fails the load (:class:`WorkloadError`) before anything is sent.
* **Disjoint identities.** Worker ``w`` uses user prefix ``g{w}u`` and
  run id ``{run_id}-g{w}``: conversations, senders, per-sender seq and
  idempotency keys never collide across workers, so the checkers see one
  consistent history.
* **Merged history.** Op ids are renumbered ``id * processes + w`` (every
  invoke keeps its completion) and ops are sorted by time (stable). The
  per-worker history files are deleted once read.
* **Own event loop each.** A worker runs on uvloop when it is installed
  (the same loop uvicorn picks), so the generator costs as little CPU as it
  can on a machine it shares with the system under test; ``cpu_s`` reports
  what each worker used.
* **Bounded.** A load that has not finished ``duration + request_timeout +
  30 s`` after ``go`` fails; :meth:`GeneratorPool.close` asks workers to
  quit and kills any that do not. Workers lead their own process group,
  registered with a :class:`~wiber_harness.cluster.guards.Watchdog` when
  one is given, and exit at EOF on stdin (their parent is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from wiber_harness.clock import Clock
from wiber_harness.cluster.guards import Watchdog
from wiber_harness.errors import WorkloadError
from wiber_harness.history import HistoryWriter, Op, read_history
from wiber_harness.workload.plan import ApiProfile, WorkloadConfig

START_DELAY_S = 0.3


@dataclass(frozen=True)
class LoadSpec:
    """What to send: the whole load, split evenly over ``processes`` workers."""

    urls: tuple[str, ...]
    rate: float
    duration: float
    batch: int = 0
    concurrency: int = 256
    payload_size: int = 64
    conversations: int = 50
    seed: int = 1
    run_id: str = "bench"
    processes: int = 1
    request_timeout: float = 10.0


@dataclass
class LoadRun:
    """The merged history of one load and what each worker reported."""

    spec: LoadSpec
    clock: Clock
    start_ns: int
    ops: list[Op]
    workers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.spec.duration * 1e9)

    def worker_sum(self, key: str) -> int:
        return sum(int(w.get(key, 0)) for w in self.workers)

    def worker_max(self, key: str) -> float:
        return max((float(w.get(key, 0.0)) for w in self.workers), default=0.0)


def _worker_config(spec: LoadSpec, w: int) -> WorkloadConfig:
    n = spec.processes
    return WorkloadConfig(
        rate=spec.rate / n,
        duration=spec.duration,
        conversations=max(1, spec.conversations // n),
        payload_size=spec.payload_size,
        concurrency=max(1, spec.concurrency // n),
        seed=spec.seed * 1000 + w,
        batch=spec.batch,
        request_timeout=spec.request_timeout,
        run_id=f"{spec.run_id}-g{w}",
        user_prefix=f"g{w}u",
    )


class GeneratorPool:
    """``processes`` long-lived worker processes; :meth:`run` one load after another.

    Workers import once (seconds on a loaded machine) and then take one job
    per load; use as a context manager, or :meth:`close` when done.
    """

    def __init__(
        self,
        processes: int,
        workdir: Path,
        watchdog: Watchdog | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        if processes < 1:
            raise WorkloadError(f"generator: processes must be >= 1 (got {processes})")
        self.processes = processes
        self.workdir = workdir
        self.watchdog = watchdog
        self.start_timeout = start_timeout
        self._procs: list[subprocess.Popen[str]] = []
        self._logs: list[IO[str]] = []
        self._n = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.poll() is None]

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for w in range(self.processes):
            self._logs.append((self.workdir / f"stderr-g{w}.log").open("a"))
            p = subprocess.Popen(
                [sys.executable, "-m", "wiber_harness.bench.generator", "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._logs[-1],
                text=True,
                start_new_session=True,
                close_fds=True,
            )
            if self.watchdog is not None:
                self.watchdog.register(p.pid)
            self._procs.append(p)
        deadline = time.monotonic() + self.start_timeout
        for w, p in enumerate(self._procs):
            self._expect(p, w, "up", deadline)

    def _expect(self, p: subprocess.Popen[str], w: int, word: str, deadline: float) -> None:
        assert p.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    raise WorkloadError(
                        f"generator {w}: no '{word}' in time; see {self.workdir}/stderr-g{w}.log"
                    )
                line = p.stdout.readline()
                if not line:
                    raise WorkloadError(
                        f"generator {w} exited (waiting for '{word}'); "
                        f"see {self.workdir}/stderr-g{w}.log"
                    )
                if line.strip() == word:
                    return
        finally:
            sel.close()

    def _send(self, p: subprocess.Popen[str], line: str) -> None:
        assert p.stdin is not None
        p.stdin.write(line + "\n")
        p.stdin.flush()

    def run(
        self,
        spec: LoadSpec,
        api: ApiProfile | None = None,
        on_start: Callable[[], None] | None = None,
        clock: Clock | None = None,
    ) -> LoadRun:
        """One load (see the module docstring); ``on_start`` is called once every worker was
        told to go; ``clock``: the load's clock (default: a new one)."""
        if spec.processes != self.processes:
            raise WorkloadError(
                f"generator: the pool has {self.processes} processes, the load wants "
                f"{spec.processes}"
            )
        if not self._procs:
            self.start()
        self._n += 1
        clock = clock or Clock()
        paths: list[tuple[Path, Path]] = []
        for w, p in enumerate(self._procs):
            hist = self.workdir / f"history-{self._n}-g{w}.jsonl"
            result = self.workdir / f"result-{self._n}-g{w}.json"
            job = {
                "config": asdict(_worker_config(spec, w)),
                "urls": list(spec.urls),
                "t0_ns": clock.t0_ns,
                "wall0_ns": clock.wall0_ns,
                "history": str(hist),
                "result": str(result),
                "api": _profile_dict(api or ApiProfile()),
            }
            job_file = self.workdir / f"job-{self._n}-g{w}.json"
            job_file.write_text(json.dumps(job))
            self._send(p, f"job {job_file}")
            paths.append((hist, result))
        deadline = time.monotonic() + self.start_timeout
        for w, p in enumerate(self._procs):
            self._expect(p, w, "ready", deadline)
        start_ns = clock.now() + int(START_DELAY_S * 1e9)
        for p in self._procs:
            self._send(p, f"go {start_ns}")
        if on_start is not None:
            on_start()
        deadline = time.monotonic() + START_DELAY_S + spec.duration + spec.request_timeout + 30.0
        for w, p in enumerate(self._procs):
            self._expect(p, w, "done", deadline)
        ops: list[Op] = []
        workers: list[dict[str, Any]] = []
        n = self.processes
        for w, (hist, result) in enumerate(paths):
            _, wops = read_history(hist)
            ops += [Op(o.id * n + w, o.type, o.f, o.process, o.time, o.value) for o in wops]
            workers.append(json.loads(result.read_text()))
            for f in (hist, result, hist.parent / f"job-{self._n}-g{w}.json"):
                f.unlink(missing_ok=True)
        ops.sort(key=lambda o: o.time)
        return LoadRun(spec, clock, start_ns, ops, workers)

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(OSError, ValueError):
                    self._send(p, "quit")
        for p in self._procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, 9)
                p.wait()
            if self.watchdog is not None:
                self.watchdog.unregister(p.pid)
            for fh in (p.stdin, p.stdout):
                if fh is not None:
                    with contextlib.suppress(OSError):
                        fh.close()
        for log in self._logs:
            log.close()
        self._procs, self._logs = [], []

    def __enter__(self) -> GeneratorPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_load(
    spec: LoadSpec,
    workdir: Path,
    *,
    watchdog: Watchdog | None = None,
    api: ApiProfile | None = None,
    on_start: Callable[[], None] | None = None,
) -> LoadRun:
    """One load on a pool of its own (started and stopped here)."""
    with GeneratorPool(spec.processes, workdir, watchdog) as pool:
        return pool.run(spec, api, on_start)


def _profile_dict(p: ApiProfile) -> dict[str, Any]:
    d = asdict(p)
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in d.items()}


# -- the worker ---------------------------------------------------------------------------


async def _work(job: dict[str, Any], lines: IO[str]) -> dict[str, Any]:
    from wiber_harness.workload import Workload

    cfg = WorkloadConfig(**job["config"])
    api_d = dict(job["api"])
    for k in ("ok_statuses", "not_sent_statuses"):
        api_d[k] = frozenset(api_d[k])
    clock = Clock(t0_ns=int(job["t0_ns"]), wall0_ns=int(job["wall0_ns"]))
    with HistoryWriter(
        Path(job["history"]), {"bench": "generator", "wall0_ns": clock.wall0_ns}
    ) as h:
        wl = Workload(cfg, job["urls"], h, clock, api_profile=ApiProfile(**api_d))
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, lines.readline)
        if not line.startswith("go "):
            raise SystemExit(3)
        start_ns = int(line.split()[1])
        while (rem := start_ns - clock.now()) > 0:
            await asyncio.sleep(rem / 1e9)
        cpu0 = time.process_time()
        stats = await wl.run()
        cpu = time.process_time() - cpu0
    d = stats.to_dict()
    d.pop("skipped_by_second", None)
    d["cpu_s"] = round(cpu, 3)
    d["loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    return d


def worker_main(argv: Sequence[str] | None = None) -> int:
    """``python -m wiber_harness.bench.generator --serve``: jobs from stdin (see
    :class:`GeneratorPool`).

    Protocol, one line each: the worker prints ``up``; then per load it reads
    ``job FILE``, prints ``ready``, reads ``go START_NS``, runs, writes the
    job's result file and prints ``done``; ``quit`` (or EOF) ends it.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--serve"]:
        print("usage: python -m wiber_harness.bench.generator --serve", file=sys.stderr)
        return 2
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    import wiber_harness.workload  # noqa: F401  (import once, before the first job)

    print("up", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "quit":
            break
        if cmd != "job":
            continue
        job = json.loads(Path(arg).read_text())
        result = runner(_work(job, sys.stdin))
        tmp = Path(job["result"]).with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(job["result"])
        print("done", flush=True)
    return 0


def temp_workdir(prefix: str = "wiber-gen-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


if __name__ == "__main__":
    sys.exit(worker_main())


__all__ = ["GeneratorPool", "LoadRun", "LoadSpec", "run_load", "temp_workdir", "worker_main"]
