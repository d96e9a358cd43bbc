"""The runner: one scenario, end to end, into a run folder.

    start the cluster (its own, fresh; or attach to a deployment: --backend attach)
    -> workload and fault timeline in parallel, recorded in history.jsonl
    -> heal every fault, let the workload finish
    -> drain (bounded), final reads
    -> checkers, fault evidence, metrics, expectations
    -> run folder: scenario.yaml, history.jsonl, final_reads.json,
       result.json, cluster/ (node logs and data)

The verdict merges the checkers the scenario expects valid, the fault
evidence (a fault that did not take effect makes the run "unknown") and the
scenario's thresholds (:meth:`Expect.judge`). Exit codes: 0 valid, 1 a
promise broken (or an unsafe scenario that failed to break one), 2 the
harness could not decide. :func:`check_run` recomputes everything from a
stored folder, offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wiber_harness.clock import Clock
from wiber_harness.cluster.attach_scope import scoped
from wiber_harness.cluster.base import Cluster, ClusterConfig
from wiber_harness.cluster.factory import make_cluster
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.end_phase import StoreWatch, drain, final_reads
from wiber_harness.faults.nemesis import Nemesis
from wiber_harness.history import NEMESIS, HistoryWriter
from wiber_harness.judge import RunResult, judge_run
from wiber_harness.scenario import Scenario
from wiber_harness.verdict import word as _word

if TYPE_CHECKING:
    from wiber_harness.cluster.deployment import Deployment


@dataclass
class RunOptions:
    out_root: Path = Path("reports") / "runs"
    seed: int | None = None
    rate: float | None = None
    duration: float | None = None
    quick: bool = False
    backend: str = "local"
    system: SystemSpec = DEFAULT_SYSTEM
    drain_timeout: float = 120.0
    settings: dict[str, str] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    # (elapsed s, duration s, workload counters) once a second during the load
    tick: Callable[[float, float, dict[str, int]], None] | None = None
    # backend "attach": the deployment of a target file (cluster/deployment.py)
    deployment: Deployment | None = None
    user_prefix: str = "u"  # the workload's user names; attach runs get their own


def _utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def prepare(scenario: Scenario, opts: RunOptions) -> Scenario:
    if opts.quick:
        scenario = scenario.quick(opts.settings)
    if opts.seed is not None or opts.rate is not None or opts.duration is not None:
        scenario = scenario.with_overrides(seed=opts.seed, rate=opts.rate, duration=opts.duration)
    return scenario


def scenario_cluster(scenario: Scenario, run_dir: Path, opts: RunOptions) -> Cluster:
    """The fresh, throw-away cluster of one run, as the scenario's topology asks."""
    config = ClusterConfig.for_scenario(
        scenario,
        run_dir,
        settings={**scenario.topology.env(), **opts.settings},
        system=opts.system,
        deployment=opts.deployment,
    )
    return make_cluster(opts.backend, config)


def attach_options(scenario: Scenario, opts: RunOptions) -> RunOptions:
    """An attach run's options: refused unless the target can run ``scenario``; its profile.

    Raises :class:`~wiber_harness.faults.needs.NotSupported` (exit 2), one
    sentence per missing driver, before anything is started or written. The
    run's users get a prefix of their own (``u<hex ms>x``), so its
    conversations are new on a deployment that holds earlier runs.
    """
    from wiber_harness.errors import ClusterError, HarnessError
    from wiber_harness.faults.needs import check_fit

    d = opts.deployment
    if d is None:
        raise ClusterError("--backend attach needs a target file: --target DEPLOY.toml")
    check_fit([scenario], d, opts.settings)
    system = opts.system
    if d.system is not None:
        if system not in (DEFAULT_SYSTEM, d.system):
            raise HarnessError(
                f"{d.source} names the system profile {d.system_source} and another profile "
                "was given too; give the profile once"
            )
        system = d.system
    return dataclasses.replace(opts, system=system, user_prefix=f"u{time.time_ns() // 10**6:x}x")


def run_scenario(scenario: Scenario, opts: RunOptions | None = None) -> RunResult:
    """Run one scenario on a fresh cluster and judge it."""
    opts = opts or RunOptions()
    say = opts.progress or (lambda s: None)
    scenario = prepare(scenario, opts)
    if opts.backend == "attach":
        opts = attach_options(scenario, opts)
    run_dir = (opts.out_root / f"{_utc()}-{scenario.name}").resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "scenario.yaml").write_text(scenario.to_yaml())
    _link_latest(opts.out_root, run_dir)
    cluster = scenario_cluster(scenario, run_dir, opts)
    t0 = time.monotonic()
    attached = opts.deployment is not None and opts.backend == "attach"
    say(
        f"{scenario.name}: starting the attach backend (checking that {opts.deployment.source} "
        "answers; it starts nothing)"
        if attached and opts.deployment is not None
        else f"{scenario.name}: starting the {opts.backend} stack"
    )
    try:
        cluster.start()
        start_s = time.monotonic() - t0
        say(f"{scenario.name}: stack ready in {start_s:.1f} s")
        clock = Clock()
        header = {
            "scenario": scenario.name,
            "seed": scenario.workload.seed,
            "backend": opts.backend,
            "wall0_ns": clock.wall0_ns,
            "system": opts.system.name,
        }
        with HistoryWriter(run_dir / "history.jsonl", header) as history:
            asyncio.run(_drive(scenario, cluster, history, clock, opts, say))
            say(f"{scenario.name}: waiting until every node is ready")
            ready_s = cluster.wait_all_ready(180)
            ops = list(history.ops)
            healed = [
                op.time
                for op in ops
                if op.process == NEMESIS and op.f == "heal" and op.type != "invoke"
            ]
            say(f"{scenario.name}: draining")
            watch = StoreWatch(clock)  # first sightings: the stored time of a pipeline without
            drained, drain_s, dinfo = drain(
                cluster, ops, timeout=opts.drain_timeout, on_progress=say, watch=watch
            )
            reads = final_reads(
                cluster,
                ops,
                clock,
                drained=drained,
                drain_s=drain_s,
                healed_at=max(healed) if healed else None,
                extra={"drain": dinfo},
                watch=watch,
            )
        reads = scoped(cluster, reads)  # attach: without what the deployment held before
        reads.save(run_dir / "final_reads.json")
        env = {
            "start_s": round(start_s, 3),
            "backend": opts.backend,
            "ready_after_heal_s": round(ready_s, 3),
        }
    finally:
        say(
            f"{scenario.name}: stopping the attach backend (healing what the run left; the "
            "deployment keeps running)"
            if attached
            else f"{scenario.name}: stopping the stack"
        )
        cluster.close()
    result = judge_run(scenario, ops, reads, run_dir, env)
    say(f"{scenario.name}: {_word(result.verdict)}")
    return result


async def _drive(
    scenario: Scenario,
    cluster: Cluster,
    history: HistoryWriter,
    clock: Clock,
    opts: RunOptions,
    say: Callable[[str], None],
) -> None:
    from wiber_harness.workload import Workload, WorkloadConfig

    w = scenario.workload
    cfg = WorkloadConfig(
        rate=float(w.rate),
        duration=float(w.duration),
        conversations=w.conversations,
        payload_size=w.payload_size,
        concurrency=w.concurrency,
        seed=w.seed,
        batch=w.batch,
        run_id=f"{scenario.name}-{clock.wall0_ns}",
        user_prefix=opts.user_prefix,
    )
    workload = Workload(
        cfg, list(cluster.endpoints().apis), history, clock, api_profile=opts.system.api
    )
    nemesis = Nemesis(cluster, history, clock, seed=w.seed, workload=workload)
    start_ns = clock.now()
    wl = asyncio.create_task(workload.run())
    nem = asyncio.create_task(nemesis.run(scenario.timeline, start_ns))
    ticker = asyncio.create_task(
        _ticker(scenario, workload, nemesis, clock, start_ns, say, opts.tick)
    )
    try:
        await nem
        await wl
        await nemesis.heal_all()
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        if not nem.done():
            nem.cancel()
        if not wl.done():
            wl.cancel()


async def _ticker(
    scenario: Scenario,
    workload: Any,
    nemesis: Nemesis,
    clock: Clock,
    start_ns: int,
    say: Callable[[str], None],
    tick: Callable[[float, float, dict[str, int]], None] | None,
) -> None:
    last_ok, last_t = 0, time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        p = workload.progress()
        now = time.monotonic()
        rate = (p.get("ok", 0) - last_ok) / max(now - last_t, 1e-6)
        last_ok, last_t = p.get("ok", 0), now
        el = (clock.now() - start_ns) / 1e9
        if tick is not None:
            tick(el, float(scenario.workload.duration), p)
        faults = ", ".join(sorted(nemesis.current)) or "none"
        say(
            f"{scenario.name}: {el:5.1f}/{scenario.workload.duration:g} s  "
            f"sent {p.get('sent', 0)}  ok {p.get('ok', 0)} ({rate:.0f}/s)  "
            f"fail {p.get('fail', 0)}  info {p.get('info', 0)}  "
            f"in-flight {p.get('inflight', 0)}  faults: {faults}"
        )


def _link_latest(root: Path, run_dir: Path) -> None:
    link = root / "latest"
    with contextlib.suppress(OSError):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_dir.name)


__all__ = ["RunOptions", "attach_options", "run_scenario", "scenario_cluster"]
