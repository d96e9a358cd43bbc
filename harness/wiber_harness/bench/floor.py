"""Serving the HTTP floor, and ``wrk`` against it.

* :func:`floor_argv`: the API's own command line (the system spec's
  ``api_argv``: ``python -m uvicorn wiber.api:app --host H --port P
  --log-level warning --no-access-log``) with the app replaced by the
  trivial endpoint's FastAPI app (:data:`~wiber_harness.bench.endpoint.FLOOR_APP`),
  so the floor runs under exactly the uvicorn settings (loop, HTTP parser,
  one worker) of the API.
* :class:`FloorServer`: that process, in its own process group under the
  bench's :class:`~wiber_harness.cluster.guards.Watchdog`, ready when
  ``GET /health/readiness`` answers 200; ``close()`` stops it.
* :func:`run_wrk`: ``wrk -tT -cC -dDs --latency -s post.lua URL/messages``
  with a Lua script that POSTs one Wiber-shaped JSON body (the workload's
  body: sender, recipient, 64-byte content, idempotency key) with the
  ``Idempotency-Key`` header. wrk is closed-loop (each connection sends its
  next request when the answer arrives): its req/s is the most the endpoint
  serves, the yardstick for the generator. :func:`parse_wrk` reads
  ``Requests/sec``, non-2xx answers, socket errors and the latency
  percentiles (``--latency``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from wiber_harness.bench.endpoint import FLOOR_APP, free_port
from wiber_harness.bench.generator import LoadSpec
from wiber_harness.cluster.guards import Watchdog
from wiber_harness.cluster.process import ManagedProcess, ProcessSpec
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.errors import HarnessError
from wiber_harness.workload.plan import content_for

WRK_FIX = "install it with 'apt-get install -y wrk'"


def floor_argv(host: str, port: int, system: SystemSpec = DEFAULT_SYSTEM) -> list[str]:
    """The API's argv with its ASGI app swapped for the floor app."""
    argv = system.render_argv(system.api_argv, {"host": host, "port": port})
    apps = [i for i, a in enumerate(argv) if a.endswith(":app")]
    if not apps:
        raise HarnessError(
            f"the system's api argv names no ASGI app (…:app): {argv}; "
            "the HTTP floor needs a uvicorn command line to copy"
        )
    argv[apps[0]] = FLOOR_APP
    return argv


@dataclass
class FloorServer:
    """The floor app as a managed process; use as a context manager."""

    directory: Path
    watchdog: Watchdog
    host: str = "127.0.0.1"
    port: int = 0
    system: SystemSpec = DEFAULT_SYSTEM  # whose API command line the floor copies
    proc: ManagedProcess | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = 60.0) -> None:
        if not self.port:
            self.port = free_port()
        self.directory.mkdir(parents=True, exist_ok=True)
        spec = ProcessSpec(
            "floor",
            "floor",
            floor_argv(self.host, self.port, self.system),
            self.directory / "floor.log",
            address=self.url,
        )
        self.proc = ManagedProcess(spec, self.watchdog)
        self.proc.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/health/readiness", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.proc.alive():
                raise HarnessError(f"the HTTP floor server exited at start; see {spec.log}")
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"the HTTP floor server was not ready within {timeout:.0f} s; see {spec.log}"
                )
            time.sleep(0.1)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.close()

    def __enter__(self) -> FloorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: closed-loop requests per second and latency percentiles (ms)."""

    threads: int
    connections: int
    duration_s: float
    req_per_s: float | None
    non_2xx: int
    socket_errors: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def parse_wrk(stdout: str, threads: int, connections: int, duration_s: float) -> WrkResult:
    """wrk's ``--latency`` report as a :class:`WrkResult` (req_per_s None when absent)."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", stdout, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", stdout)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout
    )
    lat: dict[str, float] = {}
    for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", stdout, re.M):
        ms = _ms(v)
        if ms is not None:
            lat[f"p{p}"] = round(ms, 3)
    return WrkResult(
        threads,
        connections,
        duration_s,
        float(rps.group(1)) if rps else None,
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(x) for x in sock.groups()) if sock else 0,
        lat,
        None if rps else f"wrk printed no Requests/sec: {stdout[-300:]!r}",
    )


def wrk_script(payload_size: int = 64) -> str:
    """The Lua script: one POST with a Wiber body like the workload's, and its key header."""
    key = "bench-floor-g0-g0u12-12345"
    body = orjson.dumps(
        {
            "fromUser": "g0u12",
            "toUser": "g0u13",
            "content": content_for("g0u12", 12345, payload_size),
            "clientMessageId": key,
        }
    ).decode()
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Idempotency-Key"] = "{key}"\n'
    )


def run_wrk(
    url: str,
    duration_s: float,
    workdir: Path,
    *,
    threads: int = 1,
    connections: int = 32,
    payload_size: int = 64,
) -> WrkResult:
    """Run wrk against ``url``/messages; a result with ``error`` set if wrk is missing or failed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return WrkResult(
            threads, connections, duration_s, None, 0, 0, {}, f"wrk is not installed; {WRK_FIX}"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "post.lua"
    script.write_text(wrk_script(payload_size))
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "-s",
        str(script),
        url.rstrip("/") + "/messages",
    ]
    try:
        r = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    except subprocess.TimeoutExpired:
        return WrkResult(
            threads, connections, duration_s, None, 0, 0, {}, "wrk did not finish in time"
        )
    with (workdir / "wrk.log").open("a") as log:
        log.write(f"$ {' '.join(argv)}\n{r.stdout}\n{r.stderr}\n")
    return parse_wrk(r.stdout, threads, connections, duration_s)


def floor_load(
    url: str,
    rate: float,
    duration: float,
    *,
    processes: int,
    concurrency: int,
    payload_size: int,
    batch: int = 0,
    run_id: str = "floor",
) -> LoadSpec:
    """The generator's load against the floor (same knobs as against the API)."""
    return LoadSpec(
        (url,),
        rate,
        duration,
        batch=batch,
        concurrency=concurrency,
        payload_size=payload_size,
        run_id=run_id,
        processes=processes,
    )


__all__ = [
    "FLOOR_APP",
    "FloorServer",
    "WrkResult",
    "floor_argv",
    "floor_load",
    "parse_wrk",
    "run_wrk",
    "wrk_script",
]
