"""wiber.consumer batch logic against in-memory Kafka and store doubles.

What is checked: offsets are committed only after the store write, store
errors are retried (paused, polling) and never committed past, the unsafe
skip mode commits past, in-batch duplicates and invalid records. The real
thing runs in tests/integration/test_pipeline.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from wiber.consumer import WiberConsumer
from wiber.model import Message, encode_record
from wiber.settings import Settings
from wiber.store import InsertOutcome

TOPIC = "wiber.messages"


class Rec:
    def __init__(self, partition: int, offset: int, value: bytes | None, key: bytes = b"k") -> None:
        self._p, self._o, self._v, self._k = partition, offset, value, key

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes | None:
        return self._v

    def key(self) -> bytes:
        return self._k

    def error(self) -> None:
        return None


class TP:
    def __init__(self, topic: str, partition: int, offset: int = -1001) -> None:
        self.topic, self.partition, self.offset, self.error = topic, partition, offset, None


class FakeKafka:
    """Just enough of confluent_kafka.Consumer for the batch loop."""

    def __init__(self, records: dict[int, list[bytes | None]]) -> None:
        self.logs = records
        self.pos = dict.fromkeys(records, 0)
        self.committed: dict[int, int] = {}
        self.commit_calls: list[dict[int, int]] = []
        self.paused: set[int] = set()
        self.assigned: list[int] = []
        self.callbacks: dict[str, Any] = {}
        self.events: list[str] = []
        self.revoke_next: tuple[WiberConsumer, list[int], list[int]] | None = None

    def subscribe(self, topics: list[str], **cbs: Any) -> None:
        self.callbacks = cbs

    def _ensure_assigned(self) -> None:
        if not self.assigned:
            self.callbacks["on_assign"](self, [TP(TOPIC, p) for p in self.logs])

    def assign(self, parts: list[TP]) -> None:
        self.assigned = [p.partition for p in parts]

    def assignment(self) -> list[TP]:
        return [TP(TOPIC, p) for p in self.assigned]

    def consume(self, num_messages: int, timeout: float) -> list[Rec]:
        self._ensure_assigned()
        out: list[Rec] = []
        for p in self.assigned:
            if p in self.paused:
                continue
            while self.pos[p] < len(self.logs[p]) and len(out) < num_messages:
                out.append(Rec(p, self.pos[p], self.logs[p][self.pos[p]]))
                self.pos[p] += 1
        return out

    def poll(self, timeout: float) -> None:
        self.events.append("poll")
        if self.revoke_next is not None:
            consumer, parts, keep = self.revoke_next
            self.revoke_next = None
            consumer._on_revoke(self, [TP(TOPIC, p) for p in parts])
            self.assigned = keep  # what the client does after on_revoke
            for p in parts:  # a partition handed back restarts from its committed offset
                self.pos[p] = self.committed.get(p, 0)
        return None

    def revoke_at_next_poll(
        self, consumer: WiberConsumer, parts: list[int], keep: list[int]
    ) -> None:
        """A rebalance during the consumer's next poll: ``parts`` revoked, ``keep`` left
        assigned."""
        self.revoke_next = (consumer, parts, keep)

    def pause(self, parts: list[TP]) -> None:
        self.paused |= {p.partition for p in parts}
        self.events.append("pause")

    def resume(self, parts: list[TP]) -> None:
        self.paused -= {p.partition for p in parts}
        self.events.append("resume")

    def commit(self, offsets: list[TP], asynchronous: bool) -> list[TP]:
        assert asynchronous is False
        c = {tp.partition: tp.offset for tp in offsets}
        self.commit_calls.append(c)
        self.committed.update(c)
        self.events.append("commit")
        return offsets

    def position(self, parts: list[TP]) -> list[TP]:
        return [TP(TOPIC, p.partition, self.pos[p.partition]) for p in parts]

    def get_watermark_offsets(self, tp: TP, cached: bool) -> tuple[int, int]:
        return 0, len(self.logs[tp.partition])

    def close(self) -> None:
        self.events.append("close")


class FakeStore:
    def __init__(self, kafka: FakeKafka, fail_times: int = 0) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.fail_times = fail_times
        self.attempts = 0
        self.partial_fail_times = 0  # attempts that fail every other document
        self.sizes: list[int] = []  # documents per attempt
        self.kafka = kafka

    def insert_batch(self, docs: list[dict[str, Any]]) -> InsertOutcome:
        self.attempts += 1
        self.kafka.events.append("store")
        self.sizes.append(len(docs))
        if self.attempts <= self.fail_times:
            return InsertOutcome(failed=dict.fromkeys(range(len(docs)), "AutoReconnect: down"))
        out = InsertOutcome()
        partial = self.attempts <= self.fail_times + self.partial_fail_times
        for i, d in enumerate(docs):
            if partial and i % 2:
                out.failed[i] = "AutoReconnect: one bucket down"
                continue
            if d["messageId"] in self.docs:
                out.duplicates.append(i)
            else:
                self.docs[d["messageId"]] = dict(d)
                out.inserted.append(i)
        return out

    def ensure_indexes(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeProducer:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, key: Any, value: Any, headers: Any, on_delivery: Any) -> None:
        self.sent.append({"topic": topic, "value": value, "headers": dict(headers)})
        on_delivery(None, None)

    def flush(self, timeout: float) -> int:
        return 0


def rec(i: int, frm: str = "alice", to: str = "bob", key: str | None = None) -> bytes:
    return encode_record(Message.new(frm, to, f"m{i}", key or f"k{i}"))


def make(
    tmp_path: Path, records: dict[int, list[bytes | None]], fail_times: int = 0, **kw: Any
) -> tuple[WiberConsumer, FakeKafka, FakeStore]:
    kafka = FakeKafka(records)
    store = FakeStore(kafka, fail_times)
    s = Settings(
        delivery_log=tmp_path / "d.jsonl",
        consumer_id="c-test",
        consumer_retry_max_backoff_ms=10,
        **kw,
    )
    c = WiberConsumer(
        s, store=store, consumer_factory=lambda conf: kafka, producer_factory=FakeProducer
    )
    c.consumer = kafka
    kafka.subscribe([TOPIC], on_assign=c._on_assign, on_revoke=c._on_revoke, on_lost=c._on_lost)
    return c, kafka, store


def outcomes(tmp_path: Path) -> list[tuple[int, int, str]]:
    lines = (tmp_path / "d.jsonl").read_bytes().splitlines()
    return [(d["partition"], d["offset"], d["outcome"]) for d in map(orjson.loads, lines)]


def test_commits_only_after_the_store(tmp_path: Path) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0), rec(1)], 1: [rec(2)]})
    c._step()
    assert len(store.docs) == 3
    assert kafka.committed == {0: 2, 1: 1}
    assert kafka.events.index("store") < kafka.events.index("commit")
    assert sorted(outcomes(tmp_path)) == [(0, 0, "stored"), (0, 1, "stored"), (1, 0, "stored")]
    doc = next(iter(store.docs.values()))
    assert doc["_id"] == doc["messageId"]
    assert {"partition", "offset", "storedAt", "storedAtNs", "conversationId"} <= set(doc)


def test_store_errors_are_retried_paused_never_committed_past(tmp_path: Path) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0)]}, fail_times=3)
    c._step()
    assert store.attempts == 4 and len(store.docs) == 1
    ev = kafka.events[kafka.events.index("store") :]  # after the assignment (which resumes)
    assert ev.count("commit") == 1 and ev.index("commit") > ev.index("resume") > ev.index("pause")
    assert "poll" in ev  # kept polling (group membership) while backing off
    assert kafka.commit_calls == [{0: 1}]


def test_a_partly_failed_write_retries_only_what_failed_before_the_commit(
    tmp_path: Path,
) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0), rec(1), rec(2), rec(3)]})
    store.partial_fail_times = 2
    c._step()
    assert len(store.docs) == 4
    # 4 documents, then the 2 that failed, then the 1 of those that failed again
    assert store.sizes == [4, 2, 1]
    ev = kafka.events
    last_store = max(i for i, e in enumerate(ev) if e == "store")
    assert ev.count("store") == 3 and last_store < ev.index("commit")
    assert sorted(outcomes(tmp_path)) == [(0, o, "stored") for o in range(4)]


def test_stop_during_retries_abandons_the_batch_uncommitted(tmp_path: Path) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0)]}, fail_times=10**6)
    orig = kafka.poll

    def poll_then_stop(timeout: float) -> None:
        c.request_stop()
        return orig(timeout)

    kafka.poll = poll_then_stop  # type: ignore[method-assign]
    c._step()
    assert kafka.commit_calls == [] and store.docs == {}


def test_unsafe_skip_commits_past_failed_writes(tmp_path: Path) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0)]}, fail_times=1, consumer_on_store_error="skip")
    c._step()
    assert store.docs == {} and kafka.committed == {0: 1}
    assert outcomes(tmp_path) == [(0, 0, "failed")]


def test_duplicates_in_a_batch_and_across_redelivery(tmp_path: Path) -> None:
    same = rec(0, key="same")
    c, kafka, store = make(tmp_path, {0: [same, rec(1), same]})
    c._step()
    assert len(store.docs) == 2
    assert outcomes(tmp_path) == [(0, 0, "stored"), (0, 1, "stored"), (0, 2, "duplicate")]
    kafka.pos[0] = 0  # redelivery (e.g. after a crash before the commit)
    c._step()
    assert len(store.docs) == 2
    assert outcomes(tmp_path)[3:] == [(0, 0, "duplicate"), (0, 1, "duplicate"), (0, 2, "duplicate")]


def test_invalid_records_go_to_the_dlq_then_are_committed(tmp_path: Path) -> None:
    c, kafka, store = make(tmp_path, {0: [b"garbage", rec(1), None]})
    c._step()
    assert len(store.docs) == 1 and kafka.committed == {0: 3}
    sent = c._dlq.sent
    assert [s["value"] for s in sent] == [b"garbage", None]
    h = sent[0]["headers"]
    assert h["wiber.original.partition"] == b"0" and h["wiber.original.offset"] == b"0"
    assert b"not JSON" in h["wiber.error"]
    assert outcomes(tmp_path) == [(0, 1, "stored"), (0, 0, "dlq"), (0, 2, "dlq")]


def test_revoke_commits_stored_and_drops_unstored(tmp_path: Path) -> None:
    # commit after every batch, so the batch's own commit is seen at once
    c, kafka, store = make(
        tmp_path, {0: [rec(0)], 1: [rec(1)]}, fail_times=2, consumer_commit_interval_ms=0
    )
    c._uncommitted[(TOPIC, 5)] = 7  # stored earlier, commit had failed
    kafka.assigned = [0, 1, 5]
    kafka.logs[5] = []
    kafka.pos[5] = 0
    kafka.revoke_at_next_poll(c, [1, 5], keep=[0])
    c._step()
    assert kafka.commit_calls[0] == {5: 7}  # on revoke: what was stored
    assert [d["content"] for d in store.docs.values()] == ["m0"]  # partition 1 dropped
    assert kafka.committed == {5: 7, 0: 1}  # never partition 1


@pytest.mark.parametrize("mode", ["auto"])
def test_unsafe_auto_commit_never_commits_by_hand(tmp_path: Path, mode: str) -> None:
    c, kafka, store = make(tmp_path, {0: [rec(0)]}, consumer_commit_mode=mode)
    c._step()
    assert len(store.docs) == 1 and kafka.commit_calls == []


def test_unsafe_no_unique_index_stores_redeliveries_again(tmp_path: Path) -> None:
    c, _kafka, store = make(tmp_path, {0: [rec(0)]}, store_unique_index=False)
    c._step()
    doc = next(iter(store.docs.values()))
    assert "_id" not in doc  # nothing but the (absent) unique index would dedup


def test_partitions_revoked_during_a_retry_and_assigned_again_are_consumed(tmp_path: Path) -> None:
    """The rebalance a late-joining consumer causes while the store is down.

    Everything is revoked during the retry's back-off, the retry ends with
    nothing left to store (and no assignment to resume), then the group
    hands the same partitions back. librdkafka keeps their pause flag across
    that (FakeKafka.paused does too), so they must be resumed on assignment
    or they are never consumed again: the bug the compose backend's
    consumer-store-partition run found (1,193 acknowledged messages lost).
    """
    c, kafka, store = make(tmp_path, {0: [rec(0)], 1: [rec(1)]}, fail_times=2)
    kafka.revoke_at_next_poll(c, [0, 1], keep=[])
    c._step()  # first batch: the store fails, everything is revoked meanwhile
    assert kafka.revoke_next is None and store.docs == {} and kafka.paused == {0, 1}
    for _ in range(3):  # the next polls get the partitions back, then their records
        c._step()
    assert sorted(d["content"] for d in store.docs.values()) == ["m0", "m1"]
    assert kafka.paused == set() and kafka.committed == {0: 1, 1: 1}


def test_commit_interval_commits_less_often_never_ahead_and_when_idle(tmp_path: Path) -> None:
    c, kafka, store = make(
        tmp_path,
        {0: [rec(i) for i in range(4)]},
        consumer_batch_size=1,
        consumer_commit_interval_ms=60_000,
    )
    c._step()  # the first batch commits: no commit yet in this interval
    assert kafka.commit_calls == [{0: 1}]
    c._step()
    c._step()
    # stored, not yet committed: the interval has not passed
    assert len(store.docs) == 3 and kafka.commit_calls == [{0: 1}]
    assert kafka.committed[0] <= len(store.docs)
    c._step()
    c._step()  # the poll finds nothing: everything stored is committed now
    assert kafka.committed == {0: 4} and len(store.docs) == 4
    assert len(kafka.commit_calls) == 2


def test_commit_interval_still_commits_stored_offsets_on_revoke(tmp_path: Path) -> None:
    c, kafka, store = make(
        tmp_path, {0: [rec(0), rec(1)], 1: [rec(2)]}, consumer_commit_interval_ms=60_000
    )
    c._step()  # commits {0: 2, 1: 1}
    kafka.logs[0].append(rec(3))
    c._step()  # stores offset 2 of partition 0, inside the interval: not committed
    assert kafka.committed[0] == 2 and len(store.docs) == 4
    c._on_revoke(kafka, [TP(TOPIC, 0)])
    assert kafka.committed[0] == 3
