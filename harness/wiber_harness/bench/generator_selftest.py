"""Measure the workload generator against a trivial endpoint, and wrk against the same.

    python -m wiber_harness.bench.generator_selftest --selftest [--rate 2000] [--duration 10] \
        [--wrk] [--server aiohttp|fastapi]
    python -m wiber_harness.bench.generator_selftest --selftest-url URL --rate R --duration D
    python -m wiber_harness.bench.generator_selftest --serve [--server aiohttp|fastapi] [--port P]

The endpoint is :mod:`wiber_harness.bench.endpoint`: ``aiohttp`` is the
cheapest server, ``fastapi`` (Wiber's pydantic models, uvicorn, one worker)
the one the generator was first measured against with wrk (numbers in
``docs/architecture.md``, "Decisions worth knowing"); ``--serve`` only runs it.
``--selftest`` starts it as its own process on a free port
(:func:`~wiber_harness.bench.endpoint.trivial_server`), runs
:func:`measure_generator` against it and, with ``--wrk``, runs ``wrk -t1
-c32`` (:func:`wiber_harness.bench.floor.run_wrk`) with a Wiber POST for
the same duration, then stops it.

:func:`measure_generator` runs a real :class:`~wiber_harness.workload.Workload`
writing a real history (a temporary file) and reports, as a dict:
``scheduled/sent/ok/fail/info/skipped/skipped_late``, ``sent_per_s`` (sends over the
schedule's span), ``ok_per_s`` (acknowledgements from the start to the last
acknowledgement), ``latency_ms`` percentiles from the *intended* time of
each ok send, the generator's own ``launch_lag_ms``, ``cpu_s`` (this
process's CPU time) and ``sent_per_cpu_s`` (sends per CPU-second: about the
rate one free core sustains; it survives a machine busy with other work
better than the rates do). :func:`measure_wrk` reports wrk's result
(:class:`~wiber_harness.bench.floor.WrkResult`) and its ``cpu_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wiber_harness.bench.endpoint import SERVERS, serve, trivial_server
from wiber_harness.bench.floor import run_wrk
from wiber_harness.clock import Clock
from wiber_harness.history import HistoryWriter, pairs
from wiber_harness.workload import Workload, WorkloadConfig

NS = 1_000_000_000


# -- measuring -------------------------------------------------------------------


def _percentiles(ns: np.ndarray) -> dict[str, float | None]:
    if len(ns) == 0:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    q = np.percentile(ns, [50, 90, 99, 99.9]) / 1e6
    return {
        "p50": round(float(q[0]), 3),
        "p90": round(float(q[1]), 3),
        "p99": round(float(q[2]), 3),
        "p999": round(float(q[3]), 3),
        "max": round(float(ns.max()) / 1e6, 3),
    }


async def measure_generator_async(
    url: str,
    rate: float,
    duration: float,
    *,
    concurrency: int = 256,
    batch: int = 0,
    payload_size: int = 64,
    conversations: int = 50,
    request_timeout: float = 10.0,
    history_path: Path | None = None,
) -> dict[str, Any]:
    """Run the real generator against ``url``; achieved rates and latency from intended."""
    cfg = WorkloadConfig(
        rate=rate,
        duration=duration,
        conversations=conversations,
        payload_size=payload_size,
        concurrency=concurrency,
        batch=batch,
        request_timeout=request_timeout,
        run_id="bench",
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = history_path or Path(tmp) / "history.jsonl"
        with HistoryWriter(path, {"bench": "workload"}) as hist:
            clock = Clock()
            wl = Workload(cfg, [url], hist, clock)
            cpu0 = time.process_time()
            stats = await wl.run()
            cpu = time.process_time() - cpu0
            ops = list(hist.ops)
    lat: list[int] = []
    last_ok = 0
    first = None
    unpaired = 0
    for inv, done in pairs(ops):
        first = inv.value["intended"] if first is None else first
        if done is None:
            unpaired += 1
        elif done.type == "ok":
            lat.append(done.time - inv.value["intended"])
            last_ok = max(last_ok, done.time)
    span_ok = (last_ok - first) / NS if first is not None and last_ok else 0.0
    return {
        "url": url,
        "rate": rate,
        "duration": duration,
        "batch": batch,
        "concurrency": concurrency,
        "scheduled": stats.scheduled,
        "sent": stats.sent,
        "ok": stats.ok,
        "fail": stats.fail,
        "info": stats.info,
        "skipped": stats.skipped,
        "skipped_late": stats.skipped_late,
        "unpaired": unpaired,
        "sent_per_s": round(stats.achieved_rate, 1),
        "ok_per_s": round(stats.ok / span_ok, 1) if span_ok > 0 else 0.0,
        "latency_ms": _percentiles(np.asarray(lat, dtype=np.float64)),
        "launch_lag_ms": {"p99": stats.launch_lag_p99_ms, "max": round(stats.launch_lag_max_ms, 3)},
        "cpu_s": round(cpu, 2),
        "sent_per_cpu_s": round(stats.sent / cpu) if cpu > 0 else None,
        "elapsed_s": round(stats.elapsed_s, 2),
    }


def measure_generator(url: str, rate: float, duration: float, **kw: Any) -> dict[str, Any]:
    """Synchronous :func:`measure_generator_async` (its own event loop)."""
    return asyncio.run(measure_generator_async(url, rate, duration, **kw))


def measure_wrk(
    url: str, duration: float, threads: int = 1, connections: int = 32
) -> dict[str, Any]:
    """``wrk`` posting one message body to ``url``/messages (closed loop, max rate), and the
    CPU it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        w = run_wrk(url, duration, Path(tmp), threads=threads, connections=connections)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**w.to_dict(), "cpu_s": round(cpu, 2)}


# -- CLI -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m wiber_harness.bench.generator_selftest",
        description="Measure the open-loop generator (and wrk) against a trivial endpoint.",
    )
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--selftest-url", metavar="URL", help="measure against this base URL")
    mode.add_argument(
        "--selftest", action="store_true", help="start the trivial endpoint and measure"
    )
    mode.add_argument("--serve", action="store_true", help="run the trivial endpoint")
    ap.add_argument("--server", choices=SERVERS, default="aiohttp")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--payload-size", type=int, default=64)
    ap.add_argument("--uvloop", action="store_true", help="run the generator on uvloop")
    ap.add_argument("--wrk", action="store_true", help="also run wrk -t1 -c32 (with --selftest)")
    a = ap.parse_args(argv)
    if a.serve:
        serve(a.server, a.host, a.port)
        return 0
    if a.uvloop:
        import uvloop

        uvloop.install()
    kw = {"concurrency": a.concurrency, "batch": a.batch, "payload_size": a.payload_size}
    if a.selftest_url:
        print(json.dumps(measure_generator(a.selftest_url, a.rate, a.duration, **kw), indent=2))
        return 0
    with trivial_server(a.server) as url:
        out: dict[str, Any] = {"server": a.server}
        out["generator"] = measure_generator(url, a.rate, a.duration, **kw)
        if a.wrk:
            out["wrk"] = measure_wrk(url, a.duration)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "measure_generator", "measure_generator_async", "measure_wrk"]
