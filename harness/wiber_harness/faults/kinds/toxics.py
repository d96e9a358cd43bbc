"""Toxics: Toxiproxy's degradations of a link (latency, bandwidth, timeouts, resets, slicing).

Each kind adds the Toxiproxy toxic of the same name to every resolved
link, one per direction (``stream``: upstream, downstream or both) with a
``toxicity`` (the probability that a connection is affected), and heals by
removing exactly the toxics it added. Evidence per link: the toxics' names,
effective when Toxiproxy lists all of them afterwards (on heal: when none
of them is left).

:func:`add_toxics`, :func:`remove_toxics` and :class:`ToxicKind` are what
a kind built on a toxic reuses (``docs/adding-a-fault-kind.md``). Explore
draws ``latency`` on client links (100, 300 or 1000 ms, a quarter of it as
jitter); it occupies ``link:latency``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wiber_harness.cluster.base import Cluster
from wiber_harness.faults.entry import CatalogError, FaultKind, Param
from wiber_harness.faults.kind import (
    ActiveFault,
    Draw,
    DrawnParams,
    Evidence,
    Explorable,
    FaultContext,
    Kind,
    per_target,
)
from wiber_harness.faults.kinds.link import link_targets
from wiber_harness.scenario.targets import Target, TargetKind

Attributes = Callable[[Mapping[str, Any]], dict[str, Any]]

STREAM = Param(
    "stream",
    "choice",
    "direction(s) the toxic acts on",
    "both",
    choices=("upstream", "downstream", "both"),
)
TOXICITY = Param(
    "toxicity", "float", "probability that a connection is affected", 1.0, min=0.0, max=1.0
)
LATENCY_PARAMS = (
    Param("latency_ms", "int", "added delay", 100, min=0, max=60_000),
    Param("jitter_ms", "int", "random +/- variation of the delay", 0, min=0, max=60_000),
)


def latency_attributes(p: Mapping[str, Any]) -> dict[str, Any]:
    """Toxiproxy's attributes of a latency toxic from the kind's parameters."""
    return {"latency": int(p["latency_ms"]), "jitter": int(p["jitter_ms"])}


def draw_latency(draw: Draw) -> DrawnParams:
    """Explore's latency: 100, 300 or 1000 ms, a quarter of it as jitter."""
    ms = draw.choice((100, 300, 1000))
    return (("latency_ms", ms), ("jitter_ms", ms // 4))


def add_toxics(
    cluster: Cluster,
    link: str,
    fid: str,
    toxic: str,
    attributes: dict[str, Any],
    p: Mapping[str, Any],
) -> Evidence:
    """Add toxic type ``toxic`` to ``link``, one per direction of ``p['stream']``; its evidence."""
    tp = cluster.toxiproxy
    stream = p.get("stream", "both")
    streams = ("upstream", "downstream") if stream == "both" else (stream,)
    names = []
    for s in streams:
        name = f"{fid}-{s}-{uuid.uuid4().hex[:4]}"
        tp.add_toxic(
            link,
            name,
            toxic,
            attributes,
            stream=s,
            toxicity=float(p.get("toxicity", 1.0)),
        )
        names.append(name)
    present = {t["name"] for t in tp.get(link).toxics}
    return {"link": link, "toxics": names, "effective": set(names) <= present}


def remove_toxics(cluster: Cluster, evidence: Mapping[str, Any]) -> Evidence:
    """Remove the toxics an inject's ``evidence`` names, link by link; the heal's evidence."""
    evs = {}
    for ln, ev in evidence.get("nodes", {}).items():
        for name in ev.get("toxics", []):
            cluster.toxiproxy.remove_toxic(ln, name)
        left = {t["name"] for t in cluster.toxiproxy.get(ln).toxics}
        evs[ln] = {
            "removed": ev.get("toxics", []),
            "effective": not (left & set(ev.get("toxics", []))),
        }
    return per_target(evs)


@dataclass(frozen=True, kw_only=True)
class ToxicKind(Kind):
    """Add toxic ``toxic`` (default: the kind's name) with ``attributes(params)`` to each link."""

    attributes: Attributes
    toxic: str = ""

    @property
    def toxic_type(self) -> str:
        return self.toxic or self.name

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        p = fault.step.params
        return per_target(
            {
                ln: add_toxics(ctx.cluster, ln, fault.fid, self.toxic_type, self.attributes(p), p)
                for ln in fault.resolved
            }
        )

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return remove_toxics(ctx.cluster, fault.evidence)


@dataclass(frozen=True, kw_only=True)
class Slicer(ToxicKind):
    """The slicer toxic: its size variation must stay below the average size."""

    def check_params(self, params: dict[str, Any], target: Target | None) -> None:
        if params["size_variation"] >= params["average_size"]:
            raise CatalogError(
                "params.size_variation", "slicer size_variation must be smaller than average_size"
            )


_LINK: frozenset[TargetKind] = frozenset({"link"})


def toxic_entry(name: str, description: str, example: str, *params: Param) -> FaultKind:
    """The catalog entry of a toxic on link targets: ``params`` then stream and toxicity."""
    return FaultKind(
        name,
        "link",
        description,
        _LINK,
        example,
        "remove the toxic",
        params=(*params, STREAM, TOXICITY),
    )


KINDS = (
    ToxicKind(
        toxic_entry(
            "latency",
            "add latency (with jitter) to every packet",
            "link(consumer, kafka.all)",
            *LATENCY_PARAMS,
        ),
        210,
        explore=Explorable(
            ("latency",), link_targets, draw_latency, resource=lambda target: "link:latency"
        ),
        attributes=latency_attributes,
    ),
    ToxicKind(
        toxic_entry(
            "bandwidth",
            "limit the bandwidth",
            "link(api, kafka.all)",
            Param("rate_kbps", "int", "kilobytes per second", 64, min=1, max=10_000_000),
        ),
        220,
        attributes=lambda p: {"rate": int(p["rate_kbps"])},
    ),
    ToxicKind(
        toxic_entry(
            "timeout",
            "stop all data and close the connection after a timeout (0: never close)",
            "link(api, kafka.leader(partition=0))",
            Param(
                "timeout_ms", "int", "time before the connection is closed", 0, min=0, max=600_000
            ),
        ),
        230,
        attributes=lambda p: {"timeout": int(p["timeout_ms"])},
    ),
    ToxicKind(
        toxic_entry(
            "reset_peer",
            "reset connections with TCP RST after a timeout",
            "link(consumer, store)",
            Param("timeout_ms", "int", "time before the reset", 0, min=0, max=600_000),
        ),
        240,
        attributes=lambda p: {"timeout": int(p["timeout_ms"])},
    ),
    ToxicKind(
        toxic_entry(
            "slow_close",
            "delay the closing of connections",
            "link(api, store)",
            Param(
                "delay_ms", "int", "delay before the close is passed on", 1000, min=0, max=600_000
            ),
        ),
        250,
        attributes=lambda p: {"delay": int(p["delay_ms"])},
    ),
    Slicer(
        toxic_entry(
            "slicer",
            "slice data into small packets with a delay between them",
            "link(consumer, kafka.1)",
            Param("average_size", "int", "average packet size in bytes", 64, min=1, max=1_000_000),
            Param(
                "size_variation",
                "int",
                "variation of the packet size in bytes (< average_size)",
                32,
                min=0,
                max=1_000_000,
            ),
            Param(
                "delay_us",
                "int",
                "delay between packets in microseconds",
                10,
                min=0,
                max=10_000_000,
            ),
        ),
        260,
        attributes=lambda p: {
            "average_size": int(p["average_size"]),
            "size_variation": int(p["size_variation"]),
            "delay": int(p["delay_us"]),
        },
    ),
    ToxicKind(
        toxic_entry(
            "limit_data",
            "close the connection after a number of bytes",
            "link(api, kafka.1)",
            Param("bytes", "int", "bytes let through before the close", 65536, min=0, max=10**12),
        ),
        270,
        attributes=lambda p: {"bytes": int(p["bytes"])},
    ),
)

__all__ = [
    "KINDS",
    "LATENCY_PARAMS",
    "STREAM",
    "TOXICITY",
    "Slicer",
    "ToxicKind",
    "add_toxics",
    "draw_latency",
    "latency_attributes",
    "remove_toxics",
    "toxic_entry",
]
