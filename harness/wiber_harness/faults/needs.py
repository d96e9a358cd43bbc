"""What a scenario needs from an attached deployment, and its refusal before anything runs.

A scenario that needs a driver the target file lacks must not run half-way
(the fault would be "not effective" and the run "unknown" after minutes of
load), so :func:`check_fit` looks at every step of every scenario against
the :class:`~wiber_harness.cluster.deployment.Deployment` first and raises
:class:`NotSupported` (a :class:`~wiber_harness.errors.HarnessError`:
exit 2), one sentence per problem: ``SCENARIO: timeline[i] (KIND TARGET):
what is missing; how to add it``. Nothing is contacted: this is the file
against the file.

What each kind needs, on every node or link its target may resolve to
(``kafka.leader(...)``, ``.random``, ``.any`` and ``.minority`` may be any
node of the role; a link target with such a broker any of its links):

* ``kill``: ``kill`` and ``start`` commands; ``stop``, ``restart``,
  ``rolling_restart``: ``stop`` and ``start``; ``pause``: ``pause`` and
  ``resume``; and a way to see the effect (a ``status`` command or a
  health check; only a consumer can lack both);
* ``kafka.controller``: a ``[kafka].controller`` command;
* ``partition`` and the toxics: ``[toxiproxy]`` listing every such link;
  ``store_latency``: every store link of the declared nodes;
* ``isolate``: ``isolate`` and ``rejoin`` commands on the broker, or its
  client links (``api-kafka-N``, ``consumer-kafka-N``) listed;
* ``failpoint``: a failpoints driver on the node; a ``crash`` also needs
  the ``start`` command (the heal starts the node again);
* ``offset_rewind``: ``stop`` and ``start`` on every consumer;
* ``duplicate_retry``, ``duplicate_replay``: nothing (the harness's own
  clients);
* a kind this module does not know: refused (say what it needs here).

Settings: a scenario's ``topology.settings`` and ``--set`` values cannot be
applied to a deployment the harness did not start; each must equal what
the target file's ``[settings]`` says the deployment runs with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from wiber_harness.cluster.deployment import Deployment
from wiber_harness.errors import HarnessError
from wiber_harness.scenario.targets import (
    All,
    AnyOne,
    Controller,
    GroupTarget,
    Index,
    LinksOf,
    LinkTarget,
    NodeTarget,
    Sole,
    Target,
    WorkloadTarget,
    resolve,
)

if TYPE_CHECKING:
    from wiber_harness.scenario import FaultStep, Scenario

PROCESS_VERBS: Mapping[str, tuple[str, ...]] = {
    "kill": ("kill", "start"),
    "stop": ("stop", "start"),
    "restart": ("stop", "start"),
    "rolling_restart": ("stop", "start"),
    "pause": ("pause", "resume"),
}
TOXICS = frozenset(
    {"partition", "latency", "bandwidth", "timeout", "reset_peer", "slow_close", "slicer"}
    | {"limit_data"}
)
NOTHING = frozenset({"duplicate_retry", "duplicate_replay"})


class NotSupported(HarnessError):
    """A scenario needs a driver the target file does not declare (one sentence per problem)."""


@dataclasses.dataclass(frozen=True)
class _View:
    """Every node the target declares and every link those nodes could have."""

    d: Deployment

    def node_names(self, role: str) -> list[str]:
        return self.d.node_names(role)

    def links(self) -> list[str]:
        kafka = [self.d.nodes[n].index for n in self.d.node_names("kafka")]
        out = [f"{c}-kafka-{i}" for c in ("api", "consumer") for i in kafka]
        return out + ["api-store"] + [f"{c}-store" for c in self.d.node_names("consumer")]

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        raise AssertionError("widened targets never ask for a leader")  # pragma: no cover

    def kafka_controller(self) -> str:
        raise AssertionError("widened targets never ask for the controller")  # pragma: no cover


def _wide(t: NodeTarget) -> NodeTarget:
    """Every node a selector may pick (an index stays itself)."""
    return t if isinstance(t.select, Index | All | Sole) else NodeTarget(t.role, All())


def candidates(target: Target, d: Deployment) -> list[str]:
    """Every node or link ``target`` may resolve to on ``d`` (ValueError when it names none)."""
    view = _View(d)
    match target:
        case NodeTarget():
            return resolve(_wide(target), view)
        case LinkTarget(client, select, server):
            sel = All() if isinstance(select, AnyOne) else select
            return resolve(LinkTarget(client, sel, _wide(server)), view)
        case LinksOf(node):
            return resolve(LinksOf(_wide(node)), view)
        case GroupTarget():
            return d.node_names("consumer")
        case WorkloadTarget():
            return []
    raise AssertionError(target)  # pragma: no cover


def _lacking(d: Deployment, nodes: Sequence[str], verb: str) -> list[str]:
    return [n for n in nodes if d.command(n, verb) is None]


def _why(d: Deployment, node: str, verb: str) -> str:
    return d.nodes[node].lacking.get(verb, "")


def _verbs(d: Deployment, nodes: Sequence[str], verbs: Sequence[str], purpose: str) -> list[str]:
    out = []
    for verb in verbs:
        miss = _lacking(d, nodes, verb)
        if miss:
            why = next((_why(d, n, verb) for n in miss if _why(d, n, verb)), "")
            out.append(
                f"{d.source} declares no {verb} command for {', '.join(miss)} ({purpose}"
                f"{'; ' + why if why else ''}); add {verb} to [commands] or to "
                f"[nodes.{miss[0]}]"
            )
    return out


def _seen(d: Deployment, nodes: Sequence[str]) -> list[str]:
    blind = [
        n
        for n in nodes
        if d.nodes[n].role == "consumer"
        and d.nodes[n].health is None
        and "status" not in d.nodes[n].commands
    ]
    if not blind:
        return []
    return [
        f"{', '.join(blind)} {'has' if len(blind) == 1 else 'have'} neither a status command "
        "nor a health check, so the effect of a process fault could not be seen; "
        f"add status or health to [nodes.{blind[0]}]"
    ]


def step_needs(step: FaultStep, d: Deployment) -> list[str]:
    """What ``step`` needs that ``d`` lacks: one sentence fragment per problem."""
    kind = step.fault
    t = step.target
    try:
        names = candidates(t, d)
    except ValueError as e:
        return [f"{e}; declare the node in {d.source}"]
    out: list[str] = []
    if isinstance(t, NodeTarget) and isinstance(t.select, Controller) and d.controller is None:
        out.append(
            f"{d.source} declares no [kafka].controller command, so kafka.controller cannot be "
            "found; add one that prints 'LeaderId: N'"
        )
    if kind in PROCESS_VERBS:
        heal = "the heal starts it again" if kind in ("kill", "stop") else f"{kind} needs both"
        out += _verbs(d, names, PROCESS_VERBS[kind], heal)
        out += _seen(d, names)
    elif kind in TOXICS or kind == "store_latency":
        links = names
        if kind == "store_latency":
            links = [ln for ln in _View(d).links() if ln.endswith("-store")]
        if d.toxiproxy_url is None:
            out.append(
                f"{d.source} has no [toxiproxy], so link faults cannot be injected; "
                "add the Toxiproxy you run and list its proxies under [toxiproxy.links]"
            )
        else:
            miss = [ln for ln in links if ln not in d.links]
            if miss:
                out.append(
                    f"{d.source} lists no proxy for {', '.join(miss)}; add each under "
                    f'[toxiproxy.links] (e.g. {miss[0]} = "PROXY-NAME")'
                )
    elif kind == "isolate":
        for n in names:
            if d.command(n, "isolate") and d.command(n, "rejoin"):
                continue
            idx = d.nodes[n].index
            miss = [ln for ln in (f"api-kafka-{idx}", f"consumer-kafka-{idx}") if ln not in d.links]
            if miss or d.toxiproxy_url is None:
                out.append(
                    f"{n} has no isolate and rejoin commands and {d.source} lists no proxy for "
                    f"{', '.join(miss) or 'its client links'}; add either"
                )
    elif kind == "failpoint":
        miss = [n for n in names if d.nodes[n].failpoints is None]
        if miss:
            out.append(
                f"{d.source} declares no failpoints driver for {', '.join(miss)}; add "
                f"failpoints = {{ file = ... }}, {{ url = ... }} or {{ command = ... }} to "
                f"[nodes.{miss[0]}]"
            )
        if step.params.get("action", "crash") == "crash":
            out += _verbs(d, names, ("start",), "a crashed node is started again")
            out += _seen(d, names)
    elif kind == "offset_rewind":
        if not names:
            out.append(f"{d.source} declares no consumer node; add [nodes.consumer-1]")
        out += _verbs(d, names, ("stop", "start"), "the rewind stops and starts every consumer")
    elif kind not in NOTHING:
        out.append(
            f"the attach backend does not know which drivers {kind} needs; run it on "
            "--backend local or compose"
        )
    return out


def scenario_needs(
    scenario: Scenario, d: Deployment, settings: Mapping[str, str] | None = None
) -> list[str]:
    """Every problem of one scenario on ``d``, as whole sentences naming the scenario."""
    src = scenario.source if scenario.source != "<scenario>" else scenario.name
    out = []
    for name, value in {**scenario.topology.env(), **(settings or {})}.items():
        have = d.settings.get(name)
        if have != value:
            now = f"says {name}={have}" if have is not None else f"does not declare {name}"
            out.append(
                f"{src}: topology.settings.{name}: the scenario runs with {name}={value}, which "
                f"the harness cannot apply to a deployment it did not start, and {d.source} "
                f"{now}; start the deployment with it and declare it under [settings], "
                "or run on --backend local"
            )
    for i, step in enumerate(scenario.timeline):
        for problem in step_needs(step, d):
            out.append(f"{src}: timeline[{i}] ({step.fault} {step.target}): {problem}")
    return out


def check_fit(
    scenarios: Sequence[Scenario], d: Deployment, settings: Mapping[str, str] | None = None
) -> None:
    """Raise :class:`NotSupported` listing every problem of every scenario on ``d``."""
    problems = [p for sc in scenarios for p in scenario_needs(sc, d, settings)]
    if problems:
        raise NotSupported("\n".join(problems))


__all__ = ["NotSupported", "candidates", "check_fit", "scenario_needs", "step_needs"]
