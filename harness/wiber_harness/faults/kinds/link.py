"""Cut links: ``partition`` disables Toxiproxy proxies, ``isolate`` cuts a broker off.

``partition`` disables every resolved proxy (the hop refuses and drops
connections) and heals by enabling it again. ``isolate`` cuts a broker off
from every peer: its client links and, where the backend can (compose),
the other brokers; it heals by rejoining. The evidence of each link or node
is the backend's answer (the proxy's state, the networks left).

Explore draws ``partition`` on client links (:func:`link_targets`); it
occupies ``link:partition``, so two partitions are never in effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from wiber_harness.faults.entry import FaultKind
from wiber_harness.faults.kind import (
    ActiveFault,
    Evidence,
    Explorable,
    FaultContext,
    Kind,
    Shape,
    per_target,
)
from wiber_harness.scenario.targets import TargetKind


def link_targets(shape: Shape) -> tuple[str, ...]:
    """Explore's link targets: consumers to the store and to Kafka, the API to both."""
    consumers = tuple(f"consumer.{i}" for i in range(1, shape.consumers + 1))
    return (
        "link(consumer, store)",
        *(f"link({c}, store)" for c in consumers),
        "link(consumer, kafka.all)",
        "link(api, kafka.all)",
        "links(kafka.random)",
        "link(api, store)",
    )


@dataclass(frozen=True)
class Partition(Kind):
    """Disable every resolved proxy; heal enables it."""

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return per_target({ln: ctx.cluster.set_link_enabled(ln, False) for ln in fault.resolved})

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return per_target({ln: ctx.cluster.set_link_enabled(ln, True) for ln in fault.resolved})


@dataclass(frozen=True)
class Isolate(Kind):
    """Cut every resolved broker off from its peers; heal rejoins it."""

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return per_target({n: ctx.cluster.isolate(n) for n in fault.resolved})

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return per_target({n: ctx.cluster.rejoin(n) for n in fault.resolved})


_LINK: frozenset[TargetKind] = frozenset({"link"})
_PROC: frozenset[TargetKind] = frozenset({"process"})

KINDS = (
    Partition(
        FaultKind(
            "partition",
            "link",
            "disable the proxy: the link refuses and drops connections",
            _LINK,
            "links(kafka.1)",
            "enable the proxy",
        ),
        200,
        explore=Explorable(("partition",), link_targets, resource=lambda target: "link:partition"),
    ),
    Isolate(
        FaultKind(
            "isolate",
            "link",
            "cut a broker off from every peer: its client links and, where the backend can, "
            "other brokers",
            _PROC,
            "kafka.leader(partition=0)",
            "rejoin",
            frozenset({"kafka"}),
        ),
        290,
    ),
)

__all__ = ["KINDS", "Isolate", "Partition", "link_targets"]
