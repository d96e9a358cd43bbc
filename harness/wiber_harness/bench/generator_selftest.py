"""Measure the workload generator against a trivial endpoint, and wrk against the same.

    python -m wiber_harness.bench.generator_selftest --selftest [--rate 2000] [--duration 10] [--wrk]
    python -m wiber_harness.bench.generator_selftest --selftest-url URL --rate R --duration D
    python -m wiber_harness.bench.generator_selftest --serve [--server aiohttp|fastapi] [--port P]

``--serve`` runs the trivial endpoint: ``POST /messages`` (and
``/messages/batch``) answers 201 with a Wiber-shaped body (``messageId``
derived from sender and key like the real API, ``conversationId``) and does
nothing else; ``aiohttp`` is the cheapest server, ``fastapi`` (pydantic body,
uvicorn, one worker) the one ENVIRONMENT.md measured wrk against.
``--selftest`` starts that endpoint as its own process on a free port (the
generator and the server must not share an event loop, or each halves the
other), runs :func:`measure_generator` against it and, with ``--wrk``, runs
``wrk -t1 -c32`` with the same POST for the same duration, then stops it.

:func:`measure_generator` runs a real :class:`~wiber_harness.workload.Workload`
writing a real history (a temporary file) and reports, as a dict:
``scheduled/sent/ok/fail/info/skipped/skipped_late``, ``sent_per_s`` (sends over the
schedule's span), ``ok_per_s`` (acknowledgements from the start to the last
acknowledgement), ``latency_ms`` percentiles from the *intended* time of
each ok send, the generator's own ``launch_lag_ms``, ``cpu_s`` (this
process's CPU time) and ``sent_per_cpu_s`` (sends per CPU-second: about the
rate one free core sustains; it survives a machine busy with other work
better than the rates do). :func:`measure_wrk` reports wrk's ``cpu_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel

from wiber.model import conversation_id, derive_message_id
from wiber_harness.clock import Clock
from wiber_harness.history import HistoryWriter, pairs
from wiber_harness.workload import Workload, WorkloadConfig

NS = 1_000_000_000


# -- the trivial endpoint ------------------------------------------------------


def _answer(item: dict[str, Any]) -> dict[str, Any]:
    frm, to = str(item.get("fromUser", "")), str(item.get("toUser", ""))
    key = item.get("clientMessageId")
    return {
        "messageId": derive_message_id(frm, key if isinstance(key, str) else None),
        "conversationId": conversation_id(frm, to),
        "fromUser": frm,
        "toUser": to,
    }


class _Item(BaseModel):
    # module level: FastAPI resolves the (postponed) annotations by module globals
    fromUser: str
    toUser: str
    content: str
    clientMessageId: str | None = None


class _Batch(BaseModel):
    messages: list[_Item]


def serve_aiohttp(host: str, port: int) -> None:
    """The trivial endpoint on aiohttp.web (blocks until killed)."""
    from aiohttp import web

    async def single(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        return web.Response(
            status=201, body=orjson.dumps(_answer(body)), content_type="application/json"
        )

    async def batch(request: web.Request) -> web.Response:
        items = orjson.loads(await request.read())["messages"]
        res = [{"index": i, "status": 201, **_answer(it)} for i, it in enumerate(items)]
        return web.Response(
            status=201, body=orjson.dumps({"results": res}), content_type="application/json"
        )

    app = web.Application()
    app.router.add_post("/messages", single)
    app.router.add_post("/messages/batch", batch)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


def serve_fastapi(host: str, port: int) -> None:
    """The trivial endpoint on FastAPI + uvicorn, pydantic body (blocks until killed)."""
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.post("/messages", status_code=201)
    async def single(item: _Item) -> Response:
        return Response(
            orjson.dumps(_answer(item.model_dump())), 201, media_type="application/json"
        )

    @app.post("/messages/batch", status_code=201)
    async def batch(b: _Batch) -> Response:
        res = [
            {"index": i, "status": 201, **_answer(it.model_dump())}
            for i, it in enumerate(b.messages)
        ]
        return Response(orjson.dumps({"results": res}), 201, media_type="application/json")

    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def trivial_server(server: str = "aiohttp", timeout: float = 20.0) -> Iterator[str]:
    """Start the trivial endpoint as a child process; yield its base URL; stop it."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "wiber_harness.bench.generator_selftest",
        "--serve",
        "--server",
        server,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"the trivial {server} server exited: {err[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the trivial {server} server did not listen within {timeout}s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


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
    """``wrk`` posting one message body to ``url``/messages: its req/s (closed loop, max rate)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"error": "wrk is not installed (apt-get install -y wrk)"}
    body = orjson.dumps(
        {"fromUser": "u0", "toUser": "u1", "content": "u0#1 " + "." * 59, "clientMessageId": "k"}
    ).decode()
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Idempotency-Key"] = "k"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                f.name,
                url.rstrip("/") + "/messages",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        ).stdout
    finally:
        os.unlink(f.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    return {
        "threads": threads,
        "connections": connections,
        "req_per_s": float(rps.group(1)) if rps else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "latency": {f"p{k}": v for k, v in lat.items()},
        "cpu_s": round(cpu, 2),
    }


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
    ap.add_argument("--server", choices=("aiohttp", "fastapi"), default="aiohttp")
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
        (serve_fastapi if a.server == "fastapi" else serve_aiohttp)(a.host, a.port)
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


__all__ = [
    "free_port",
    "main",
    "measure_generator",
    "measure_generator_async",
    "measure_wrk",
    "serve_aiohttp",
    "serve_fastapi",
    "trivial_server",
]
