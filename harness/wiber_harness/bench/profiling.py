"""Sampling profiles of the pipeline's processes with py-spy, and what they say.

:class:`Profiler` attaches ``py-spy record`` to one running process (by
pid, ``--nonblocking``: the target is never paused, so it keeps its pace)
for a fixed duration, twice in parallel: ``<name>.svg`` (an interactive
flame graph) and ``<name>.txt`` (collapsed stacks, ``frame;frame;...
count``, with full file names), both aggregated by function (``--function``).
It also reads the process's CPU time before and after (psutil), so a
profile says both *how busy* the process was (``cpu_util``: cores used,
1.0 = one core saturated) and *where* the time went; :class:`CpuMeter`
does the same for every other process of the stack over the same window
(which component was the busy one).

:func:`summarize_collapsed` turns collapsed stacks into evidence:

* ``samples``: samples seen (py-spy drops the samples of threads it sees
  idle, so these are the moments some Python thread was running, waiting
  on the GIL, or blocked in C code py-spy cannot tell from running);
* ``loop_idle_pct``: samples whose top frame is an event loop or selector
  waiting for I/O (uvloop's loop is C code, so py-spy shows a waiting
  uvicorn as ``Runner.run``): idle time, not work;
* ``top_self``: functions at the top of the stack (where the CPU was),
  share of all samples; ``top_self_busy``: the same among the samples that
  are not loop-idle (where the *work* went);
* ``top_inclusive``: functions anywhere on the stack (what the time was
  spent under), share of samples, each counted once per sample;
* ``by_package``: self time by the top-level package of the frame's file
  (``fastapi``, ``starlette``, ``pydantic``, ``asyncio``, ``wiber``,
  ``confluent_kafka``, ``pymongo`` ...; ``stdlib`` for the rest of the
  standard library, ``native`` for frames without a file).

py-spy is optional (``pip install py-spy``): without it
:func:`py_spy_path` is None and the bench records that no profile was taken.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_SITE = re.compile(r"(?:site|dist)-packages/([^/]+)")
PY_SPY_FIX = "install it with 'pip install py-spy'"


def py_spy_path() -> str | None:
    return shutil.which("py-spy")


def package_of(path: str) -> str:
    """The top-level package a frame's file belongs to (see the module docstring)."""
    if not path or path.startswith("<"):
        return "native" if not path else "builtin"
    m = _SITE.search(path)
    if m:
        return m.group(1).split(".")[0]
    for mark, name in (("/wiber_harness/", "wiber_harness"), ("/wiber/", "wiber")):
        if mark in path:
            return name
    if "/asyncio/" in path:
        return "asyncio"
    if "/python3" in path or "/lib/python" in path:
        return "stdlib"
    return "other"


def _frame(text: str) -> tuple[str, str]:
    m = _FRAME.match(text.strip())
    if not m:
        return text.strip(), ""
    return m.group("func"), m.group("file")


def _short(func: str, path: str) -> str:
    if not path:
        return func
    tail = "/".join(path.split("/")[-2:])
    return f"{func} ({tail})"


# top frames that mean "waiting for I/O in the event loop", not work
IDLE_LEAVES = frozenset(
    {
        "Runner.run",
        "BaseEventLoop.run_forever",
        "BaseEventLoop._run_once",
        "EpollSelector.select",
        "PollSelector.select",
        "_PollLikeSelector.select",
        "DefaultSelector.select",
        "select",
        "poll",
    }
)


def summarize_collapsed(text: str, top: int = 12) -> dict[str, Any]:
    """Self, inclusive and per-package shares of collapsed stacks (see the module docstring)."""
    self_c: Counter[str] = Counter()
    busy_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkg: Counter[str] = Counter()
    total = idle = 0
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        func, path = frames[-1]
        self_c[_short(func, path)] += n
        pkg[package_of(path)] += n
        if func in IDLE_LEAVES:
            idle += n
        else:
            busy_c[_short(func, path)] += n
        for name in {_short(f, p) for f, p in frames}:
            incl[name] += n

    def share(c: Counter[str], k: int, of: int) -> list[dict[str, Any]]:
        return (
            [{"frame": f, "pct": round(100.0 * n / of, 1)} for f, n in c.most_common(k)]
            if of
            else []
        )

    return {
        "samples": total,
        "loop_idle_pct": round(100.0 * idle / total, 1) if total else None,
        "top_self": share(self_c, top, total),
        "top_self_busy": share(busy_c, top, total - idle),
        "top_inclusive": share(incl, top + 8, total),
        "by_package": {p: round(100.0 * n / total, 1) for p, n in pkg.most_common()}
        if total
        else {},
    }


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used so far (None: not measurable here)."""
    if not pid:
        return None
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return None


class CpuMeter:
    """CPU time used by named processes between :meth:`start` and :meth:`stop`, in cores.

    ``cores`` of 1.0 means one core busy for the whole window; a process
    that exits meanwhile is reported as None.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {k: v for k, v in pids.items() if v}
        self._t0 = 0.0
        self._c0: dict[str, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._c0 = {k: c for k, pid in self.pids.items() if (c := process_cpu_s(pid)) is not None}

    def stop(self) -> dict[str, float | None]:
        dt = max(time.monotonic() - self._t0, 1e-6)
        out: dict[str, float | None] = {}
        for k, pid in self.pids.items():
            c1 = process_cpu_s(pid)
            out[k] = None if c1 is None or k not in self._c0 else round((c1 - self._c0[k]) / dt, 3)
        return out


@dataclass
class Profiler:
    """py-spy on one process for ``duration_s``; :meth:`start` then :meth:`finish`."""

    pid: int
    name: str
    out_dir: Path
    duration_s: float
    rate: int = 100
    role: str = ""
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cpu0: float | None = None
    _t0: float = 0.0
    error: str | None = None

    @property
    def svg(self) -> Path:
        return self.out_dir / f"{self.name}.svg"

    @property
    def raw(self) -> Path:
        return self.out_dir / f"{self.name}.txt"

    def start(self) -> None:
        spy = py_spy_path()
        if spy is None:
            self.error = f"py-spy is not installed; {PY_SPY_FIX}"
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            ct = psutil.Process(self.pid).cpu_times()
            self._cpu0 = ct.user + ct.system
        except psutil.Error as e:
            self.error = f"process {self.pid} is gone ({e})"
            return
        self._t0 = time.monotonic()
        common = [
            "record",
            "--pid",
            str(self.pid),
            "--duration",
            str(max(1, round(self.duration_s))),
            "--rate",
            str(self.rate),
            "--nonblocking",
            "--function",
        ]
        log = (self.out_dir / f"{self.name}.log").open("wb")
        try:
            for fmt, out, extra in (
                ("raw", self.raw, ["--full-filenames"]),
                ("flamegraph", self.svg, []),
            ):
                self._procs.append(
                    subprocess.Popen(
                        [spy, *common, *extra, "--format", fmt, "--output", str(out)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        finally:
            log.close()

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for py-spy; the summary (``error`` set when there is no profile)."""
        for p in self._procs:
            try:
                p.wait(timeout=self.duration_s + timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "pid": self.pid,
            "duration_s": self.duration_s,
            "rate_hz": self.rate,
        }
        util = None
        if self._cpu0 is not None:
            try:
                ct = psutil.Process(self.pid).cpu_times()
                util = (ct.user + ct.system - self._cpu0) / max(time.monotonic() - self._t0, 1e-6)
            except psutil.Error:
                util = None
        out["cpu_util"] = None if util is None else round(util, 3)
        if self.error is None and not self.raw.exists():
            self.error = f"py-spy wrote no profile; see {self.out_dir / (self.name + '.log')}"
        if self.error is not None:
            out["error"] = self.error
            return out
        out.update(summarize_collapsed(self.raw.read_text()))
        out["files"] = {"svg": self.svg.name, "collapsed": self.raw.name}
        return out


__all__ = [
    "IDLE_LEAVES",
    "PY_SPY_FIX",
    "CpuMeter",
    "Profiler",
    "package_of",
    "py_spy_path",
    "summarize_collapsed",
]
