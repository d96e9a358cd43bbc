"""The runner: one scenario, end to end, into a run folder.

    start the cluster (its own, fresh)
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
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from wiber_harness import __version__
from wiber_harness.checkers import CheckResult, check_all
from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import Validity, merge_validity
from wiber_harness.clock import Clock
from wiber_harness.cluster.base import Cluster, ClusterConfig
from wiber_harness.cluster.factory import make_cluster
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.end_phase import drain, final_reads
from wiber_harness.errors import CheckerError, HarnessError, InvalidScenario
from wiber_harness.faults.nemesis import Nemesis, fault_evidence
from wiber_harness.history import NEMESIS, HistoryWriter, Op, read_history
from wiber_harness.inputs import check_file, load_json
from wiber_harness.metrics import summary, threshold_metrics
from wiber_harness.reads import FinalReads
from wiber_harness.scenario import Scenario, load_scenario
from wiber_harness.verdict import EXIT_CODES as EXIT
from wiber_harness.verdict import word as _word
from wiber_harness.wellformed import Malformed, validate_ops

RESULT_SCHEMA = "wiber-result/1"


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


@dataclass
class RunResult:
    run_dir: Path
    scenario: str
    verdict: Validity
    reasons: list[str]
    checks: dict[str, dict[str, Any]]
    metrics: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]


def _utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def prepare(scenario: Scenario, opts: RunOptions) -> Scenario:
    if opts.quick:
        scenario = scenario.quick()
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
    )
    return make_cluster(opts.backend, config)


def run_scenario(scenario: Scenario, opts: RunOptions | None = None) -> RunResult:
    """Run one scenario on a fresh cluster and judge it."""
    opts = opts or RunOptions()
    say = opts.progress or (lambda s: None)
    scenario = prepare(scenario, opts)
    run_dir = (opts.out_root / f"{_utc()}-{scenario.name}").resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "scenario.yaml").write_text(scenario.to_yaml())
    _link_latest(opts.out_root, run_dir)
    cluster = scenario_cluster(scenario, run_dir, opts)
    t0 = time.monotonic()
    say(f"{scenario.name}: starting the {opts.backend} stack")
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
            drained, drain_s, dinfo = drain(
                cluster, ops, timeout=opts.drain_timeout, on_progress=say
            )
            reads = final_reads(
                cluster,
                ops,
                clock,
                drained=drained,
                drain_s=drain_s,
                healed_at=max(healed) if healed else None,
                extra={"drain": dinfo},
            )
        reads.save(run_dir / "final_reads.json")
        env = {
            "start_s": round(start_s, 3),
            "backend": opts.backend,
            "ready_after_heal_s": round(ready_s, 3),
        }
    finally:
        say(f"{scenario.name}: stopping the stack")
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


def judge_run(
    scenario: Scenario,
    ops: list[Op],
    reads: FinalReads,
    run_dir: Path,
    env: dict[str, Any] | None = None,
) -> RunResult:
    """Checkers + fault evidence + metrics + expectations -> verdict; writes result.json."""
    reasons: list[str] = []
    try:
        validate_ops(ops)
    except Malformed as e:
        raise CheckerError(
            f"{run_dir}: the history is malformed ({e}); this is a harness bug, please report it"
        ) from None
    try:
        an = Analysis(ops, reads)
        checks = check_all(ops, reads, analysis=an)
        summ = summary(ops, reads, analysis=an)
        metrics = threshold_metrics(checks, summ)
    except HarnessError as e:
        raise CheckerError(f"{run_dir}: the checkers could not run ({e})") from e
    faults_ok, fault_problems = fault_evidence(ops)
    checks["faults"] = CheckResult(
        name="faults",
        valid=True if faults_ok else "unknown",
        counts={
            "faults": sum(1 for o in ops if o.process == NEMESIS and o.type != "invoke"),
            "without_evidence": len(fault_problems),
        },
        examples={"without_evidence": fault_problems[:5]} if fault_problems else {},
    )
    verdict, why = scenario.expect.judge(
        {k: v.valid for k, v in checks.items() if k != "faults"}, metrics
    )
    reasons += why
    if not faults_ok:
        reasons += [f"fault without evidence: {p}" for p in fault_problems]
        # a violation found anyway stands; otherwise the run proves nothing
        verdict = merge_validity([verdict, "unknown"])
    if scenario.expect.violation and verdict is True and not faults_ok:
        verdict = "unknown"
    result = RunResult(
        run_dir,
        scenario.name,
        verdict,
        reasons,
        {k: v.to_dict() for k, v in checks.items()},
        {"thresholds": metrics, "summary": summ},
    )
    _write_result(result, scenario, env or {})
    return result


def _write_result(r: RunResult, scenario: Scenario, env: dict[str, Any]) -> None:
    doc = {
        "schema": RESULT_SCHEMA,
        "scenario": r.scenario,
        "description": scenario.description,
        "verdict": r.verdict,
        "exit_code": r.exit_code,
        "reasons": r.reasons,
        "expect": {
            "valid": list(scenario.expect.valid),
            "violation": scenario.expect.violation,
            "thresholds": {k: str(v) for k, v in scenario.expect.thresholds.items()},
        },
        "checks": r.checks,
        "metrics": r.metrics,
        "seed": scenario.workload.seed,
        "backend": env.get("backend"),
        "env": env,
        "versions": {"wiber_harness": __version__, "python": platform.python_version()},
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "system": platform.system(),
        },
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    path = r.run_dir / "result.json"
    try:
        path.write_bytes(
            orjson.dumps(
                doc,
                option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                default=_default,
            )
        )
    except orjson.JSONEncodeError as e:
        raise CheckerError(
            f"{path}: cannot write the result ({e}); a value in the history or final reads "
            "nests too deep to be written back, so restore those files"
        ) from None
    except OSError as e:
        raise CheckerError(
            f"{path}: cannot write the result ({e.strerror}); make the run folder writable "
            "(and result.json a file)"
        ) from None


def _default(o: Any) -> Any:
    if isinstance(o, float):
        return None
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def check_run(run_dir: Path) -> RunResult:
    """Re-check a stored run folder offline (writes result.json again).

    Every file is checked before it is read (:mod:`wiber_harness.inputs`: a regular
    file within its size limit); anything unreadable or malformed raises a
    :class:`~wiber_harness.errors.HarnessError` whose message is one sentence naming
    the file and the line or field. A ``result.json`` already there only lends its
    ``env``; an unreadable one is ignored, since it is rewritten.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "a file" if run_dir.is_file() else "no such folder"
        raise CheckerError(
            f"{run_dir}: {what}, not a run folder; pass a folder a run wrote "
            "(reports/runs/<time>-<scenario>)"
        )
    run_dir = run_dir.resolve()
    fix = "re-run the scenario (or restore the file)"
    for name, kind in _RUN_FILES:
        path = run_dir / name
        if not (path.exists() or path.is_symlink()):
            raise CheckerError(
                f"{run_dir}: no {name}; is this a run folder (reports/runs/<time>-<scenario>)?"
            )
        check_file(path, kind, fix)
    try:
        scenario = load_scenario(run_dir / "scenario.yaml")
    except InvalidScenario as e:  # PyYAML's own messages span lines: make it one
        raise InvalidScenario(" ".join(str(e).split())) from None
    except RecursionError:
        raise CheckerError(
            f"{run_dir / 'scenario.yaml'}: nested too deep to read (thousands of levels); {fix}"
        ) from None
    _, ops = read_history(run_dir / "history.jsonl")
    reads = FinalReads.load(run_dir / "final_reads.json")
    return judge_run(scenario, ops, reads, run_dir, _old_env(run_dir / "result.json"))


_RUN_FILES = (
    ("scenario.yaml", "scenario"),
    ("history.jsonl", "history"),
    ("final_reads.json", "final reads"),
)


def _old_env(path: Path) -> dict[str, Any]:
    """The ``env`` of an earlier result.json, or {} when there is none to be had."""
    if not path.is_file():
        return {}
    with contextlib.suppress(HarnessError):
        doc = load_json(path, "result", "")
        env = doc.get("env") if isinstance(doc, dict) else None
        if isinstance(env, dict):
            return dict(env)
    return {}


def _link_latest(root: Path, run_dir: Path) -> None:
    link = root / "latest"
    with contextlib.suppress(OSError):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_dir.name)


__all__ = ["RESULT_SCHEMA", "RunOptions", "RunResult", "check_run", "judge_run", "run_scenario"]
