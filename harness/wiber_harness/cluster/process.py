"""One supervised OS process of the stack: its own process group, log file and verbs.

A node is started with ``start_new_session=True`` so it leads its own
process group: every verb (kill, stop, pause, resume) is sent to the whole
group, which also reaches children the node spawns (uvicorn workers, JVM
helpers). Every group is registered with the :class:`Watchdog`, so nothing
outlives the harness. Output goes to the node's log file (appended across
restarts, with a marker line per start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from wiber_harness.cluster.guards import Watchdog
from wiber_harness.errors import ClusterError


@dataclass
class ProcessSpec:
    """How to start a node: argv, env additions, working dir, log file."""

    name: str
    role: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    address: str = ""


class ManagedProcess:
    """A node's process with lifecycle verbs that return evidence dicts."""

    def __init__(self, spec: ProcessSpec, watchdog: Watchdog) -> None:
        self.spec = spec
        self._watchdog = watchdog
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.paused = False
        self.starts = 0
        self.start_offset = 0  # size of the log file when the current start began

    # -- queries -----------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def alive(self) -> bool:
        """The process exists (running or paused), i.e. has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def running(self) -> bool:
        return self.alive() and not self.paused

    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def state(self) -> str:
        """psutil's view of the process: running, sleeping, stopped, zombie, or exited."""
        if self._proc is None:
            return "never-started"
        if self._proc.poll() is not None:
            return f"exited({self._proc.returncode})"
        try:
            return str(psutil.Process(self._proc.pid).status())
        except psutil.NoSuchProcess:
            return "exited"

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the current (or last) start wrote; earlier starts are not included."""
        try:
            data = self.spec.log.read_bytes()[-16000:].decode(errors="replace")
        except OSError:
            return ""
        mark = data.rfind("===== wiber-harness: start #")
        if mark >= 0:
            data = data[mark:]
        return "\n".join(data.splitlines()[-lines:])

    def logged_since_start(self, text: str) -> bool:
        """Whether the current start's output contains ``text`` (e.g. a started banner)."""
        try:
            with self.spec.log.open("rb") as fh:
                fh.seek(self.start_offset)
                return text.encode() in fh.read()
        except OSError:
            return False

    # -- verbs -------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        if self.alive():
            raise ClusterError(
                f"{self.name}: already running (pid {self.pid}); stop it before starting it again"
            )
        self.spec.log.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.spec.log.open("ab")
        self.start_offset = self._log.tell()
        self._log.write(
            f"\n===== wiber-harness: start #{self.starts + 1} "
            f"at {time.strftime('%H:%M:%S')} =====\n".encode()
        )
        self._log.flush()
        env = {**os.environ, **self.spec.env}
        try:
            self._proc = subprocess.Popen(
                list(self.spec.argv),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.spec.cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            raise ClusterError(
                f"{self.name}: cannot execute {self.spec.argv[0]} ({e.strerror}); "
                "run 'wiber-harness doctor'"
            ) from e
        self._watchdog.register(self._proc.pid)
        self.paused = False
        self.starts += 1
        return {"action": "start", "pid": self._proc.pid, "state": self.state()}

    def _signal_group(self, sig: int) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def kill(self) -> dict[str, Any]:
        """SIGKILL the group and reap; evidence: the exit status."""
        if not self.alive():
            return self._not_running("kill")
        pid = self._proc.pid if self._proc else None
        self._signal_group(signal.SIGKILL)
        rc = self._wait(10)
        self._reap_group(pid)
        self.paused = False
        return {
            "action": "kill",
            "effective": rc is not None,
            "pid": pid,
            "returncode": rc,
            "state": self.state(),
        }

    def stop(self, grace: float = 15.0) -> dict[str, Any]:
        """SIGTERM the group; SIGKILL after ``grace`` seconds."""
        if not self.alive():
            return self._not_running("stop")
        pid = self._proc.pid if self._proc else None
        if self.paused:
            self._signal_group(signal.SIGCONT)
        self._signal_group(signal.SIGTERM)
        rc = self._wait(grace)
        forced = False
        if rc is None:
            forced = True
            self._signal_group(signal.SIGKILL)
            rc = self._wait(10)
        self._reap_group(pid)
        self.paused = False
        return {
            "action": "stop",
            "effective": rc is not None,
            "pid": pid,
            "returncode": rc,
            "forced": forced,
            "state": self.state(),
        }

    def pause(self) -> dict[str, Any]:
        if not self.alive():
            return self._not_running("pause")
        self._signal_group(signal.SIGSTOP)
        self.paused = True
        st = self._wait_state("stopped", 5)
        return {"action": "pause", "effective": st == "stopped", "pid": self.pid, "state": st}

    def resume(self) -> dict[str, Any]:
        if not self.alive():
            return self._not_running("resume")
        self._signal_group(signal.SIGCONT)
        self.paused = False
        time.sleep(0.05)
        st = self.state()
        return {"action": "resume", "effective": st != "stopped", "pid": self.pid, "state": st}

    def _not_running(self, action: str) -> dict[str, Any]:
        """The evidence of a verb that found no process to act on."""
        return {
            "action": action,
            "effective": False,
            "state": self.state(),
            "reason": "process was not running",
        }

    def _wait(self, timeout: float) -> int | None:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _wait_state(self, want: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        st = self.state()
        while st != want and time.monotonic() < deadline:
            time.sleep(0.02)
            st = self.state()
        return st

    def _reap_group(self, pgid: int | None) -> None:
        """Kill stragglers of the group (children that outlived the leader), then unregister it."""
        if pgid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self._watchdog.unregister(pgid)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        if self.alive():
            self.stop(grace=10)
        self._close_log()


def stop_all(procs: Sequence[ManagedProcess], grace: float = 10.0) -> None:
    """SIGTERM every process at once, wait up to ``grace`` in total, SIGKILL the rest.

    Stopping in parallel keeps teardown short (three brokers shutting down
    one after the other take three times as long).
    """
    live = [p for p in procs if p.alive()]
    for p in live:
        if p.paused:
            p._signal_group(signal.SIGCONT)
        p._signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in live:
        p._wait(max(0.0, deadline - time.monotonic()))
    for p in live:
        pid = p._proc.pid if p._proc else None
        if p.alive():
            p._signal_group(signal.SIGKILL)
            p._wait(10)
        p._reap_group(pid)
        p.paused = False
        p._close_log()


__all__ = ["ManagedProcess", "ProcessSpec", "stop_all"]
