"""``offset_rewind``: the consumer group's committed offsets move back, so it redelivers.

:func:`rewind_offsets` stops every consumer, moves the group's committed
offsets back (``by`` N records per partition, or ``to: earliest``),
verifies the move and starts the consumers again, so they redeliver what
they had already stored. Instantaneous, on target ``consumers`` (the
default). Evidence: offsets before and after, records moved back, the
stop and start evidence; effective when the offsets moved back to the
target. Exactly one of ``by`` and ``to`` is required.

Explore draws it (families ``duplicate`` and ``offset_rewind``) by 50 or 200
records; it stops the consumers, so it occupies ``process:consumer`` for a
while.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from wiber_harness.cluster.base import Cluster
from wiber_harness.errors import FaultError
from wiber_harness.faults.entry import CatalogError, FaultKind, Param
from wiber_harness.faults.kind import (
    ActiveFault,
    Draw,
    DrawnParams,
    Evidence,
    Explorable,
    FaultContext,
    Kind,
    Shape,
)
from wiber_harness.faults.kinds.duplicate_replay import client_conf
from wiber_harness.scenario.targets import Target


def _committed(admin: Any, group: str, topic: str, parts: list[int]) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])]
    res = admin.list_consumer_group_offsets(req)[group].result(timeout=15)
    return {tp.partition: tp.offset for tp in res.topic_partitions}


def rewind_offsets(
    cluster: Cluster,
    consumers: list[str],
    by: int | None = None,
    to: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Stop consumers, move the group's offsets back, verify, start the consumers."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    spec = cluster.spec
    topic, group = spec.topic, spec.group
    conf = client_conf(cluster)
    admin = AdminClient(conf)
    stops = {n: cluster.stop_node(n) for n in consumers}
    try:
        md = admin.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        before = _committed(admin, group, topic, parts)
        probe = Consumer({**conf, "group.id": f"wiber-harness-probe-{uuid.uuid4().hex[:8]}"})
        low = {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0] for p in parts
        }
        probe.close()
        target = {}
        for p in parts:
            cur = before.get(p, -1001)
            if cur < 0:
                continue  # nothing committed: nothing to rewind
            target[p] = low[p] if to == "earliest" else max(low[p], cur - int(by or 0))
        req = [
            ConsumerGroupTopicPartitions(
                group, [TopicPartition(topic, p, o) for p, o in target.items()]
            )
        ]
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                admin.alter_consumer_group_offsets(req)[group].result(timeout=15)
                break
            except Exception as e:  # the group still has members until their session ends
                last = str(e)
                if time.monotonic() > deadline:
                    raise FaultError(
                        f"could not move the offsets of group {group} within "
                        f"{timeout:.0f} s ({last})"
                    ) from e
                time.sleep(1)
        after = _committed(admin, group, topic, parts)
    finally:
        starts = {n: cluster.start_node(n) for n in consumers}
    moved = sum(before[p] - after[p] for p in target if before.get(p, 0) >= 0)
    ev = {
        "before": before,
        "after": after,
        "moved_back": moved,
        "stopped": stops,
        "started": starts,
        "effective": moved > 0 and all(after[p] == target[p] for p in target),
    }
    if not ev["effective"]:
        ev["reason"] = "the committed offsets did not move back"
    return ev


def _draw_by(draw: Draw) -> DrawnParams:
    return (("by", draw.choice((50, 200))),)


def _consumers(shape: Shape) -> tuple[str, ...]:
    return ("consumers",)


@dataclass(frozen=True)
class OffsetRewind(Kind):
    """Rewind the group by ``by`` records per partition or ``to: earliest``."""

    def check_params(self, params: dict[str, Any], target: Target | None) -> None:
        if "by" not in params and "to" not in params:
            raise CatalogError(
                "params",
                "offset_rewind needs params.by (records per partition) or params.to: earliest",
            )

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        p = fault.step.params
        return rewind_offsets(ctx.cluster, fault.resolved, by=p.get("by"), to=p.get("to"))


KINDS = (
    OffsetRewind(
        FaultKind(
            "offset_rewind",
            "duplicate",
            "stop the consumers, move the group's offsets back, start them again (redelivery)",
            frozenset({"group"}),
            "consumers",
            None,
            params=(
                Param("by", "int", "records to move back per partition", None, min=1, max=10**9),
                Param(
                    "to",
                    "choice",
                    "rewind to the start of every partition",
                    None,
                    choices=("earliest",),
                ),
            ),
            exclusive=(("by", "to"),),
        ),
        320,
        default_target="consumers",
        explore=Explorable(
            ("duplicate", "offset_rewind"),
            _consumers,
            _draw_by,
            resource=lambda target: "process:consumer",
            lingers=True,
        ),
    ),
)

__all__ = ["KINDS", "OffsetRewind", "rewind_offsets"]
