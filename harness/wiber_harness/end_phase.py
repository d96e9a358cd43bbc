"""The end phase: wait for the pipeline to drain, then take the final reads.

Draining: after every fault is healed and the workload stopped, the harness
waits (bounded) until every acknowledged message is in the store and the
consumer group has committed up to the topic's end, or until both stop
moving for a while (a pipeline that lost messages never catches up; waiting
longer would not change the verdict). Then it reads, over direct
connections only: every stored document, every conversation through the
API's GET (all pages), the consumers' delivery logs and the topic's end
offsets. Field names come from the system spec, so another implementation
of the pipeline is read the same way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson
import pymongo

from wiber_harness.clock import Clock
from wiber_harness.cluster.base import Cluster
from wiber_harness.history import Op
from wiber_harness.reads import DeadLetter, DeliveryEvent, FinalReads, StoredRecord


def acknowledged_ids(ops: Sequence[Op]) -> set[str]:
    return {
        str(op.value["messageId"])
        for op in ops
        if op.type == "ok" and op.f == "send" and op.value.get("messageId")
    }


def conversations(ops: Sequence[Op]) -> dict[str, tuple[str, str]]:
    """conversation id -> (user1, user2), from the send invokes."""
    out: dict[str, tuple[str, str]] = {}
    for op in ops:
        if op.type == "invoke" and op.f == "send" and op.value.get("conversation") not in out:
            out[str(op.value["conversation"])] = (str(op.value["from"]), str(op.value["to"]))
    return out


def _collection(cluster: Cluster) -> Any:
    spec = cluster.spec
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        cluster.endpoints().store, serverSelectionTimeoutMS=5000, socketTimeoutMS=30000
    )
    return client, client[spec.db][spec.collection]


def _stored_ids(coll: Any, field: str) -> list[str]:
    return [str(d.get(field)) for d in coll.find({}, {field: 1, "_id": 0})]


def _lag(cluster: Cluster) -> int | None:
    """Records the group has not committed yet, summed over partitions (None: unknown)."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    spec = cluster.spec
    conf: dict[str, Any] = {"bootstrap.servers": cluster.endpoints().kafka_direct, "log_level": 0}
    try:
        admin = AdminClient(conf)
        parts = sorted(admin.list_topics(spec.topic, timeout=5).topics[spec.topic].partitions)
        res = admin.list_consumer_group_offsets(
            [
                ConsumerGroupTopicPartitions(
                    spec.group, [TopicPartition(spec.topic, p) for p in parts]
                )
            ]
        )[spec.group].result(timeout=10)
        committed: dict[int, int] = {tp.partition: tp.offset for tp in res.topic_partitions}
        probe = Consumer({**conf, "group.id": f"wiber-harness-lag-{uuid.uuid4().hex[:6]}"})
        try:
            ends = {
                p: probe.get_watermark_offsets(TopicPartition(spec.topic, p), timeout=5)[1]
                for p in parts
            }
        finally:
            probe.close()
        return sum(max(0, ends[p] - max(committed.get(p, 0), 0)) for p in parts)
    except Exception:
        return None


def drain(
    cluster: Cluster,
    ops: Sequence[Op],
    timeout: float = 120.0,
    settle: float = 8.0,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[bool, float, dict[str, Any]]:
    """Wait until everything acknowledged is stored and lag is 0, or nothing moves for ``settle`` s.

    Returns (drained, seconds waited, details).
    """
    acked = acknowledged_ids(ops)
    field = cluster.spec.fields["message_id"]
    client, coll = _collection(cluster)
    t0 = time.monotonic()
    last_change = t0
    last_state: tuple[int, int | None] = (-1, None)
    missing = len(acked)
    lag: int | None = None
    try:
        while True:
            try:
                stored = set(_stored_ids(coll, field))
                missing = len(acked - stored)
            except pymongo.errors.PyMongoError:
                stored = set()
            lag = _lag(cluster)
            now = time.monotonic()
            if missing == 0 and lag == 0:
                return True, now - t0, {"missing": 0, "lag": 0}
            state = (len(stored), lag)
            if state != last_state:
                last_state, last_change = state, now
            if on_progress:
                on_progress(f"draining: {missing} acknowledged not yet stored, lag {lag}")
            if now - last_change > settle and lag == 0:
                break  # consumers are done; what is missing will not come
            if now - t0 > timeout:
                break
            time.sleep(0.5)
    finally:
        client.close()
    return missing == 0, time.monotonic() - t0, {"missing": missing, "lag": lag}


def read_store(cluster: Cluster, clock: Clock) -> list[StoredRecord]:
    f = cluster.spec.fields
    client, coll = _collection(cluster)
    out = []
    try:
        for d in coll.find({}, {"_id": 0, "content": 0}):
            at = d.get(f["stored_at_ns"])
            out.append(
                StoredRecord(
                    message_id=str(d.get(f["message_id"])),
                    key=None if d.get(f["key"]) is None else str(d.get(f["key"])),
                    conversation=None
                    if d.get(f["conversation"]) is None
                    else str(d.get(f["conversation"])),
                    sender=None if d.get(f["sender"]) is None else str(d.get(f["sender"])),
                    partition=None if d.get(f["partition"]) is None else int(d[f["partition"]]),
                    offset=None if d.get(f["offset"]) is None else int(d[f["offset"]]),
                    stored_at=None if at is None else clock.from_wall(int(at)),
                )
            )
    finally:
        client.close()
    return out


def read_api(
    cluster: Cluster, convs: dict[str, tuple[str, str]]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Every conversation through the API's GET, all pages, in the order returned."""
    spec = cluster.spec
    base = cluster.endpoints().api
    mid = spec.fields["message_id"]
    reads: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        for conv, (u1, u2) in convs.items():
            ids: list[str] = []
            cursor: str | None = None
            try:
                for _ in range(10_000):
                    params: dict[str, Any] = {"limit": spec.read_limit}
                    if cursor:
                        params["after"] = cursor
                    r = http.get(spec.read_path.format(user1=u1, user2=u2), params=params)
                    if r.status_code != 200:
                        raise RuntimeError(f"GET answered {r.status_code}: {r.text[:200]}")
                    body = r.json()
                    ids += [str(d[mid]) for d in body[spec.read_items]]
                    cursor = body.get(spec.read_cursor)
                    if not cursor:
                        break
                reads[conv] = ids
            except Exception as e:
                errors[conv] = f"{type(e).__name__}: {e}"
    return reads, errors


def read_delivery(cluster: Cluster, clock: Clock) -> list[DeliveryEvent]:
    out = []
    for d in cluster.delivery_logs():
        try:
            t = d.get("time")
            out.append(
                DeliveryEvent(
                    consumer=str(d.get("consumer")),
                    partition=int(d["partition"]),
                    offset=int(d["offset"]),
                    message_id=None if d.get("messageId") is None else str(d["messageId"]),
                    time=None if t is None else clock.from_wall(int(t)),
                    outcome=str(d.get("outcome", "stored")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def read_dead_letters(cluster: Cluster, timeout: float = 30.0) -> list[DeadLetter] | None:
    """Every record of the dead-letter topic (none when the topic does not exist).

    The reason is the ``dlq_reason_header`` of the system spec's ``extra``
    (Wiber: ``wiber.error``); the messageId the record value's JSON field of
    the stored message-id name. None when the topic could not be read.
    """
    from confluent_kafka import Consumer, TopicPartition

    spec = cluster.spec
    header = str(spec.extra.get("dlq_reason_header", "wiber.error"))
    mid_field = spec.fields["message_id"]
    c = Consumer(
        {
            "bootstrap.servers": cluster.endpoints().kafka_direct,
            "group.id": f"wiber-harness-dlq-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    out: list[DeadLetter] = []
    try:
        md = c.list_topics(spec.dlq_topic, timeout=10).topics.get(spec.dlq_topic)
        if md is None or md.error is not None or not md.partitions:
            return []  # never created: nothing was dead-lettered
        todo: dict[int, int] = {}
        assign = []
        for p in sorted(md.partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(spec.dlq_topic, p), timeout=10)
            if hi > lo:
                todo[p] = hi
                assign.append(TopicPartition(spec.dlq_topic, p, lo))
        if not assign:
            return []
        c.assign(assign)
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            for m in c.consume(500, timeout=1.0):
                part, off = m.partition(), m.offset()
                if m.error() is not None or part is None or off is None:
                    continue
                out.append(_dead_letter(m, part, off, header, mid_field))
                if off + 1 >= todo.get(part, 0):
                    todo.pop(part, None)
        return out if not todo else None
    except Exception:
        return None
    finally:
        c.close()


def _dead_letter(m: Any, part: int, off: int, header: str, mid_field: str) -> DeadLetter:
    reason = None
    for k, v in m.headers() or []:
        if k == header and v is not None:
            reason = v.decode("utf-8", "replace")
    mid = None
    try:
        doc = orjson.loads(m.value() or b"")
        if isinstance(doc, dict) and isinstance(doc.get(mid_field), str):
            mid = doc[mid_field]
    except orjson.JSONDecodeError:
        pass
    return DeadLetter(partition=part, offset=off, message_id=mid, reason=reason)


def end_offsets(cluster: Cluster) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    spec = cluster.spec
    c = Consumer(
        {
            "bootstrap.servers": cluster.endpoints().kafka_direct,
            "group.id": "wiber-harness-offsets",
            "log_level": 0,
        }
    )
    try:
        parts = sorted(c.list_topics(spec.topic, timeout=10).topics[spec.topic].partitions)
        return {
            p: c.get_watermark_offsets(TopicPartition(spec.topic, p), timeout=10)[1] for p in parts
        }
    finally:
        c.close()


def final_reads(
    cluster: Cluster,
    ops: Sequence[Op],
    clock: Clock,
    *,
    drained: bool,
    drain_s: float,
    healed_at: int | None,
    extra: dict[str, Any] | None = None,
) -> FinalReads:
    api, api_errors = read_api(cluster, conversations(ops))
    return FinalReads(
        store=read_store(cluster, clock),
        api=api,
        api_errors=api_errors,
        delivery=read_delivery(cluster, clock),
        dead_letters=read_dead_letters(cluster),
        end_offsets=end_offsets(cluster),
        drained=drained,
        drain_s=round(drain_s, 3),
        healed_at=healed_at,
        extra=extra or {},
    )


__all__ = ["acknowledged_ids", "conversations", "drain", "final_reads"]
