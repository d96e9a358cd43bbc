"""What the bench does to the stack besides sending HTTP load.

Every function takes the running stack (any
:class:`~wiber_harness.cluster.base.Cluster`: its ``spec``, ``endpoints()``,
``toxiproxy``, node verbs) and touches only the system's own topic, group,
database and collection (names from the system spec), over direct
connections unless it says otherwise:

* :func:`reset_store`: drop the store's collections and create them again
  with exactly the indexes the consumer creates (``wiber.store.Store.
  ensure_indexes``), so every measurement starts from the same, small
  store and the harness's full reads stay cheap (another system's
  collection is emptied, its indexes kept). Only while the consumers are
  idle (after a drain) or stopped.
* :func:`group_lag`: records the consumer group has not committed yet.
* :func:`skip_group_to_end`: commit the group at the topic's end (the
  group must be empty: consumers stopped). The Kafka tools write records
  the consumers must never see (random bytes) or need not see.
* :func:`prefill`: N records in Wiber's record format, produced with the
  API's producer settings and key (the conversation id), straight to the
  brokers, for the sink measurement.
* :func:`raw_insert`: ``insert_many(ordered=False)`` of Wiber-shaped
  documents in the consumer's batch size into a scratch collection with
  the consumer's indexes, by as many writers as there are consumers, each
  through its consumer's Toxiproxy proxy to the store: the raw store
  reference. With ``in_layout`` the same documents go where the consumers
  put them instead (one write each, into its conversation's bucket
  collection): what the layout itself costs.
* :func:`stop_consumers` / :func:`start_consumers`: all at once (a clean
  SIGTERM: each commits and leaves the group), and back, ready.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pymongo

from wiber.model import Message, conversation_id
from wiber.settings import Settings, load_settings
from wiber.store import Store, make_document
from wiber_harness.bench.profiling import process_cpu_s
from wiber_harness.cluster import store_collections
from wiber_harness.cluster.base import Cluster
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.errors import ClusterError
from wiber_harness.workload.plan import content_for

RAW_COLLECTION = "bench_raw_insert"


def wiber_settings(**overrides: Any) -> Settings:
    """Wiber's settings with harness-chosen overrides (store URI, collection ...)."""
    return load_settings(**overrides)


def _store_for(
    cluster: Cluster, uri: str | None = None, collection: str | None = None, **extra: Any
) -> Store:
    spec = cluster.spec
    return Store(
        wiber_settings(
            store_uri=uri or cluster.endpoints().store,
            store_db=spec.db,
            store_collection=collection or spec.collection,
            **extra,
        ),
        app_name="wiber-bench",
    )


def _client(cluster: Cluster, socket_ms: int = 60000) -> pymongo.MongoClient[dict[str, Any]]:
    return pymongo.MongoClient(
        cluster.endpoints().store, serverSelectionTimeoutMS=5000, socketTimeoutMS=socket_ms
    )


def reset_store(cluster: Cluster) -> None:
    """Drop the store's collections and recreate the consumer's indexes (Wiber); another
    system's collections are emptied instead, keeping whatever indexes its consumer made."""
    spec = cluster.spec
    client = _client(cluster)
    try:
        if spec != DEFAULT_SYSTEM:
            store_collections.empty(client, spec)
            return
        for coll in store_collections.collections(client, spec):
            coll.drop()
    finally:
        client.close()
    st = _store_for(cluster)
    try:
        st.ensure_indexes()
    finally:
        st.close()


def stored_count(cluster: Cluster) -> int:
    """Documents in every collection of the store (estimated counts)."""
    client = _client(cluster)
    try:
        return store_collections.count(client, cluster.spec)
    finally:
        client.close()


def stored_times(cluster: Cluster) -> list[int]:
    """``storedAtNs`` of every stored document (epoch ns); none when the pipeline stores none."""
    spec = cluster.spec
    f = spec.fields["stored_at_ns"]
    if f is None:
        return []
    client = _client(cluster)
    try:
        return [
            int(d[f])
            for d in store_collections.find_all(client, spec, {f: 1, "_id": 0})
            if isinstance(d.get(f), int)
        ]
    finally:
        client.close()


def _kafka_conf(cluster: Cluster) -> dict[str, Any]:
    return {"bootstrap.servers": cluster.endpoints().kafka_direct, "log_level": 0}


def end_offsets(cluster: Cluster) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    topic = cluster.spec.topic
    c = Consumer({**_kafka_conf(cluster), "group.id": f"wiber-bench-probe-{uuid.uuid4().hex[:6]}"})
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def group_lag(cluster: Cluster) -> int | None:
    """Records not yet committed by the group, over all partitions (None: unknown)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    spec = cluster.spec
    try:
        ends = end_offsets(cluster)
        admin = AdminClient(_kafka_conf(cluster))
        res = admin.list_consumer_group_offsets(
            [
                ConsumerGroupTopicPartitions(
                    spec.group, [TopicPartition(spec.topic, p) for p in ends]
                )
            ]
        )[spec.group].result(timeout=10)
        committed: dict[int, int] = {tp.partition: tp.offset for tp in res.topic_partitions}
        return sum(max(0, end - max(committed.get(p, 0), 0)) for p, end in ends.items())
    except Exception:
        return None


def skip_group_to_end(cluster: Cluster, timeout: float = 60.0) -> dict[int, int]:
    """Commit the (empty) group at the end of every partition; the offsets committed."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    spec = cluster.spec
    admin = AdminClient(_kafka_conf(cluster))
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        ends = end_offsets(cluster)
        req = ConsumerGroupTopicPartitions(
            spec.group, [TopicPartition(spec.topic, p, o) for p, o in ends.items()]
        )
        try:
            admin.alter_consumer_group_offsets([req])[spec.group].result(timeout=15)
            return ends
        except Exception as e:  # a member still leaving: the group is not empty yet
            last = str(e)
        if time.monotonic() > deadline:
            raise ClusterError(f"cannot move group {spec.group} to the end of {spec.topic}: {last}")
        time.sleep(1.0)


def prefill(cluster: Cluster, n: int, payload_size: int, run_id: str, users: int = 100) -> float:
    """Produce ``n`` Wiber records (direct, acks=all); seconds it took."""
    from confluent_kafka import Producer

    from wiber.producer import producer_config

    conf = producer_config(
        wiber_settings(kafka_bootstrap=cluster.endpoints().kafka_direct),
        f"wiber-bench-prefill-{run_id}",
    )
    conf.pop("logger", None)
    conf["log_level"] = 0
    p = Producer(conf)
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    t0 = time.monotonic()
    topic = cluster.spec.topic
    from wiber.model import encode_record

    for i in range(n):
        a, b = f"s{2 * (i % users)}", f"s{2 * (i % users) + 1}"
        sender, to = (a, b) if i % 2 == 0 else (b, a)
        msg = Message.new(sender, to, content_for(sender, i + 1, payload_size), f"{run_id}-{i}")
        while True:
            try:
                p.produce(
                    topic,
                    value=encode_record(msg),
                    key=conversation_id(a, b).encode(),
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left or errors:
        raise ClusterError(
            f"prefill: {left} records unsent, {len(errors)} delivery errors "
            f"({errors[:1]}); the sink measurement needs all {n}"
        )
    return time.monotonic() - t0


def consumer_names(cluster: Cluster) -> list[str]:
    return list(cluster.node_names("consumer"))


def stop_consumers(cluster: Cluster) -> None:
    threads = [
        threading.Thread(target=cluster.stop_node, args=(n,)) for n in consumer_names(cluster)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def start_consumers(cluster: Cluster, timeout: float = 90.0) -> float:
    """Start every consumer at once; seconds until all are ready."""
    t0 = time.monotonic()
    names = consumer_names(cluster)
    for n in names:
        cluster.start_node(n, wait=False)
    for n in names:
        cluster.wait_ready(n, timeout)
    return time.monotonic() - t0


def wait_group_stable(cluster: Cluster, members: int, timeout: float = 90.0) -> float:
    """Wait until the consumer group is Stable with ``members`` members (partitions
    assigned); seconds waited. A consumer "ready once started" (its profile's ``ready =
    "none"``) has not joined yet when it is ready."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    group = cluster.spec.group
    admin = AdminClient(_kafka_conf(cluster))
    t0 = time.monotonic()
    seen = "unknown"
    while time.monotonic() - t0 < timeout:
        try:
            d = admin.describe_consumer_groups([group])[group].result(timeout=10)
            seen = f"{d.state.name}, {len(d.members)} members"
            if d.state == ConsumerGroupState.STABLE and len(d.members) >= members:
                return time.monotonic() - t0
        except Exception as e:  # not known yet: nobody joined
            seen = f"{type(e).__name__}: {e}"
        time.sleep(0.25)
    raise ClusterError(
        f"group {group} not stable with {members} members after {timeout:.0f} s ({seen})"
    )


def proxied_store_uris(cluster: Cluster) -> list[str]:
    """The consumers' own Toxiproxy hops to the store, as MongoDB URIs, in consumer order."""
    proxies = cluster.toxiproxy.proxies()
    out = []
    for n in consumer_names(cluster):
        p = proxies.get(f"{n}-store")
        if p is None:
            raise ClusterError(
                f"no Toxiproxy proxy {n}-store; the bench needs the consumers' store hop"
            )
        out.append(f"mongodb://{p.listen}/")
    return out


@dataclass(frozen=True)
class RawInsert:
    """One raw insert reference run."""

    docs: int
    writers: int
    batch: int
    seconds: float
    in_layout: bool
    failed: int
    # CPU seconds over the timed window: the store's process, and the writers (this
    # process); None where the process could not be measured (e.g. in a container)
    store_cpu_s: float | None = None
    writers_cpu_s: float | None = None

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_doc_s(self) -> float | None:
        """Store and writers' CPU seconds per document written (None: not measured)."""
        if self.store_cpu_s is None or self.writers_cpu_s is None or not self.docs:
            return None
        return (self.store_cpu_s + self.writers_cpu_s) / self.docs

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs": self.docs,
            "writers": self.writers,
            "batch": self.batch,
            "seconds": round(self.seconds, 4),
            "in_layout": self.in_layout,
            "failed": self.failed,
            "docs_per_s": round(self.docs_per_s, 1),
            "store_cpu_s": _round(self.store_cpu_s),
            "writers_cpu_s": _round(self.writers_cpu_s),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def store_pid(cluster: Cluster) -> int | None:
    """The store node's process id, when it is a process of this machine's (local backend)."""
    try:
        return cluster.node("store").pid or None
    except Exception:  # a backend without such a node, or a container
        return None


def raw_documents(
    n: int, payload_size: int, run_id: str, offset: int = 0, users: int = 100
) -> list[dict[str, Any]]:
    """Documents exactly as the consumer builds them (``make_document``) for ``n`` messages."""
    now = time.time_ns()
    docs = []
    for i in range(offset, offset + n):
        a, b = f"r{2 * (i % users)}", f"r{2 * (i % users) + 1}"
        msg = Message.new(a, b, content_for(a, i + 1, payload_size), f"{run_id}-{i}")
        docs.append(make_document(msg, i % 6, i, id_is_message_id=True, now_ns=now))
    return docs


def raw_insert(
    cluster: Cluster,
    docs_total: int,
    batch: int,
    payload_size: int,
    run_id: str,
    *,
    in_layout: bool = False,
    uris: Sequence[str] | None = None,
    users: int = 100,
    read_buckets: str | None = None,
) -> RawInsert:
    """insert_many into a fresh scratch collection by one writer per URI, in parallel.

    Without ``in_layout`` every document goes into the one scratch collection
    (the raw reference). With it, ``read_buckets`` is the consumers'
    ``WIBER_STORE_READ_BUCKETS`` (None: Wiber's default), so the documents are
    written exactly as the consumers write them.
    """
    extra: dict[str, Any] = {"store_read_buckets": 0}
    if in_layout:
        extra = {} if read_buckets is None else {"store_read_buckets": read_buckets}
    uris = list(uris or proxied_store_uris(cluster))
    coll = f"{RAW_COLLECTION}_{run_id.replace('-', '_')}"
    setup = _store_for(cluster, collection=coll, **extra)
    try:
        setup.coll.drop()
        setup.ensure_indexes()
    finally:
        setup.close()
    per = docs_total // len(uris)
    work = [
        raw_documents(per, payload_size, run_id, offset=w * per, users=users)
        for w in range(len(uris))
    ]
    stores = [_store_for(cluster, uri=u, collection=coll, **extra) for u in uris]
    failed = [0] * len(uris)
    barrier = threading.Barrier(len(uris) + 1)

    def writer(w: int) -> None:
        st, docs = stores[w], work[w]
        barrier.wait()
        for i in range(0, len(docs), batch):
            chunk = docs[i : i + batch]
            failed[w] += len(st.insert_batch(chunk).failed)

    try:
        for st in stores:  # connect, and learn the layout, untimed
            st.ping(5.0)
            st.read_buckets()
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(len(uris))]
        for t in threads:
            t.start()
        spid = store_pid(cluster)
        s0, w0 = process_cpu_s(spid), time.process_time()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        s1, w1 = process_cpu_s(spid), time.process_time()
    finally:
        for st in stores:
            st.close()
        drop = _store_for(cluster, collection=coll)
        try:
            names = [
                n
                for n in drop.client[cluster.spec.db].list_collection_names()
                if n.startswith(coll)
            ]
            for n in names:
                drop.client[cluster.spec.db].drop_collection(n)
        finally:
            drop.close()
    return RawInsert(
        per * len(uris),
        len(uris),
        batch,
        took,
        in_layout,
        sum(failed),
        None if s0 is None or s1 is None else s1 - s0,
        w1 - w0,
    )


__all__ = [
    "RAW_COLLECTION",
    "RawInsert",
    "consumer_names",
    "end_offsets",
    "group_lag",
    "prefill",
    "proxied_store_uris",
    "raw_documents",
    "raw_insert",
    "reset_store",
    "skip_group_to_end",
    "start_consumers",
    "stop_consumers",
    "store_pid",
    "stored_count",
    "stored_times",
    "wait_group_stable",
    "wiber_settings",
]
