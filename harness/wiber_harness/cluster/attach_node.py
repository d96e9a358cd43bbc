"""One node of a deployment the harness did not start: its declared commands, and a look at it.

An :class:`AttachNode` is the attach backend's
:class:`~wiber_harness.cluster.base.Node`: each verb (``kill``, ``stop``,
``pause``, ``resume``, ``start``) runs the node's declared command
(:mod:`wiber_harness.cluster.templates`) and then looks at the node for up
to ``[commands].observe_s`` seconds: through its ``status`` command
(``running|paused|down [PID]`` on the first line, exit status 0; Docker's
and Kubernetes' state words are understood too: exited, dead, created,
pending, failed, succeeded mean down) when it has one, else through its
health check. The evidence holds both; a verb is effective only when the
command succeeded and the look agrees (see
:mod:`wiber_harness.cluster.attach`). ``alive`` and ``running`` ask the
status command, else the health check; ``returncode`` is never known.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from wiber_harness.cluster.common import safe
from wiber_harness.cluster.deployment import Deployment, NodeDecl
from wiber_harness.cluster.templates import CommandResult
from wiber_harness.errors import FaultError

State = Literal["running", "paused", "down", "unknown"]
_DOWN_WORDS = frozenset(
    {"down", "stopped", "exited", "dead", "created", "failed", "succeeded", "pending", "absent"}
)


def tcp_open(hostport: str, timeout: float = 0.5) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class Observed:
    """A node's state as its ``status`` command says it (or unknown without one)."""

    state: State
    pid: int | None = None
    said: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "pid": self.pid, "said": self.said[:200]}


def parse_status(result: CommandResult) -> Observed:
    """``running|paused|down [PID]`` on the first line of a status command's output."""
    words = result.stdout.split()
    said = result.stdout.strip() or result.why_not()
    if not result.ok or not words:
        return Observed("unknown", None, said)
    word = words[0].lower()
    state: State = (
        "running"
        if word == "running"
        else "paused"
        if word == "paused"
        else "down"
        if word in _DOWN_WORDS
        else "unknown"
    )
    pid = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
    return Observed(state, pid, said)


class AttachNode:
    """One declared node: its verbs run its commands and look at it afterwards."""

    def __init__(
        self,
        decl: NodeDecl,
        deployment: Deployment,
        healthy: Callable[[], bool],
    ) -> None:
        self.decl = decl
        self.d = deployment
        self.healthy = healthy
        self._pid: int | None = None

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def role(self) -> str:
        return self.decl.role

    @property
    def pid(self) -> int | None:
        return self._pid

    def has(self, verb: str) -> bool:
        return verb in self.decl.commands

    def run(self, verb: str, **extra: object) -> CommandResult:
        tpl = self.decl.commands.get(verb)
        if tpl is None:
            why = self.decl.lacking.get(verb, "the target file declares none")
            raise FaultError(f"{self.name} has no {verb} command ({why})")
        values = self.decl.values(self.d.kafka_bootstrap, **extra)
        return tpl.run(values, self.d.timeout_s)

    def observe(self) -> Observed:
        """The status command's answer (``unknown`` when the node has none)."""
        if not self.has("status"):
            return Observed("unknown")
        ob = parse_status(self.run("status"))
        if ob.pid is not None or ob.state != "running":
            self._pid = ob.pid
        return ob

    def alive(self) -> bool:
        """Running or paused: by its status command, else by its health check."""
        if self.has("status"):
            return self.observe().state in ("running", "paused")
        return safe(self.healthy)

    def running(self) -> bool:
        if self.has("status"):
            return self.observe().state == "running"
        return safe(self.healthy)

    def returncode(self) -> int | None:
        return None  # the harness did not start the process: its exit status is not known

    # ------------------------------------------------------------------ verbs
    def _look(self, want: State, seconds: float) -> dict[str, Any]:
        """Poll status (or health) until the node is seen in ``want``, for up to ``seconds``."""
        t0 = time.monotonic()
        deadline = t0 + seconds
        last: dict[str, Any] = {}
        while True:
            if self.has("status"):
                ob = self.observe()
                seen = ob.state == want
                last = {"via": "status", **ob.to_dict()}
            else:
                up = safe(self.healthy)
                seen = up if want == "running" else not up
                last = {"via": "health", "healthy": up}
            if seen or time.monotonic() >= deadline:
                return {**last, "seen": seen, "after_s": round(time.monotonic() - t0, 3)}
            time.sleep(0.25)

    def _verb(self, action: str, want: State, **extra: object) -> dict[str, Any]:
        r = self.run(action, **extra)
        ev: dict[str, Any] = {"action": action, "node": self.name, "command": r.to_dict()}
        if not r.ok:
            ev.update(effective=False, reason=f"the {action} command failed: {r.why_not()}")
            return ev
        ev["observed"] = self._look(want, self.d.observe_s)
        ev["effective"] = bool(ev["observed"]["seen"])
        if not ev["effective"]:
            via = ev["observed"]["via"]
            ev["reason"] = (
                f"the {action} command succeeded but {self.name} was not seen {want} "
                f"by its {'status command' if via == 'status' else 'health check'} "
                f"within {self.d.observe_s:g} s"
            )
        return ev

    def kill(self) -> dict[str, Any]:
        return self._verb("kill", "down")

    def stop(self, grace: float = 15.0) -> dict[str, Any]:
        return self._verb("stop", "down", grace=int(grace))

    def pause(self) -> dict[str, Any]:
        return self._verb("pause", "paused" if self.has("status") else "down")

    def resume(self) -> dict[str, Any]:
        return self._verb("resume", "running")

    def start(self) -> dict[str, Any]:
        """Run the start command; with a status command, look until it says running."""
        r = self.run("start")
        ev: dict[str, Any] = {"action": "start", "node": self.name, "command": r.to_dict()}
        if not r.ok:
            ev.update(effective=False, reason=f"the start command failed: {r.why_not()}")
        elif self.has("status"):
            ev["observed"] = self._look("running", self.d.observe_s)
            ev["effective"] = bool(ev["observed"]["seen"])
            if not ev["effective"]:
                ev["reason"] = f"{self.name} was not seen running after its start command"
        else:
            ev["observed"] = "deferred: the end phase waits until every node is healthy"
            ev["effective"] = True
        ev["pid"] = self._pid
        return ev


__all__ = ["AttachNode", "Observed", "State", "parse_status", "tcp_open"]
