"""``store_latency``: a slow database, said in the scenario's own words (target ``store``).

Adds Toxiproxy's latency toxic (``latency_ms`` with ``jitter_ms``, per
direction of ``stream``, with a ``toxicity``) to every link whose server is
the store: ``api-store`` and each ``consumer-N-store``, found with
:func:`~wiber_harness.scenario.targets.client_links` when the fault is
injected, so a topology with more consumers gets all of theirs. The target
is the store node (``store``, the default); ``latency`` on ``links(store)``
adds the same toxics, this kind names the intent and needs no target.

Heal removes exactly the toxics it added. Evidence: per link, as for every
toxic (``link``, ``toxics``, ``effective`` when Toxiproxy lists them all;
on heal ``removed``); not effective when the store has no client link.

Explore draws it as family ``store_latency`` (100, 300 or 1000 ms, a
quarter of it as jitter, on ``store``); it is a latency fault, so it shares
``link:latency`` with ``latency`` and the two are never drawn overlapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from wiber_harness.faults.entry import FaultKind
from wiber_harness.faults.kind import (
    ActiveFault,
    Evidence,
    Explorable,
    FaultContext,
    Shape,
    per_target,
)
from wiber_harness.faults.kinds.toxics import (
    LATENCY_PARAMS,
    STREAM,
    TOXICITY,
    ToxicKind,
    add_toxics,
    draw_latency,
    latency_attributes,
)
from wiber_harness.scenario.targets import client_links


def _store(shape: Shape) -> tuple[str, ...]:
    return ("store",)


@dataclass(frozen=True, kw_only=True)
class StoreLatency(ToxicKind):
    """A latency toxic on each client link of the resolved store node."""

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        links = [ln for node in fault.resolved for ln in client_links(node, ctx.cluster)]
        if not links:
            return {
                "nodes": {},
                "effective": False,
                "reason": f"{', '.join(fault.resolved)} has no client link to slow down",
            }
        p = fault.step.params
        attributes = self.attributes(p)
        return per_target(
            {
                ln: add_toxics(ctx.cluster, ln, fault.fid, self.toxic_type, attributes, p)
                for ln in links
            }
        )


KINDS = (
    StoreLatency(
        FaultKind(
            "store_latency",
            "link",
            "add latency (with jitter) to every link whose server is the store (a slow database)",
            frozenset({"process"}),
            "store",
            "remove the toxic",
            frozenset({"store"}),
            (*LATENCY_PARAMS, STREAM, TOXICITY),
        ),
        215,
        default_target="store",
        explore=Explorable(
            ("store_latency",), _store, draw_latency, resource=lambda target: "link:latency"
        ),
        attributes=latency_attributes,
        toxic="latency",
    ),
)

__all__ = ["KINDS", "StoreLatency"]
