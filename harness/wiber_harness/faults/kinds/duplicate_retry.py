"""``duplicate_retry``: the workload re-sends acknowledged requests with the same Idempotency-Key.

What a client retry looks like to the API: the same key and body again,
after the first answer. Instantaneous, on target ``workload`` (the default).
The evidence is the workload's (requests re-sent and what they answered);
effective when at least one request was re-sent.

Explore draws it (families ``duplicate`` and ``duplicate_retry``) with 20
or 100 requests; it occupies nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wiber_harness.faults.entry import FaultKind, Param
from wiber_harness.faults.kind import (
    Draw,
    DrawnParams,
    Evidence,
    Explorable,
    Shape,
    WorkloadClient,
    WorkloadKind,
)


def draw_count(draw: Draw) -> DrawnParams:
    """Explore's duplicate count: 20 or 100."""
    return (("count", draw.choice((20, 100))),)


def workload_target(shape: Shape) -> tuple[str, ...]:
    return ("workload",)


@dataclass(frozen=True)
class DuplicateRetry(WorkloadKind):
    """Re-send ``count`` acknowledged requests through the workload's own clients."""

    async def inject_workload(
        self, workload: WorkloadClient, params: Mapping[str, Any]
    ) -> Evidence:
        ev = dict(await workload.retry_acknowledged(int(params.get("count", 100))))
        ev["effective"] = int(ev.get("sent", 0)) > 0
        return ev


KINDS = (
    DuplicateRetry(
        FaultKind(
            "duplicate_retry",
            "duplicate",
            "re-send already-acknowledged requests with the same Idempotency-Key (client retries)",
            frozenset({"workload"}),
            "workload",
            None,
            params=(Param("count", "int", "requests to re-send", 100, min=1, max=1_000_000),),
        ),
        300,
        default_target="workload",
        explore=Explorable(("duplicate", "duplicate_retry"), workload_target, draw_count),
    ),
)

__all__ = ["KINDS", "DuplicateRetry", "draw_count", "workload_target"]
