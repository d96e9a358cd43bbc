"""One compose node's container, with the process-like queries and verbs of a node.

Verbs go through the Docker SDK: ``kill`` is SIGKILL, ``stop`` SIGTERM with
a grace period, ``pause``/``resume`` the cgroup freezer, ``start`` starts
the same container again (data intact). Each returns evidence like
:class:`~wiber_harness.cluster.process.ManagedProcess`'s verbs: the
container's state after it, and ``effective``. A verb that finds the
container in the wrong state does nothing and says why.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable
from typing import Any

from wiber_harness.errors import ClusterError


def docker_client() -> Any:
    """A Docker SDK client of the engine DOCKER_HOST names (ClusterError when none answers)."""
    try:
        docker = importlib.import_module("docker")
    except ImportError:
        raise ClusterError(
            "the compose backend needs the Docker SDK for Python: pip install 'docker>=7'"
        ) from None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:
        raise ClusterError(
            f"no Docker engine answers ({e}); start dockerd (scripts/docker-setup.sh does) "
            "or set DOCKER_HOST"
        ) from None
    return client


class ContainerNode:
    """One node's container, with the process-like queries the nemesis uses."""

    def __init__(self, name: str, role: str, container: Any) -> None:
        self.name = name
        self.role = role
        self.container = container

    # -- queries -----------------------------------------------------------
    def status(self) -> str:
        """Docker's state: created, running, paused, restarting, exited, dead (or gone)."""
        try:
            self.container.reload()
        except Exception:
            return "gone"
        return str(self.container.status)

    def alive(self) -> bool:
        """The container's process exists (running or paused), like a live OS process."""
        return self.status() in ("running", "paused", "restarting")

    def running(self) -> bool:
        return self.status() == "running"

    @property
    def pid(self) -> int | None:
        self.status()
        pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
        return pid or None

    def returncode(self) -> int | None:
        if self.status() in ("exited", "dead"):
            return int(self.container.attrs["State"].get("ExitCode", -1))
        return None

    def state(self) -> dict[str, Any]:
        st = self.status()
        s = self.container.attrs.get("State", {}) if st != "gone" else {}
        return {
            "status": st,
            "pid": s.get("Pid") or None,
            "exit_code": s.get("ExitCode"),
            "oom_killed": s.get("OOMKilled"),
            "health": (s.get("Health") or {}).get("Status"),
        }

    def wait_status(self, wanted: tuple[str, ...], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        st = self.status()
        while st not in wanted and time.monotonic() < deadline:
            time.sleep(0.1)
            st = self.status()
        return st

    def log_tail(self, lines: int = 5) -> str:
        """The container's last log lines on one line, or ``(no log)``."""
        try:
            raw = self.container.logs(tail=lines)
            return " | ".join(raw.decode(errors="replace").strip().splitlines())
        except Exception:
            return "(no log)"

    # -- verbs -------------------------------------------------------------
    def _refused(self, action: str, state: dict[str, Any], reason: str) -> dict[str, Any]:
        return {"action": action, "effective": False, "state": state, "reason": reason}

    def kill(self) -> dict[str, Any]:
        before = self.state()
        if before["status"] not in ("running", "paused"):
            return self._refused("kill", before, f"{self.name} is {before['status']}")
        self.container.kill(signal="SIGKILL")
        if before["status"] == "paused":  # a frozen process dies only once thawed
            with contextlib.suppress(Exception):
                self.container.unpause()
        st = self.wait_status(("exited", "dead"), 15)
        return {
            "action": "kill",
            "signal": "SIGKILL",
            "pid": before["pid"],
            "state": self.state(),
            "effective": st in ("exited", "dead"),
        }

    def stop(self, grace: float = 15.0) -> dict[str, Any]:
        before = self.state()
        if before["status"] not in ("running", "paused"):
            return self._refused("stop", before, f"{self.name} is {before['status']}")
        if before["status"] == "paused":
            self.container.unpause()  # a frozen process cannot handle SIGTERM
        self.container.stop(timeout=int(grace))
        st = self.wait_status(("exited", "dead"), 10)
        return {
            "action": "stop",
            "signal": "SIGTERM",
            "grace_s": grace,
            "pid": before["pid"],
            "state": self.state(),
            "effective": st in ("exited", "dead"),
        }

    def pause(self) -> dict[str, Any]:
        return self._freeze("pause", "running", "paused", self.container.pause, "")

    def resume(self) -> dict[str, Any]:
        return self._freeze("resume", "paused", "running", self.container.unpause, ", not paused")

    def _freeze(
        self, action: str, before: str, after: str, verb: Callable[[], object], why: str
    ) -> dict[str, Any]:
        """Pause or resume: ``verb`` takes the container from ``before`` to ``after``."""
        if self.status() != before:
            return self._refused(action, self.state(), f"{self.name} is {self.status()}{why}")
        verb()
        st = self.wait_status((after,), 10)
        return {"action": action, "pid": self.pid, "state": self.state(), "effective": st == after}

    def start(self) -> dict[str, Any]:
        """Start the stopped container again (its data intact)."""
        self.container.start()
        return {"action": "start", "pid": self.pid}


__all__ = ["ContainerNode", "docker_client"]
