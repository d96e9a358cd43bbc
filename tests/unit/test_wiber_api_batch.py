"""wiber.api.batch and KafkaBridge.send_batch: the batch fast path answers as the per-item one.

``prepare_batch`` is compared with the per-item path it replaced (kept
below as the reference: ``parse_batch``, ``validate_item`` and
``Message.new`` for each item) on generated bodies, valid and broken:
the same ApiError, or the same ids, keys and record bytes.
``send_batch`` runs against a scripted producer (pure logic: which
record gets which outcome).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiber.api.batch import prepare_batch
from wiber.api.errors import ApiError
from wiber.api.limits import RouteLimits
from wiber.model import Message, derive_message_id, derive_message_ids, encode_record
from wiber.producer import Delivered, KafkaBridge, NotSent, OutcomeUnknown
from wiber.settings import Settings
from wiber_harness.bench.batch_cpu import per_item

S = Settings(max_batch=5, max_content_bytes=100, max_user_len=10, max_key_len=12)
LIMITS = RouteLimits.of(S)


def reference(raw: bytes, header_key: str | None, s: Settings = S) -> list[Message]:
    """The batch route before the fast path (kept once, in the micro-benchmark)."""
    return per_item(raw, header_key, s)


def outcome(f: Any, *args: Any) -> Any:
    try:
        return f(*args)
    except ApiError as e:
        return ("error", e.status, e.error, e.message, e.details, e.headers)


def same(raw: bytes, header_key: str | None, s: Settings = S) -> None:
    want = outcome(reference, raw, header_key, s)
    got = outcome(prepare_batch, raw, RouteLimits.of(s), s, header_key)
    if isinstance(want, tuple):
        assert got == want
        return
    assert not isinstance(got, tuple), got
    assert len(got) == len(want)
    for i, m in enumerate(want):
        assert got.client_message_ids[i] == m.clientMessageId
        if m.clientMessageId is not None:
            assert got.message_ids[i] == m.messageId
        else:
            assert uuid.UUID(got.message_ids[i]).version == 4
        assert got.partition_keys[i] == m.partition_key(s.partition_key)
        ours = Message(
            got.message_ids[i],
            m.conversationId,
            m.fromUser,
            m.toUser,
            m.content,
            got.timestamp,
            m.clientMessageId,
            got.produced_at_ns,
        )
        assert got.values[i] == encode_record(ours)
        assert got.messages()[i] == ours
        stored = ours.to_dict()
        del stored["producedAtNs"]
        assert got.stored(i) == stored


GOOD = {"fromUser": "alice", "toUser": "bob", "content": "hi"}

users = st.one_of(
    st.sampled_from(
        ["alice", "bob", "a.b@c+d", "x" * 10, "x" * 11, "", "a:b", "é", "a\n", "a\nb", "\n"]
    ),
    st.text(max_size=12),
    st.integers(),
    st.none(),
)
texts = st.one_of(
    st.sampled_from(["hi", "", "x" * 100, "x" * 101, "é" * 50, "é" * 51, "\x00", "a\tb"]),
    st.text(max_size=30),
    st.integers(),
)
keys = st.one_of(
    st.none(),
    st.sampled_from(["k", "", "k" * 12, "k" * 13, "a\nb", "\u200b", "é"]),
    st.text(max_size=14),
    st.integers(),
)


@st.composite
def items(draw: st.DrawFn) -> Any:
    d: dict[str, Any] = {}
    for name, values in (("fromUser", users), ("toUser", users), ("content", texts)):
        if draw(st.integers(0, 12)) > 0:
            d[name] = draw(values)
    if draw(st.booleans()):
        d["clientMessageId"] = draw(keys)
    if draw(st.integers(0, 8)) == 0:
        d["extra"] = draw(st.one_of(st.integers(), st.text(max_size=3), st.none()))
    return d if draw(st.integers(0, 20)) > 0 else draw(st.sampled_from([[], "x", 3, None]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(items(), min_size=0, max_size=7),
    header=st.one_of(st.none(), keys.filter(lambda k: not isinstance(k, int))),
    wrap=st.sampled_from(["plain", "spaced", "dup", "notobj"]),
)
def test_prepare_batch_answers_as_the_per_item_path(
    batch: list[Any], header: str | None, wrap: str
) -> None:
    body = json.dumps({"messages": batch}, ensure_ascii=wrap == "spaced").encode()
    if wrap == "spaced":
        body = b" \n" + body.replace(b",", b" , ") + b"\t"
    elif wrap == "dup":  # a repeated key: the last one counts, in both parsers
        body = b'{"messages": [], ' + body[1:]
    elif wrap == "notobj":
        body = json.dumps(batch).encode()
    same(body, header)


# Mostly valid names; a newline inside one must not pass for two names.
valid_users = st.text(st.sampled_from("abz09._@+-\n"), min_size=1, max_size=10)
valid_items = st.fixed_dictionaries(
    {
        "fromUser": valid_users,
        "toUser": valid_users,
        "content": st.text(min_size=1, max_size=25),
    },
    optional={"clientMessageId": st.one_of(st.none(), st.text(min_size=1, max_size=12))},
)


@settings(max_examples=300, deadline=None)
@given(
    batch=st.lists(valid_items, min_size=1, max_size=5),
    header=st.one_of(st.none(), st.text(min_size=1, max_size=12)),
)
def test_valid_batches_get_the_per_item_ids_and_records(
    batch: list[Any], header: str | None
) -> None:
    same(json.dumps({"messages": batch}, ensure_ascii=False).encode(), header)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c","x":"\xff"}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c","x":' + b"[" * 300 + b"]" * 300,
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c","x":1e400}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"\\ud800"}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"\\ud83d\\ude00"}]}',
        b'{"messages":[{"fromUser":5,"toUser":"b","content":"c","fromUser":"a"}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c","fromUser":5}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","cont\\u0065nt":"c"}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c"}],"messages":[]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c"}]}\x00',
        b'\xef\xbb\xbf{"messages":[{"fromUser":"a","toUser":"b","content":"c"}]}',
        b'{"messages":[{"fromUser":"a","toUser":"b","content":"c",}]}',
        b'{"messages":[' + b'{"content":"c",' * 3 + b'"fromUser":"a","toUser":"b"}]}',
        b'{"messages":[{"content":"c","fromUser":"a","toUser":"b"'
        + b',"content":"c"' * 80
        + b"}]}",
        b'{"messages":[{"fromUser":"alice","toUser":"ali\\nce","content":"c"}]}',
        b'{"messages":[{"fromUser":"a\\n","toUser":"b","content":"c"}]}',
        b"{" + b" " * 100_000 + b"}",
        b"",
    ],
)
def test_edge_bodies_answer_as_the_per_item_path(raw: bytes) -> None:
    same(raw, None)


@pytest.mark.parametrize("mode", ["conversation", "direction"])
def test_keys_and_ids_follow_the_settings(mode: Any) -> None:
    s = Settings(partition_key=mode)
    raw = orjson.dumps({"messages": [GOOD, {**GOOD, "fromUser": "zed", "clientMessageId": "c"}]})
    same(raw, "h", s)
    got = prepare_batch(raw, RouteLimits.of(s), s, "h")
    assert got.message_ids == [derive_message_id("alice", "h:0"), derive_message_id("zed", "c")]
    assert got.conversation_ids == ["alice:bob", "bob:zed"]


def test_message_ids_are_derive_message_id() -> None:
    senders = ["alice", "b", "é", "x" * 64] * 50
    ks: list[str | None] = [f"k{i}" if i % 3 else None for i in range(len(senders))]
    ks[1] = "\u00e9\U0001f600 key"
    got = derive_message_ids(senders, ks)
    for f, k, g in zip(senders, ks, got, strict=True):
        if k is None:
            u = uuid.UUID(g)
            assert (u.version, u.variant, str(u)) == (4, uuid.RFC_4122, g)
        else:
            assert g == derive_message_id(f, k)
    assert len({g for g, k in zip(got, ks, strict=True) if k is None}) == ks.count(None)


# --- send_batch ---------------------------------------------------------------------


class Msg:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def partition(self) -> int:
        return 1

    def offset(self) -> int:
        return self._offset


class ScriptedProducer:
    """Refuses the records whose value is in ``refuse``; reports the others on poll."""

    refuse: dict[bytes, Exception] = {}
    fail: set[bytes] = set()  # reported with an error
    hold: set[bytes] = set()  # never reported

    def __init__(self, conf: dict[str, Any]) -> None:
        self.produced: list[tuple[bytes, bytes]] = []
        self.pending: list[tuple[bytes, Any]] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if value in self.refuse:
            raise self.refuse[value]
        self.produced.append((key, value))
        self.pending.append((value, on_delivery))

    def poll(self, timeout: float) -> int:
        from confluent_kafka import KafkaError

        keep = [(v, cb) for v, cb in self.pending if v in self.hold]
        done = [(v, cb) for v, cb in self.pending if v not in self.hold]
        self.pending = keep
        for v, cb in done:
            err = KafkaError(KafkaError._MSG_TIMED_OUT) if v in self.fail else None
            cb(err, Msg(int(v)))
        return len(done)

    def __len__(self) -> int:
        return len(self.pending)

    def purge(self) -> None:
        self.pending = []

    def flush(self, timeout: float) -> int:
        return 0


def send_batch(records: list[tuple[bytes, bytes]], timeout: float = 1.0) -> Any:
    async def go() -> Any:
        b = KafkaBridge(Settings(), producer_factory=ScriptedProducer)
        b.start()
        try:
            out = await b.send_batch("t", records, timeout)
            return out, b._producer.produced, b.in_flight
        finally:
            await b.close(0.05)

    return asyncio.run(go())


def test_send_batch_gives_each_record_its_own_outcome() -> None:
    from confluent_kafka import KafkaException

    ScriptedProducer.refuse = {b"2": BufferError(), b"3": KafkaException("too large")}
    ScriptedProducer.fail, ScriptedProducer.hold = {b"4"}, set()
    records = [(b"k", str(i).encode()) for i in range(6)]
    out, produced, in_flight = send_batch(records)
    assert produced == [records[i] for i in (0, 1, 4, 5)]  # in order, the refused left out
    assert out[0] == Delivered(1, 0) and out[1] == Delivered(1, 1) and out[5] == Delivered(1, 5)
    assert isinstance(out[2], NotSent) and "queue is full" in str(out[2])
    assert isinstance(out[3], NotSent) and "refused" in str(out[3])
    assert isinstance(out[4], OutcomeUnknown) and "delivery failed" in str(out[4])
    assert in_flight == 0


def test_send_batch_times_out_only_the_unreported() -> None:
    ScriptedProducer.refuse, ScriptedProducer.fail, ScriptedProducer.hold = {}, set(), {b"1"}
    out, _, in_flight = send_batch([(b"k", b"0"), (b"k", b"1")], timeout=0.2)
    assert out[0] == Delivered(1, 0)
    assert isinstance(out[1], OutcomeUnknown) and "within 0.2s" in str(out[1])
    assert in_flight == 0


def test_send_batch_all_refused_does_not_wait() -> None:
    ScriptedProducer.refuse = {b"0": RuntimeError("closed")}
    ScriptedProducer.fail, ScriptedProducer.hold = set(), set()
    out, produced, _ = send_batch([(b"k", b"0")], timeout=30)
    assert produced == [] and isinstance(out[0], NotSent)
