"""``duplicate_replay``: records already in the topic are produced to it again.

What a producer retry without idempotence does: :func:`replay_records`
reads up to ``count`` records at the end of each partition (seeded start)
and produces each again to its partition with the same key, value and
headers, over the harness's direct Kafka listeners. Instantaneous, on target
``workload`` (the default). Evidence: records read and acknowledged;
effective when every replayed record was acknowledged. The sink must absorb
them (dedup by messageId).

Explore draws it (families ``duplicate`` and ``duplicate_replay``) with 20
or 100 records; it occupies nothing.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from wiber_harness.cluster.base import Cluster
from wiber_harness.faults.entry import FaultKind, Param
from wiber_harness.faults.kind import ActiveFault, Evidence, Explorable, FaultContext, Kind
from wiber_harness.faults.kinds.duplicate_retry import draw_count, workload_target


def client_conf(cluster: Cluster) -> dict[str, Any]:
    """librdkafka settings of the harness's own Kafka clients (direct listeners)."""
    return {"bootstrap.servers": cluster.endpoints().kafka_direct, "log_level": 0}


def replay_records(cluster: Cluster, count: int, rng: random.Random) -> dict[str, Any]:
    """Read up to ``count`` records from the topic and produce each again to its partition."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = cluster.spec.topic
    conf = client_conf(cluster)
    c = Consumer(
        {
            **conf,
            "group.id": f"wiber-harness-replay-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        md = c.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        tps = []
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if hi > lo:
                tps.append((p, lo, hi))
        if not tps:
            return {
                "effective": False,
                "reason": "the topic holds no records to replay",
                "read": 0,
                "produced": 0,
            }
        per = max(1, count // len(tps))
        assign = []
        for p, lo, hi in tps:
            start = max(lo, hi - per - rng.randrange(0, max(1, per)))
            assign.append(TopicPartition(topic, p, start))
        c.assign(assign)
        got: list[Any] = []
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            for m in c.consume(500, timeout=1.0):
                if m.error() is None:
                    got.append(m)
            if all(c.position([TopicPartition(topic, p)])[0].offset >= hi for p, _, hi in tps):
                break
        got = got[:count]
    finally:
        c.close()
    prod = Producer({**conf, "acks": "all", "enable.idempotence": False})
    acked = 0
    errors: list[str] = []

    def cb(err: Any, msg: Any) -> None:
        nonlocal acked
        if err is None:
            acked += 1
        elif len(errors) < 3:
            errors.append(str(err))

    for m in got:
        prod.produce(
            topic,
            value=m.value(),
            key=m.key(),
            partition=m.partition(),
            headers=m.headers(),
            on_delivery=cb,
        )
        prod.poll(0)
    left = prod.flush(30)
    sample = [{"partition": m.partition(), "offset": m.offset()} for m in got[:3]]
    ev = {
        "read": len(got),
        "produced": acked,
        "unflushed": left,
        "sample": sample,
        "effective": acked > 0 and acked == len(got),
    }
    if errors:
        ev["errors"] = errors
    if not ev["effective"]:
        ev["reason"] = f"only {acked} of {len(got)} replayed records were acknowledged"
    return ev


@dataclass(frozen=True)
class DuplicateReplay(Kind):
    """Re-produce ``count`` records of the topic (the nemesis's seeded RNG picks the start)."""

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        return replay_records(ctx.cluster, int(fault.step.params.get("count", 100)), ctx.rng)


KINDS = (
    DuplicateReplay(
        FaultKind(
            "duplicate_replay",
            "duplicate",
            "re-produce already-sent records straight to the topic (producer retries)",
            frozenset({"workload"}),
            "workload",
            None,
            params=(Param("count", "int", "records to re-produce", 100, min=1, max=1_000_000),),
        ),
        310,
        default_target="workload",
        explore=Explorable(("duplicate", "duplicate_replay"), workload_target, draw_count),
    ),
)

__all__ = ["KINDS", "DuplicateReplay", "client_conf", "replay_records"]
