"""Time the checkers and metrics on a large synthetic history.

    python -m wiber_harness.bench.checkers_timing [--ops 1000000] [--seed 1]

Builds a clean run (open-loop sends at 10k/s over many conversations, with
failures, indeterminate attempts and their retries, fault windows, a store,
API reads consistent with real time, and a delivery log with some
redeliveries), then times :func:`check_all` and :func:`summary` sharing one
:class:`Analysis`. The budget is 10 s for a million ops on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from wiber_harness.checkers import Analysis, check_all
from wiber_harness.history import NEMESIS, Op, OpType
from wiber_harness.metrics import summary
from wiber_harness.reads import DeliveryEvent, FinalReads, StoredRecord

T = TypeVar("T")
MS = 1_000_000


def synthetic_run(
    n_ops: int = 1_000_000, seed: int = 1, conversations: int = 1000
) -> tuple[list[Op], FinalReads]:
    """A clean history of about ``n_ops`` ops and final reads that pass every checker."""
    rng = np.random.default_rng(seed)
    n_keys = max(1, int(n_ops / 2 / 1.03))
    intended = np.arange(n_keys, dtype=np.int64) * 100_000  # 10k sends/s
    conv = rng.integers(0, conversations, n_keys)
    side = rng.integers(0, 2, n_keys)
    first = rng.choice(3, size=n_keys, p=[0.95, 0.02, 0.03])  # ok, fail, info
    lat = (rng.lognormal(1.0, 0.6, n_keys) * MS).astype(np.int64)
    lat2 = (rng.lognormal(1.0, 0.6, n_keys) * MS).astype(np.int64)
    stored_lag = (rng.lognormal(2.0, 0.5, n_keys) * MS).astype(np.int64)
    ops: list[Op] = []
    seq: dict[tuple[int, int], int] = {}
    next_id = 0
    acks: dict[int, tuple[int, int]] = {}  # key -> (first invoke, write point)
    for i in range(n_keys):
        c, s = int(conv[i]), int(side[i])
        n = seq.get((c, s), 0) + 1
        seq[(c, s)] = n
        sender, to = (f"a{c}", f"b{c}") if s == 0 else (f"b{c}", f"a{c}")
        t0 = int(intended[i]) + 50_000
        value = {
            "key": f"k{i}",
            "conversation": f"a{c}:b{c}",
            "from": sender,
            "to": to,
            "sender": sender,
            "seq": n,
            "intended": int(intended[i]),
        }
        client, acked = f"client-{i % 64}", {"status": 201, "messageId": f"m{i}"}
        next_id += 1
        done = t0 + int(lat[i])
        ops.append(Op(next_id, "invoke", "send", client, t0, value))
        kind = int(first[i])
        if kind == 0:
            ops.append(Op(next_id, "ok", "send", client, done, acked))
            acks[i] = (t0, t0 + (done - t0) // 2)
            continue
        status = 503 if kind == 1 else None
        outcome: OpType = "fail" if kind == 1 else "info"
        ops.append(Op(next_id, outcome, "send", client, done, {"status": status, "error": "x"}))
        if kind == 2:  # the client retries an indeterminate send; it succeeds
            next_id += 1
            t1 = done + MS
            ops.append(Op(next_id, "invoke", "send", client, t1, value))
            d2 = t1 + int(lat2[i])
            ops.append(Op(next_id, "ok", "send", client, d2, acked))
            acks[i] = (t0, t1 + (d2 - t1) // 2)
    end = int(intended[-1]) + 100 * MS
    for j, start in enumerate(range(int(end * 0.2), int(end * 0.9), max(1, int(end * 0.2)))):
        for f, t in (("inject", start), ("heal", start + int(end * 0.05))):
            next_id += 1
            v = {"fault": f"f{j}", "kind": "kill", "target": "kafka.random"}
            ops.append(Op(next_id, "invoke", f, NEMESIS, t, v))
            healed = {
                **v,
                "resolved": ["kafka-1"],
                "evidence": {"effective": True},
                "effective": True,
            }
            ops.append(Op(next_id, "ok", f, NEMESIS, t + 10 * MS, healed))
    ops.sort(key=lambda o: o.time)

    keys = np.fromiter(acks, dtype=np.int64, count=len(acks))
    wp = np.fromiter((acks[k][1] for k in acks), dtype=np.int64, count=len(acks))
    order = np.lexsort((wp, conv[keys]))
    store: list[StoredRecord] = []
    api: dict[str, list[str]] = {}
    delivery: list[DeliveryEvent] = []
    for n, i in enumerate(keys[order].tolist()):
        c = int(conv[i])
        mid = f"m{i}"
        st = acks[i][1] + int(stored_lag[i])
        store.append(StoredRecord(mid, f"k{i}", f"a{c}:b{c}", None, c % 12, n, st))
        api.setdefault(f"a{c}:b{c}", []).append(mid)
        delivery.append(DeliveryEvent(f"consumer-{c % 3}", c % 12, n, mid, st, "stored"))
        if n % 1000 == 0:  # a rewind handles it again
            delivery.append(DeliveryEvent(f"consumer-{c % 3}", c % 12, n, mid, st, "duplicate"))
    return ops, FinalReads(store=store, api=api, delivery=delivery, healed_at=None)


def timed(label: str, fn: Callable[[], T], out: dict[str, float]) -> T:
    """Run ``fn``; record wall time as ``label`` and CPU time as ``label + "_cpu"``.

    CPU time is what the budget is about: on a machine shared with a running
    cluster the wall clock also measures everybody else.
    """
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    out[label] = time.perf_counter() - t
    out[label + "_cpu"] = time.process_time() - c
    return result


def bench(n_ops: int = 1_000_000, seed: int = 1) -> dict[str, Any]:
    """Build a run, then time checkers + metrics; returns timings and verdicts."""
    build: dict[str, float] = {}
    ops, reads = timed("generate", lambda: synthetic_run(n_ops, seed), build)
    times: dict[str, float] = {}
    an = Analysis(ops, reads)
    results = timed("check_all", lambda: check_all(ops, reads, analysis=an), times)
    timed("summary", lambda: summary(ops, reads, analysis=an), times)
    return {
        "ops": len(ops),
        "generate_s": round(build["generate"], 3),
        "check_all_s": round(times["check_all"], 3),
        "summary_s": round(times["summary"], 3),
        "total_s": round(times["check_all"] + times["summary"], 3),
        "total_cpu_s": round(times["check_all_cpu"] + times["summary_cpu"], 3),
        "valid": {n: r.valid for n, r in results.items()},
        "errors": {n: r.error for n, r in results.items() if r.error},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--ops", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    r = bench(args.ops, args.seed)
    for k, v in r.items():
        print(f"{k:>12}: {v}")
    return 0 if all(v is True for v in r["valid"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
