"""Process faults: signals to a node's process group, and restarts.

``kill`` (SIGKILL), ``stop`` (SIGTERM, SIGKILL after a grace period) and
``pause`` (SIGSTOP) heal by starting the node again or resuming it;
``restart`` and ``rolling_restart`` (every targeted broker in turn, each
ready before the next) are instantaneous. The evidence of each node is the
backend's answer to the verb (the process's state after it).

Explore draws kill, stop, pause and restart on any process; a process
fault occupies its role until the node is back (``process:<role>``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wiber_harness.cluster.base import Cluster
from wiber_harness.faults.entry import CatalogError, FaultKind, Param
from wiber_harness.faults.kind import (
    ActiveFault,
    Evidence,
    Explorable,
    FaultContext,
    Kind,
    Shape,
    per_target,
)
from wiber_harness.scenario.targets import All, NodeTarget, Target, TargetKind, parse

Verb = Callable[[Cluster, str], dict[str, Any]]

_PROC: frozenset[TargetKind] = frozenset({"process"})
_ALL_ROLES = frozenset({"kafka", "consumer", "api", "store"})


def process_targets(shape: Shape) -> tuple[str, ...]:
    """Explore's process targets: consumers, brokers, APIs, the store."""
    consumers = tuple(f"consumer.{i}" for i in range(1, shape.consumers + 1))
    apis = tuple(f"api.{i}" for i in range(1, shape.apis + 1))
    return (
        "consumer.any",
        *consumers,
        "kafka.random",
        "kafka.leader(partition=0)",
        *apis,
        "store",
    )


def role_resource(target: str) -> str | None:
    """A process fault occupies the targeted role (``process:consumer``)."""
    t = parse(target)
    return f"process:{t.role}" if isinstance(t, NodeTarget) else None


@dataclass(frozen=True, kw_only=True)
class Signal(Kind):
    """A verb on every resolved node; ``undo`` (if any) is the heal, on the same nodes."""

    act: Verb
    undo: Verb | None = None

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return per_target({n: self.act(ctx.cluster, n) for n in fault.resolved})

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        if self.undo is None:
            return super().heal(ctx, fault)
        return per_target({n: self.undo(ctx.cluster, n) for n in fault.resolved})


def _start(c: Cluster, name: str) -> dict[str, Any]:
    # Start it and move on: waiting here for a broker's 15-20 s start-up
    # would push the heal past the end of a short workload. The end
    # phase waits until every node is ready before it drains.
    return c.start_node(name, wait=False)


def _explorable(name: str, *, lingers: bool = False) -> Explorable:
    return Explorable(
        (name,), process_targets, resource=role_resource, settles=True, lingers=lingers
    )


@dataclass(frozen=True)
class RollingRestart(Kind):
    """Restart each resolved broker in turn, waiting for a healthy topic before the next."""

    def check_target(self, target: Target) -> None:
        if isinstance(target, NodeTarget) and not isinstance(target.select, All):
            raise CatalogError(
                "target",
                "rolling_restart restarts several brokers in turn; "
                f"write target: kafka.all, not '{target}'",
            )

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        c = ctx.cluster
        evs: dict[str, Any] = {}
        for n in fault.resolved:
            evs[n] = c.restart(n)
            if n.startswith("kafka-"):
                evs[n]["isr_s"] = round(c.wait_topic_healthy(120), 3)
            time.sleep(float(fault.step.params.get("interval_s", 5.0)))
        return per_target(evs)


KINDS = (
    Signal(
        FaultKind(
            "kill",
            "process",
            "SIGKILL the process group (crash, no clean shutdown)",
            _PROC,
            "kafka.leader(partition=0)",
            "start it again",
            _ALL_ROLES,
        ),
        100,
        explore=_explorable("kill"),
        act=lambda c, n: c.kill(n),
        undo=_start,
    ),
    Signal(
        FaultKind(
            "stop",
            "process",
            "SIGTERM the process (graceful shutdown, SIGKILL after a grace period)",
            _PROC,
            "kafka.1",
            "start it again",
            _ALL_ROLES,
        ),
        110,
        explore=_explorable("stop"),
        act=lambda c, n: c.stop_node(n),
        undo=_start,
    ),
    Signal(
        FaultKind(
            "pause",
            "process",
            "SIGSTOP the process (a GC pause or a hung VM)",
            _PROC,
            "kafka.random",
            "SIGCONT (resume)",
            _ALL_ROLES,
        ),
        120,
        explore=_explorable("pause"),
        act=lambda c, n: c.pause(n),
        undo=lambda c, n: c.resume(n),
    ),
    Signal(
        FaultKind(
            "restart",
            "process",
            "stop and start the process at once",
            _PROC,
            "kafka.controller",
            None,
            _ALL_ROLES,
        ),
        130,
        explore=_explorable("restart", lingers=True),
        act=lambda c, n: c.restart(n),
    ),
    RollingRestart(
        FaultKind(
            "rolling_restart",
            "process",
            "restart each targeted broker in turn, waiting until it is ready before the next",
            _PROC,
            "kafka.all",
            None,
            frozenset({"kafka"}),
            (
                Param(
                    "interval_s",
                    "float",
                    "pause between one broker being ready and the next restart",
                    5.0,
                    min=0.0,
                    max=300.0,
                ),
            ),
        ),
        140,
        default_target="kafka.all",
    ),
)

__all__ = ["KINDS", "RollingRestart", "Signal", "process_targets", "role_resource"]
