"""``failpoint``: arm a named failpoint inside a system process (:mod:`wiber.failpoints`).

The failpoint fires on the n-th hit (``hit``, default 1) or on each hit with
a ``probability``, and then crashes the process, hangs, raises or delays.
Heal disarms it and starts the process again if the failpoint crashed it.
Evidence: the backend's answer to arming; on heal, the disarm, whether the
process had crashed (and its restart). A ``crash`` that never fired did not
inject anything, so that heal is not effective.

:data:`FAILPOINTS` maps every failpoint of the system to the role whose
process has it: ``wiber.failpoints`` names each point ``<role>.<place>``, so
the list is the system's own and validation rejects a typo (or a failpoint
aimed at the wrong process) before a 60 s run silently does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from wiber.failpoints import POINTS
from wiber_harness.faults.entry import CatalogError, FaultKind, Param
from wiber_harness.faults.kind import ActiveFault, Evidence, FaultContext, Kind, per_target
from wiber_harness.scenario.targets import NodeTarget, Target

FAILPOINTS: Mapping[str, str] = MappingProxyType({name: name.partition(".")[0] for name in POINTS})


def failpoint_spec(p: Mapping[str, Any]) -> str:
    """The ``name=action[@hit|%p]`` spec that arms the failpoint of params ``p``."""
    action = str(p.get("action", "crash"))
    if action == "delay":
        action = f"delay:{int(p.get('delay_ms', 1000))}"
    spec = f"{p['name']}={action}"
    if p.get("hit") is not None:
        spec += f"@{int(p['hit'])}"
    elif p.get("probability") is not None:
        spec += f"%{float(p['probability'])}"
    return spec


@dataclass(frozen=True)
class Failpoint(Kind):
    """Arm, then disarm (restarting a crashed process), one named failpoint."""

    def check_params(self, params: dict[str, Any], target: Target | None) -> None:
        if "hit" not in params and "probability" not in params:
            params["hit"] = 1  # not a plain default: it must not clash with a probability
        if params["action"] == "delay" and "delay_ms" not in params:
            raise CatalogError(
                "params.delay_ms", "failpoint action delay needs params.delay_ms; add it"
            )
        if params["action"] != "delay" and "delay_ms" in params:
            raise CatalogError(
                "params.delay_ms",
                f"delay_ms only applies to action delay, not {params['action']}; remove it",
            )
        if isinstance(target, NodeTarget):
            role = FAILPOINTS[params["name"]]
            if role != target.role:
                raise CatalogError(
                    "target",
                    f"failpoint {params['name']} lives in the {role} process, not in '{target}'; "
                    f"target {role}.any or {role}.1",
                )

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        spec = failpoint_spec(fault.step.params)
        return per_target({n: ctx.cluster.set_failpoints(n, spec) for n in fault.resolved})

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        c = ctx.cluster
        name = fault.step.params["name"]
        evs = {}
        for n in fault.resolved:
            node = c.node(n)
            crashed = not node.alive()
            fp: dict[str, Any] = {
                "disarm": c.set_failpoints(n, f"{name}=off"),
                "crashed": crashed,
                "returncode": node.returncode(),
            }
            if crashed:
                fp["restart"] = c.start_node(n)
            # A crash failpoint that never fired did not inject anything.
            fp["effective"] = crashed if fault.step.params.get("action") == "crash" else True
            if not fp["effective"]:
                fp["reason"] = f"failpoint {name} never crashed {n} before the heal"
            evs[n] = fp
        return per_target(evs)


KINDS = (
    Failpoint(
        FaultKind(
            "failpoint",
            "failpoint",
            "arm a named failpoint inside a system process",
            frozenset({"process"}),
            "consumer.any",
            "disarm it (and start the process again if it crashed)",
            frozenset(FAILPOINTS.values()),
            (
                Param(
                    "name",
                    "choice",
                    "which failpoint",
                    None,
                    required=True,
                    choices=tuple(FAILPOINTS),
                ),
                Param(
                    "action",
                    "choice",
                    "what happens when it fires",
                    "crash",
                    choices=("crash", "hang", "raise", "delay"),
                ),
                Param(
                    "delay_ms",
                    "int",
                    "sleep this long when action is delay",
                    None,
                    min=1,
                    max=600_000,
                ),
                Param("hit", "int", "fire on the n-th hit (default 1)", None, min=1, max=10**9),
                Param(
                    "probability",
                    "float",
                    "fire on each hit with this probability",
                    None,
                    min=0.0,
                    max=1.0,
                ),
            ),
            exclusive=(("hit", "probability"),),
        ),
        400,
    ),
)

__all__ = ["FAILPOINTS", "KINDS", "Failpoint", "failpoint_spec"]
