"""The end phase: wait for the pipeline to drain, then take the final reads.

Draining: after every fault is healed and the workload stopped, the harness
waits (bounded) until every acknowledged message is in the store and the
consumer group has committed up to the topic's end, or until both stop
moving for a while (a pipeline that lost messages never catches up; waiting
longer would not change the verdict; the drain's details then say
``settled``). Then it reads, over direct connections only: every stored
document, every conversation through the API's GET (all pages, whatever
their shape: :mod:`wiber_harness.api_reads`), the consumers' delivery logs
and the topic's end offsets. Field names come from the system spec, so
another implementation of the pipeline is read the same way.

What a pipeline does not store is filled in or left out, never invented:
the content tag is looked for in the stored field the spec names (the
checkers attribute by it when no stored key names the send); a missing
conversation is derived from the stored sender and recipient; a missing
write time becomes the time the harness first saw the document, from a
:class:`StoreWatch` that the drain feeds each time it polls the store (the
final reads then say ``stored_at_observed``); missing partition, offset or
key stay null.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson
import pymongo

from wiber.model import conversation_id
from wiber_harness.api_reads import ReadError, ReadShape, read_conversation
from wiber_harness.clock import Clock
from wiber_harness.cluster import store_collections
from wiber_harness.cluster.base import Cluster
from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.history import Op
from wiber_harness.reads import DeadLetter, DeliveryEvent, FinalReads, StoredRecord
from wiber_harness.workload.tag import find_tag


def acknowledged_ids(ops: Sequence[Op]) -> set[str]:
    return {
        str(op.value["messageId"])
        for op in ops
        if op.type == "ok" and op.f == "send" and op.value.get("messageId")
    }


def acknowledged_tags(ops: Sequence[Op]) -> set[str]:
    """The tags of acknowledged sends whose answer named no messageId."""
    tag_of = {
        op.id: str(op.value["tag"])
        for op in ops
        if op.type == "invoke" and op.f == "send" and op.value.get("tag")
    }
    return {
        tag_of[op.id]
        for op in ops
        if op.type == "ok" and op.f == "send" and not op.value.get("messageId") and op.id in tag_of
    }


class StoreWatch:
    """When the harness first saw each stored document (run-relative ns, by ``_id``).

    Fed by every poll of the drain and by the final read, so a pipeline that
    stores no write time still has an (approximate, upper-bound) stored time.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.first_seen: dict[Any, int] = {}

    def see(self, ids: Sequence[Any]) -> None:
        now = self.clock.now()
        for i in ids:
            self.first_seen.setdefault(i, now)


def conversations(ops: Sequence[Op]) -> dict[str, tuple[str, str]]:
    """conversation id -> (user1, user2), from the send invokes."""
    out: dict[str, tuple[str, str]] = {}
    for op in ops:
        if op.type == "invoke" and op.f == "send" and op.value.get("conversation") not in out:
            out[str(op.value["conversation"])] = (str(op.value["from"]), str(op.value["to"]))
    return out


def _client(cluster: Cluster) -> pymongo.MongoClient[dict[str, Any]]:
    return pymongo.MongoClient(
        cluster.endpoints().store, serverSelectionTimeoutMS=5000, socketTimeoutMS=30000
    )


def _stored(
    client: Any, spec: SystemSpec, field: str, tag_field: str | None, place: str | None
) -> dict[Any, Any]:
    """``_id`` -> (messageId, tag) of every stored document, in every collection of the
    store (the tag only with a field)."""
    proj = {field: 1} | ({tag_field: 1} if tag_field else {})
    return {
        d.get("_id"): (
            str(d.get(field)),
            find_tag(d.get(tag_field), place) if tag_field else None,
        )
        for d in store_collections.find_all(client, spec, proj)
    }


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
    watch: StoreWatch | None = None,
) -> tuple[bool, float, dict[str, Any]]:
    """Wait until everything acknowledged is stored and lag is 0, or nothing moves for ``settle`` s.

    Acknowledged messages are recognised by the messageId their answer named,
    or by their tag when it named none. Every poll feeds ``watch``. Returns
    (drained, seconds waited, details); ``details["settled"]`` is True when it
    stopped because the lag was 0 and nothing moved (not at the time bound).
    """
    acked = acknowledged_ids(ops)
    acked_tags = acknowledged_tags(ops)
    spec = cluster.spec
    field = spec.message_id_field
    tag_field = spec.fields.get("tag") if acked_tags and spec.api.tag is not None else None
    client = _client(cluster)
    t0 = time.monotonic()
    last_change = t0
    last_state: tuple[int, int | None] = (-1, None)
    missing = len(acked) + len(acked_tags)
    lag: int | None = None
    settled = False
    try:
        while True:
            try:
                docs = _stored(client, spec, field, tag_field, spec.api.tag)
                if watch is not None and observed_times(cluster):
                    watch.see(list(docs))
                missing = len(acked - {m for m, _ in docs.values()})
                missing += len(acked_tags - {t for _, t in docs.values()})
            except pymongo.errors.PyMongoError:
                docs = {}
            lag = _lag(cluster)
            now = time.monotonic()
            if missing == 0 and lag == 0:
                return True, now - t0, {"missing": 0, "lag": 0}
            state = (len(docs), lag)
            if state != last_state:
                last_state, last_change = state, now
            if on_progress:
                on_progress(f"draining: {missing} acknowledged not yet stored, lag {lag}")
            if now - last_change > settle and lag == 0:
                settled = True
                break  # consumers are done; what is missing will not come
            if now - t0 > timeout:
                break
            time.sleep(0.5)
    finally:
        client.close()
    info = {"missing": missing, "lag": lag, "settled": settled}
    return missing == 0, time.monotonic() - t0, info


def _text(d: dict[str, Any], name: str | None) -> str | None:
    """The stored field ``name`` as text (None: not named, absent or null)."""
    if name is None or d.get(name) is None:
        return None
    return str(d[name])


def _int(d: dict[str, Any], name: str | None) -> int | None:
    if name is None or d.get(name) is None:
        return None
    return int(d[name])


def observed_times(cluster: Cluster) -> bool:
    """Whether stored times are the harness's observations: the pipeline stores none."""
    return not cluster.spec.fields.get("stored_at_ns")


def read_store(
    cluster: Cluster, clock: Clock, watch: StoreWatch | None = None
) -> list[StoredRecord]:
    """Every stored document as a record, from every collection of the store
    (:mod:`~wiber_harness.cluster.store_collections`: what the profile's
    ``[names] collections`` name), so a document stored in two of them is two
    records.

    Only the fields the spec names are fetched. Without a stored write time
    (:func:`observed_times`) a record's time is when ``watch`` first saw it,
    or now.
    """
    spec = cluster.spec
    f = spec.fields
    tag_place = spec.api.tag
    tag_field = f.get("tag") if tag_place is not None else None
    observed = observed_times(cluster)
    names = {n for n in f.values() if n}
    if tag_field is None:
        names.discard(f.get("tag") or "")
    watch = watch or StoreWatch(clock)
    client = _client(cluster)
    out = []
    try:
        docs = list(store_collections.find_all(client, spec, dict.fromkeys(sorted(names), 1)))
        watch.see([d.get("_id") for d in docs])
        for d in docs:
            conv = _text(d, f.get("conversation"))
            sender, recipient = _text(d, f.get("sender")), _text(d, f.get("recipient"))
            if f.get("conversation") is None and sender is not None and recipient is not None:
                conv = conversation_id(sender, recipient)
            if observed:
                at: int | None = watch.first_seen.get(d.get("_id"))
            else:
                wall = _int(d, f.get("stored_at_ns"))
                at = None if wall is None else clock.from_wall(wall)
            out.append(
                StoredRecord(
                    message_id=str(d.get(spec.message_id_field)),
                    key=_text(d, f.get("key")),
                    conversation=conv,
                    sender=sender,
                    partition=_int(d, f.get("partition")),
                    offset=_int(d, f.get("offset")),
                    stored_at=at,
                    tag=find_tag(d.get(tag_field), tag_place) if tag_field else None,
                )
            )
    finally:
        client.close()
    return out


def read_api(
    cluster: Cluster, convs: dict[str, tuple[str, str]]
) -> tuple[dict[str, list[str]], dict[str, str], dict[str, list[str | None]]]:
    """Every conversation through the API's GET, all pages, oldest first: (messageIds,
    errors, tags) per conversation (:mod:`wiber_harness.api_reads`)."""
    shape = ReadShape.of(cluster.spec)
    reads: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    tags: dict[str, list[str | None]] = {}
    with httpx.Client(base_url=cluster.endpoints().api, timeout=30) as http:

        def get(path: str, params: dict[str, Any]) -> tuple[int, Any, str]:
            r = http.get(path, params=params)
            try:
                body = r.json()
            except ValueError:
                body = None
            return r.status_code, body, r.text

        for conv, (u1, u2) in convs.items():
            try:
                reads[conv], conv_tags = read_conversation(get, shape, u1, u2)
            except ReadError as e:
                errors[conv] = str(e)
                continue
            except Exception as e:
                errors[conv] = f"{type(e).__name__}: {e}"
                continue
            if any(t is not None for t in conv_tags):
                tags[conv] = conv_tags
    return reads, errors, tags


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
    mid_field = spec.message_id_field
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
    watch: StoreWatch | None = None,
) -> FinalReads:
    api, api_errors, api_tags = read_api(cluster, conversations(ops))
    return FinalReads(
        store=read_store(cluster, clock, watch),
        api=api,
        api_errors=api_errors,
        api_tags=api_tags,
        stored_at_observed=observed_times(cluster),
        delivery=read_delivery(cluster, clock),
        dead_letters=read_dead_letters(cluster),
        end_offsets=end_offsets(cluster),
        drained=drained,
        drain_s=round(drain_s, 3),
        healed_at=healed_at,
        extra=extra or {},
    )


__all__ = [
    "StoreWatch",
    "acknowledged_ids",
    "acknowledged_tags",
    "conversations",
    "drain",
    "final_reads",
]
