"""Small helpers every cluster backend shares: ports, probes, quiet logs, the readiness wait.

Promises: :func:`free_ports` hands out distinct ports that were free a
moment ago; :func:`port_open`, :func:`http_ok` and :func:`safe` are probes
that answer True or False and never raise; :func:`quiet_logger` keeps
librdkafka's log in a file instead of the console; :func:`wait_until_ready`
polls readiness checks with a deadline and fails in one sentence that names
what is not ready and where its log is.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from wiber_harness.errors import ClusterError

HOST = "127.0.0.1"


def free_ports(n: int) -> list[int]:
    """n distinct free ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, timeout: float = 0.3) -> bool:
    """Something accepts TCP connections on ``HOST:port``."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """``GET url`` answers 200 within a second."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def store_pings(uri: str, timeout_ms: int) -> bool:
    """The MongoDB-wire store at ``uri`` answers ``ping`` within ``timeout_ms`` (any error: no)."""
    import contextlib

    import pymongo

    try:
        c: pymongo.MongoClient[dict[str, object]]
        with contextlib.closing(
            pymongo.MongoClient(
                uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
            )
        ) as c:
            c.admin.command("ping")
        return True
    except Exception:
        return False


def safe(fn: Callable[[], object]) -> bool:
    """The truth of ``fn()``; False when it raises (a probe never throws)."""
    try:
        return bool(fn())
    except Exception:
        return False


def quiet_logger(path: Path) -> logging.Logger:
    """A logger for librdkafka that writes to a file instead of stderr."""
    log = logging.getLogger(f"wiber_harness.rdkafka.{path}")
    if not log.handlers:
        path.parent.mkdir(parents=True, exist_ok=True)
        h = logging.FileHandler(path)
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(h)
        log.propagate = False
        log.setLevel(logging.INFO)
    return log


def wait_until_ready(
    checks: Mapping[str, Callable[[], bool]],
    timeout: float,
    *,
    failed: Callable[[str], str | None],
    not_ready: Callable[[list[str]], str],
    watch: Sequence[str] = (),
) -> None:
    """Poll every check four times a second until all pass; ClusterError otherwise.

    A check that raises counts as not passed. After each round ``failed`` is
    asked about every pending check and every ``watch`` name (node names; a
    check named after no node answers None): a sentence means that node can
    no longer become ready (its process exited), and is raised at once.
    After ``timeout`` seconds the error names the pending checks and ends
    with ``not_ready(pending + watch)``: where their logs are, and a hint.
    """
    pending = dict(checks)
    deadline = time.monotonic() + timeout
    while pending:
        for key, fn in list(pending.items()):
            if safe(fn):
                del pending[key]
        if not pending:
            return
        for name in [*pending, *watch]:
            reason = failed(name)
            if reason is not None:
                raise ClusterError(reason)
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{', '.join(sorted(pending))}: not ready after {timeout:.0f} s; "
                f"{not_ready([*pending, *watch])}"
            )
        time.sleep(0.25)


__all__ = [
    "HOST",
    "free_ports",
    "http_ok",
    "port_open",
    "quiet_logger",
    "safe",
    "wait_until_ready",
]
