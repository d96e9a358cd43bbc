"""The Wiber pipeline on the real local stack (3 Kafka brokers, FerretDB, Toxiproxy).

Each test drives the API with real HTTP clients, injects one fault, heals
it, waits for the pipeline to drain and then checks the three promises
against the store (read directly) and the API:

* at-least-once: every message answered 201 is stored (0 lost);
* no duplicates: one document per idempotency key and per messageId;
* order: each conversation (either direction) reads back in send order.

Clients send every message with an ``Idempotency-Key`` and retry 503, 504
and connection errors with the same key, like a well-behaved client.
Messages of one conversation are sent one after another (the next after
the previous 201), so their acknowledgement order is their send order.
Every test uses its own user names, so tests share one stack.

Throughput lines (``THROUGHPUT ...``) are printed; run with ``-s`` to see
them.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pymongo
import pytest
from confluent_kafka import Consumer, Producer

from wiber.store import AUTO_BUCKETS_FERRETDB, bucket_of
from wiber_harness.cluster import store_collections
from wiber_harness.cluster.local import LocalCluster

pytestmark = pytest.mark.integration

TOPIC = "wiber.messages"
DLQ_TOPIC = "wiber.messages.dlq"
DRAIN_TIMEOUT_S = 180.0


# --------------------------------------------------------------------------- client
@dataclass
class Sent:
    """One logical message and every answer its attempts got."""

    key: str
    conv: int
    body: dict[str, Any]
    statuses: list[int] = field(default_factory=list)
    message_id: str | None = None

    @property
    def acked(self) -> bool:
        return 201 in self.statuses


async def send_one(
    session: aiohttp.ClientSession, api: str, s: Sent, max_attempts: int = 40
) -> Sent:
    """POST until 201 (same key every time); 4xx other than retryable fails the test."""
    for attempt in range(max_attempts):
        try:
            async with session.post(
                f"{api}/messages", json=s.body, headers={"Idempotency-Key": s.key}
            ) as r:
                body = await r.json(content_type=None)
                s.statuses.append(r.status)
                if r.status == 201:
                    assert s.message_id in (None, body["messageId"])
                    s.message_id = body["messageId"]
                    return s
                assert r.status in (500, 503, 504), f"{r.status}: {body}"
                if s.message_id is None:
                    s.message_id = body.get("messageId")
        except (aiohttp.ClientError, TimeoutError):
            s.statuses.append(-1)
        await asyncio.sleep(min(2.0, 0.1 * (attempt + 1)))
    return s


class Load:
    """Conversations sending sequentially in a background thread until stopped."""

    def __init__(
        self,
        api: str,
        prefix: str,
        conversations: int,
        per_conv: int | None = None,
        pause_s: float = 0.0,
    ) -> None:
        self.api, self.prefix = api, prefix
        self.conversations, self.per_conv, self.pause_s = conversations, per_conv, pause_s
        self.sent: dict[int, list[Sent]] = {c: [] for c in range(conversations)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.elapsed_s = 0.0

    def users(self, conv: int) -> tuple[str, str]:
        return f"{self.prefix}a{conv}", f"{self.prefix}b{conv}"

    async def _conversation(self, session: aiohttp.ClientSession, conv: int) -> None:
        a, b = self.users(conv)
        rnd = random.Random(conv)
        i = 0
        while not self._stop.is_set() and (self.per_conv is None or i < self.per_conv):
            frm, to = (a, b) if rnd.random() < 0.5 else (b, a)
            key = f"{self.prefix}{conv}-{i}"
            s = Sent(key, conv, {"fromUser": frm, "toUser": to, "content": f"{key} " + "x" * 64})
            self.sent[conv].append(s)
            await send_one(session, self.api, s)
            i += 1
            if self.pause_s:
                await asyncio.sleep(self.pause_s)

    async def _main(self) -> None:
        t0 = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=20)
        conn = aiohttp.TCPConnector(limit=self.conversations)
        async with aiohttp.ClientSession(timeout=timeout, connector=conn) as session:
            await asyncio.gather(
                *(self._conversation(session, c) for c in range(self.conversations))
            )
        self.elapsed_s = time.perf_counter() - t0

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "load did not finish"
        return self

    def run(self) -> Load:
        return self.start().stop() if self.per_conv is None else self._run_to_end()

    def _run_to_end(self) -> Load:
        self._thread.start()
        self._thread.join(timeout=600)
        assert not self._thread.is_alive(), "load did not finish"
        return self

    def all(self) -> list[Sent]:
        return [s for conv in self.sent.values() for s in conv]


# ------------------------------------------------------------------------- checks
def store_docs(cluster: LocalCluster, prefix: str) -> list[dict[str, Any]]:
    """Every stored document of this load, from every collection of the store; each
    carries ``_coll``, the collection it was found in."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        cluster.endpoints().store, serverSelectionTimeoutMS=5000
    )
    with client as c:
        proj = {
            "_id": 0,
            "messageId": 1,
            "clientMessageId": 1,
            "conversationId": 1,
            "partition": 1,
            "offset": 1,
            "fromUser": 1,
        }
        return [
            d | {"_coll": coll.name}
            for coll in store_collections.collections(c, cluster.spec)
            for d in coll.find({}, proj)
            if str(d.get("clientMessageId") or "").startswith(prefix)
        ]


def wait_stored(cluster: LocalCluster, prefix: str, keys: set[str]) -> list[dict[str, Any]]:
    """Poll the store until every key is there (or the drain timeout passes)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        docs = store_docs(cluster, prefix)
        if keys <= {d["clientMessageId"] for d in docs} or time.monotonic() > deadline:
            return docs
        time.sleep(1.0)


def check_promises(cluster: LocalCluster, load: Load) -> list[dict[str, Any]]:
    """Assert 0 lost, 0 duplicated, 0 unexpected and per-conversation order."""
    sent = load.all()
    acked = {s.key for s in sent if s.acked}
    assert acked, "nothing was acknowledged"
    docs = wait_stored(cluster, load.prefix, acked)
    keys = collections.Counter(d["clientMessageId"] for d in docs)
    ids = collections.Counter(d["messageId"] for d in docs)
    lost = acked - set(keys)
    dups = {k: n for k, n in keys.items() if n > 1}
    unexpected = set(keys) - {s.key for s in sent}
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    assert not dups, f"{len(dups)} keys stored more than once, e.g. {list(dups.items())[:5]}"
    assert all(n == 1 for n in ids.values())
    assert not unexpected, f"stored but never sent: {sorted(unexpected)[:5]}"
    # one write per message: on FerretDB only into its conversation's bucket
    base = cluster.spec.collection
    for d in docs:
        home = f"{base}_read_{bucket_of(d['conversationId'], AUTO_BUCKETS_FERRETDB):03d}"
        assert d["_coll"] == home, f"{d['messageId']} stored in {d['_coll']}, not {home}"
    by_id = {s.message_id: s for s in sent if s.message_id}
    assert all(d["messageId"] in by_id for d in docs)
    # Order: the store's log position (what the API reads by) follows ack order.
    per_conv: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for d in docs:
        per_conv[d["conversationId"]].append(d)
    for conv, sends in load.sent.items():
        a, b = load.users(conv)
        stored = sorted(per_conv.get(f"{a}:{b}", []), key=lambda d: (d["partition"], d["offset"]))
        assert len({d["partition"] for d in stored}) <= 1, f"conversation {conv} spans partitions"
        stored_keys = [d["clientMessageId"] for d in stored if d["clientMessageId"] in acked]
        want = [s.key for s in sends if s.acked]
        assert stored_keys == want, f"conversation {conv} out of order"
    return docs


def read_conversation(api: str, a: str, b: str, limit: int = 1000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: str | None = None
    with httpx.Client(timeout=60) as c:
        while True:
            params: dict[str, Any] = {"limit": limit}
            if after:
                params["after"] = after
            r = c.get(f"{api}/messages/{a}/{b}", params=params)
            assert r.status_code == 200, r.text
            j = r.json()
            out.extend(j["messages"])
            after = j["nextCursor"]
            if not after:
                return out


def delivery(cluster: LocalCluster, ids: set[str]) -> collections.Counter[str]:
    return collections.Counter(
        d["outcome"] for d in cluster.delivery_logs() if d.get("messageId") in ids
    )


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:6]}-"


@pytest.fixture
def api(cluster: LocalCluster) -> str:
    return cluster.endpoints().api


@pytest.fixture
def healthy(cluster: LocalCluster) -> Iterator[LocalCluster]:
    """Every node running and every link up before and after the test."""
    yield cluster
    for link in cluster.links():
        cluster.set_link_enabled(link, True)
    for name in cluster.node_names("consumer") + cluster.node_names("api"):
        cluster.set_failpoints(name, "")
    for name in [n for r in ("kafka", "store", "api", "consumer") for n in cluster.node_names(r)]:
        if not cluster.is_running(name):
            cluster.start_node(name, timeout=300)


# -------------------------------------------------------------------------- tests
def test_5000_messages_100_conversations_stored_once_in_order(
    healthy: LocalCluster, api: str, prefix: str
) -> None:
    load = Load(api, prefix, conversations=100, per_conv=50).run()
    n = len(load.all())
    print(
        f"\nTHROUGHPUT single POST: {n} msgs in {load.elapsed_s:.1f}s = "
        f"{n / load.elapsed_s:.0f} msgs/s (100 sequential conversations)"
    )
    assert all(s.acked for s in load.all())
    check_promises(healthy, load)
    t0 = time.perf_counter()
    for conv, sends in load.sent.items():
        a, b = load.users(conv)
        limit = 20 if conv < 5 else 1000  # a few conversations page through cursors
        got = [m["messageId"] for m in read_conversation(api, b, a, limit=limit)]
        assert got == [s.message_id for s in sends], f"conversation {conv} reads out of order"
    print(f"READS: 100 conversations through the API in {time.perf_counter() - t0:.1f}s")


def test_batch_post_throughput(healthy: LocalCluster, api: str, prefix: str) -> None:
    total, size, conc = 10_000, 100, 8
    chunks = [list(range(i, min(total, i + size))) for i in range(0, total, size)]
    results: dict[str, str] = {}

    async def main() -> None:
        sem = asyncio.Semaphore(conc)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:

            async def one(idx: list[int]) -> None:
                items = [
                    {
                        "fromUser": f"{prefix}u{i % 50}",
                        "toUser": f"{prefix}v{i % 50}",
                        "content": "y" * 64,
                        "clientMessageId": f"{prefix}{i}",
                    }
                    for i in idx
                ]
                for _ in range(20):
                    async with sem, s.post(f"{api}/messages/batch", json={"messages": items}) as r:
                        body = await r.json()
                        assert r.status in (201, 207), body
                    retry = []
                    for it, res in zip(items, body["results"], strict=True):
                        if res["status"] == 201:
                            results[it["clientMessageId"]] = res["messageId"]
                        else:
                            retry.append(it)
                    if not retry:
                        return
                    items = retry

            await asyncio.gather(*(one(c) for c in chunks))

    t0 = time.perf_counter()
    asyncio.run(main())
    el = time.perf_counter() - t0
    print(
        f"\nTHROUGHPUT batch POST: {total} msgs in {el:.1f}s = {total / el:.0f} msgs/s "
        f"(batches of {size}, {conc} concurrent)"
    )
    assert len(results) == total
    docs = wait_stored(healthy, prefix, set(results))
    stored = collections.Counter(d["clientMessageId"] for d in docs)
    assert set(stored) == set(results) and set(stored.values()) == {1}
    assert {d["messageId"] for d in docs} == set(results.values())


def test_consumer_crash_between_store_and_commit_and_random_kills(
    healthy: LocalCluster, api: str, prefix: str
) -> None:
    c = healthy
    load = Load(api, prefix, conversations=30, pause_s=0.02).start()
    time.sleep(3)
    c.set_failpoints("consumer-1", "consumer.after_store_before_commit=crash@3")
    deadline = time.monotonic() + 60
    while c.is_running("consumer-1") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not c.is_running("consumer-1"), "the failpoint did not crash consumer-1"
    c.set_failpoints("consumer-1", "")
    c.start_node("consumer-1")
    rnd = random.Random(7)
    for _ in range(3):  # kill -9 at random instants, then restart
        time.sleep(rnd.uniform(1.0, 4.0))
        victim = rnd.choice(["consumer-1", "consumer-2"])
        c.kill(victim)
        time.sleep(rnd.uniform(0.0, 1.0))
        c.start_node(victim)
    time.sleep(2)
    load.stop()
    docs = check_promises(c, load)
    outcomes = delivery(c, {d["messageId"] for d in docs})
    print(f"\nDELIVERY after consumer kills: {dict(outcomes)}")
    assert outcomes["duplicate"] > 0, "the crash before the commit must cause redeliveries"


def test_store_outage_15s_loses_nothing(healthy: LocalCluster, api: str, prefix: str) -> None:
    c = healthy
    links = [ln for ln in c.links() if ln.startswith("consumer-") and ln.endswith("-store")]
    load = Load(api, prefix, conversations=20, pause_s=0.05).start()
    time.sleep(3)
    for ln in links:
        c.set_link_enabled(ln, False)
    time.sleep(15)
    for ln in links:
        c.set_link_enabled(ln, True)
    time.sleep(3)
    load.stop()
    check_promises(c, load)


def test_leader_broker_kill9_every_201_stored(healthy: LocalCluster, api: str, prefix: str) -> None:
    c = healthy
    load = Load(api, prefix, conversations=30, pause_s=0.02).start()
    time.sleep(3)
    victim = c.kafka_leader(0)
    c.kill(victim)
    time.sleep(10)
    # A busy machine can take minutes to bring a broker back; the promises
    # are checked on the two survivors (min.insync.replicas=2) meanwhile.
    c.start_node(victim, wait=False)
    time.sleep(3)
    load.stop()
    first = collections.Counter(s.statuses[0] for s in load.all())
    print(f"\nLEADER KILL first-attempt statuses: {dict(first)}")
    check_promises(c, load)
    c.wait_ready(victim, 300)
    c.wait_topic_healthy(300)


def test_same_idempotency_key_three_times_one_message(
    healthy: LocalCluster, api: str, prefix: str
) -> None:
    body = {"fromUser": f"{prefix}a", "toUser": f"{prefix}b", "content": "once"}
    with httpx.Client(timeout=30) as h:
        answers = [
            h.post(f"{api}/messages", json=body, headers={"Idempotency-Key": f"{prefix}k"})
            for _ in range(3)
        ]
        body2 = {**body, "clientMessageId": f"{prefix}k"}  # the body field is the same key
        answers.append(h.post(f"{api}/messages", json=body2))
    assert [r.status_code for r in answers] == [201] * 4
    ids = {r.json()["messageId"] for r in answers}
    assert len(ids) == 1
    docs = wait_stored(healthy, prefix, {f"{prefix}k"})
    time.sleep(2)  # give the later copies time to be (not) stored
    docs = store_docs(healthy, prefix)
    assert len(docs) == 1 and docs[0]["messageId"] == ids.pop()
    got = read_conversation(api, f"{prefix}b", f"{prefix}a")
    assert len(got) == 1


def test_poison_record_goes_to_the_dlq_and_the_consumer_keeps_going(
    healthy: LocalCluster, api: str, prefix: str
) -> None:
    c = healthy
    direct = c.endpoints().kafka_direct
    poison = f"\xff not a message {prefix}".encode("latin-1")
    where: dict[str, int] = {}

    def cb(err: Any, msg: Any) -> None:
        assert err is None
        where.update(partition=msg.partition(), offset=msg.offset())

    p = Producer({"bootstrap.servers": direct, "acks": "all", "log_level": 0})
    p.produce(TOPIC, key=f"{prefix}poison".encode(), value=poison, on_delivery=cb)
    assert p.flush(30) == 0 and where
    load = Load(api, prefix, conversations=2, per_conv=5).run()
    check_promises(c, load)

    consumer = Consumer(
        {
            "bootstrap.servers": direct,
            "group.id": f"dlq-{prefix}",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    consumer.subscribe([DLQ_TOPIC])
    found: Any = None
    deadline = time.monotonic() + 60
    try:
        while found is None and time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=1.0):
                if m.error() is None and m.value() == poison:
                    found = m
    finally:
        consumer.close()
    assert found is not None, "the poison record did not reach the DLQ"
    h = {k: v.decode() for k, v in (found.headers() or [])}
    assert h["wiber.original.topic"] == TOPIC
    assert int(h["wiber.original.partition"]) == where["partition"]
    assert int(h["wiber.original.offset"]) == where["offset"]
    assert "not JSON" in h["wiber.error"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "needle"),
    [
        ("post", "/messages", {"json": {"toUser": "b", "content": "x"}}, 422, "fromUser"),
        ("post", "/messages", {"json": {"fromUser": "a", "toUser": "b"}}, 422, "content"),
        (
            "post",
            "/messages",
            {"json": {"fromUser": "a", "toUser": "b", "content": "x" * 70_000}},
            422,
            "bytes",
        ),
        (
            "post",
            "/messages",
            {"json": {"fromUser": 1, "toUser": "b", "content": "x"}},
            422,
            "fromUser",
        ),
        (
            "post",
            "/messages",
            {"json": {"fromUser": "a", "toUser": ["b"], "content": "x"}},
            422,
            "toUser",
        ),
        (
            "post",
            "/messages",
            {"json": {"fromUser": "a", "toUser": "b", "content": {"t": 1}}},
            422,
            "content",
        ),
        (
            "post",
            "/messages",
            {"json": {"fromUser": "", "toUser": "b", "content": "x"}},
            422,
            "empty",
        ),
        (
            "post",
            "/messages",
            {"json": {"fromUser": "a" * 500, "toUser": "b", "content": "x"}},
            422,
            "at most",
        ),
        (
            "post",
            "/messages",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "JSON",
        ),
        (
            "post",
            "/messages",
            {"content": b"hello", "headers": {"content-type": "text/plain"}},
            400,
            "JSON",
        ),
        (
            "post",
            "/messages/batch",
            {"json": {"messages": [{"fromUser": "a", "toUser": "b", "content": "x"}] * 1000}},
            422,
            "1 to",
        ),
        ("post", "/messages/batch", {"json": {"messages": []}}, 422, "1 to"),
        ("post", "/messages/batch", {"json": {"messages": "x"}}, 422, "messages"),
        ("get", "/messages/a/b?limit=-1", {}, 422, "limit"),
        ("get", "/messages/a/b?after=zz", {}, 422, "cursor"),
        ("get", "/nowhere", {}, 404, "Not Found"),
    ],
)
def test_bad_requests_are_4xx_with_a_clear_message(
    healthy: LocalCluster,
    api: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    with httpx.Client(timeout=30) as h:
        r = getattr(h, method)(f"{api}{path}", **kwargs)
    assert r.status_code == status, r.text
    j = r.json()
    assert j["message"] and needle in r.text, j
