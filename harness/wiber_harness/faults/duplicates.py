"""Duplicate injection below the API: producer replays and consumer-group rewinds.

* :func:`replay_records` re-produces already-written records of the topic
  straight to Kafka (same partition, key, value and headers), as a producer
  retry without idempotence would. The sink must absorb them (dedup by
  messageId).
* :func:`rewind_offsets` stops every consumer, moves the group's committed
  offsets back (by N records per partition, or to the earliest offset),
  verifies the move, and starts the consumers again, so they redeliver
  what they had already stored.

Both talk to Kafka over the direct listeners and return evidence dicts
(``effective`` says whether the duplicates were really injected).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from wiber_harness.errors import FaultError


def _client_conf(cluster: Any) -> dict[str, Any]:
    return {"bootstrap.servers": cluster.endpoints().kafka_direct, "log_level": 0}


def replay_records(cluster: Any, count: int, rng: random.Random) -> dict[str, Any]:
    """Read up to ``count`` records from the topic and produce each again to its partition."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = cluster.spec.topic
    conf = _client_conf(cluster)
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


def _committed(admin: Any, group: str, topic: str, parts: list[int]) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])]
    res = admin.list_consumer_group_offsets(req)[group].result(timeout=15)
    return {tp.partition: tp.offset for tp in res.topic_partitions}


def rewind_offsets(
    cluster: Any,
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
    conf = _client_conf(cluster)
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
                        f"could not move the offsets of group {group} within {timeout:.0f} s ({last})"
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


__all__ = ["replay_records", "rewind_offsets"]
