"""Synthetic run folders for report and compare tests, without a cluster.

:func:`make_run` writes ``scenario.yaml``, ``history.jsonl`` and
``final_reads.json`` the way the runner does, then calls
:func:`wiber_harness.judge.judge_run` so ``result.json`` is exactly what a
real run would produce. The load is open-loop (``rate`` sends a second over
``duration`` seconds, latency from the intended time); an optional fault
window makes sends slow, failing or indeterminate and leaves a backlog the
consumer works off after the heal. ``lost`` drops acknowledged messages from
the store, ``duplicated`` stores some messages twice; ``slow`` scales every
latency and ``seed`` varies the noise, so two seeds of the same run differ a
little and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wiber_harness.history import NEMESIS, Op, write_history
from wiber_harness.judge import RunResult, judge_run
from wiber_harness.reads import FinalReads, StoredRecord
from wiber_harness.scenario import load_scenario

NS = 1_000_000_000
MS = 1_000_000
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


@dataclass(frozen=True)
class Fault:
    start_s: float = 10.0
    end_s: float = 16.0
    kind: str = "kill"
    target: str = "kafka.leader(partition=0)"


def _scenario_yaml(
    name: str, rate: float, duration: float, fault: Fault | None, violation: bool
) -> str:
    lines = [
        f"name: {name}",
        f"description: Synthetic {name} run for report tests.",
        "workload:",
        f"  rate: {rate:g}",
        f"  duration: {duration:g}",
    ]
    if fault is not None:
        lines += [
            "timeline:",
            f"  - at: {fault.start_s:g}",
            f"    fault: {fault.kind}",
            f"    target: {fault.target}",
            f"    for: {fault.end_s - fault.start_s:g}",
        ]
    lines += ["expect:"]
    if violation:
        lines += ["  violation: [delivery]"]
    else:
        lines += [
            "  valid: [delivery, ordering, convergence]",
            "  thresholds:",
            '    error_rate: "<= 0.9"',
        ]
    return "\n".join(lines) + "\n"


def make_run(
    root: Path,
    name: str = "baseline",
    *,
    rate: float = 40.0,
    duration: float = 30.0,
    fault: Fault | None = None,
    lost: int = 0,
    duplicated: int = 0,
    seed: int = 1,
    slow: float = 1.0,
    violation: bool = False,
    folder: str | None = None,
) -> Path:
    """Write one judged run folder under ``root`` and return its path."""
    rng = np.random.default_rng(seed)
    run_dir = root / (folder or f"20250101T000000Z-{name}-s{seed}")
    run_dir.mkdir(parents=True)
    (run_dir / "scenario.yaml").write_text(_scenario_yaml(name, rate, duration, fault, violation))
    scenario = load_scenario(run_dir / "scenario.yaml")

    events: list[tuple[int, int, Op]] = []  # (time, tiebreak, op)
    records: list[tuple[int, StoredRecord, int]] = []  # (stored_at, record, intended)
    seqs: dict[str, int] = {}
    next_id = 0
    n = int(rate * duration)
    start_ns = int(0.5 * NS)
    f0 = int(fault.start_s * NS) if fault else None
    f1 = int(fault.end_s * NS) if fault else None
    backlog_until = f1 + int(2 * NS) if f1 is not None else None
    acked_keys: list[tuple[str, str, str, int]] = []
    for i in range(n):
        next_id += 1
        intended = start_ns + int(i * NS / rate)
        a, b = rng.choice(len(USERS), size=2, replace=False)
        sender, to = USERS[a], USERS[b]
        seq = seqs[sender] = seqs.get(sender, 0) + 1
        key = f"k{i}"
        conv = ":".join(sorted((sender, to)))
        invoke = intended + int(rng.integers(0, 2 * MS))
        value = {
            "key": key,
            "conversation": conv,
            "from": sender,
            "to": to,
            "sender": sender,
            "seq": seq,
            "intended": intended,
        }
        events.append((invoke, 0, Op(next_id, "invoke", "send", f"client-{i % 4}", invoke, value)))
        in_fault = f0 is not None and f1 is not None and f0 <= intended <= f1
        lat_ms = float(rng.lognormal(np.log(6.0 * slow), 0.35))
        outcome = "ok"
        if in_fault:
            u = rng.random()
            outcome = "fail" if u < 0.15 else "info" if u < 0.3 else "ok"
            lat_ms = (
                float(rng.uniform(200, 1500))
                if outcome == "ok"
                else 5000.0
                if outcome == "info"
                else float(rng.uniform(5, 50))
            ) * slow
        done = intended + int(lat_ms * MS)
        mid = f"m-{key}"
        cvalue: dict[str, Any] = {"status": {"ok": 201, "fail": 503, "info": None}[outcome]}
        if outcome == "ok":
            cvalue["messageId"] = mid
        else:
            cvalue["error"] = "timeout" if outcome == "info" else "broker unavailable"
        events.append((done, 1, Op(next_id, outcome, "send", f"client-{i % 4}", done, cvalue)))  # type: ignore[arg-type]
        stored = outcome == "ok" or (outcome == "info" and rng.random() < 0.5)
        if stored:
            stored_at = done + int(rng.lognormal(np.log(15.0 * slow), 0.4) * MS)
            if backlog_until is not None and f0 is not None and f0 <= stored_at < backlog_until:
                # the consumer was cut off: it stores the backlog after the heal, in order
                stored_at = backlog_until + int((stored_at - f0) * 0.25)
            records.append(
                (stored_at, StoredRecord(mid, key, conv, sender, 0, i, stored_at), intended)
            )
        if outcome == "ok":
            acked_keys.append((key, mid, conv, intended))

    if fault is not None and f0 is not None and f1 is not None:
        for f, t0, t1 in (("inject", f0 - 40 * MS, f0), ("heal", f1 - 60 * MS, f1)):
            next_id += 1
            v = {"fault": "f1", "kind": fault.kind, "target": fault.target}
            events.append((t0, 0, Op(next_id, "invoke", f, NEMESIS, t0, dict(v))))
            done_v = {
                **v,
                "resolved": ["kafka-2"],
                "evidence": {"effective": True},
                "effective": True,
            }
            events.append((t1, 1, Op(next_id, "ok", f, NEMESIS, t1, done_v)))

    drop = {k for k, *_ in acked_keys[len(acked_keys) // 2 : len(acked_keys) // 2 + lost]}
    kept = [r for r in records if r[1].key not in drop]
    dups = [
        (
            t + 30 * MS,
            StoredRecord(r.message_id, r.key, r.conversation, r.sender, 0, r.offset, t + 30 * MS),
            it,
        )
        for t, r, it in kept[10 : 10 + duplicated]
    ]
    kept += dups
    api: dict[str, list[str]] = {}
    for _, r, _ in sorted(kept, key=lambda x: (x[2], x[0])):  # the store keeps send order
        assert r.conversation is not None
        api.setdefault(r.conversation, []).append(r.message_id)
    reads = FinalReads(
        store=[r for _, r, _ in sorted(kept, key=lambda x: x[0])],
        api=api,
        drained=True,
        drain_s=1.0,
        healed_at=f1,
    )
    ops = [op for _, _, op in sorted(events, key=lambda e: (e[0], e[1]))]
    write_history(
        run_dir / "history.jsonl",
        ops,
        {"scenario": name, "seed": seed, "backend": "local", "wall0_ns": 1_735_689_600 * NS},
    )
    reads.save(run_dir / "final_reads.json")
    result: RunResult = judge_run(
        scenario, ops, reads, run_dir, {"backend": "local", "start_s": 1.0}
    )
    assert result.run_dir == run_dir
    return run_dir


__all__ = ["Fault", "make_run"]
