"""wiber.producer: the asyncio bridge maps delivery outcomes to Delivered / NotSent /
OutcomeUnknown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from confluent_kafka import KafkaError

from wiber.producer import Delivered, KafkaBridge, NotSent, OutcomeUnknown, producer_config
from wiber.settings import Settings


class Msg:
    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 42


class FakeProducer:
    """Records callbacks; poll() reports each with the outcome set by the test."""

    outcome: KafkaError | str | None = None  # "hold": never report
    refuse: Exception | None = None

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.pending: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        if isinstance(self.outcome, str):  # "hold"
            return 0
        done, self.pending = self.pending, []
        for cb in done:
            cb(self.outcome, Msg())
        return len(done)

    def __len__(self) -> int:
        return len(self.pending)

    def purge(self) -> None:
        done, self.pending = self.pending, []
        for cb in done:
            cb(KafkaError(KafkaError._PURGE_QUEUE), Msg())

    def flush(self, timeout: float) -> int:
        return 0


def run(outcome: Any, refuse: Exception | None = None, timeout: float = 1.0) -> Any:
    FakeProducer.outcome, FakeProducer.refuse = outcome, refuse

    async def go() -> Any:
        b = KafkaBridge(Settings(), producer_factory=FakeProducer)
        b.start()
        try:
            return await b.send("t", b"k", b"v", timeout)
        finally:
            await b.close(0.1)

    return asyncio.run(go())


def test_ack_resolves_with_partition_and_offset() -> None:
    assert run(None) == Delivered(3, 42)


def test_refused_produce_is_not_sent() -> None:
    with pytest.raises(NotSent, match="queue is full"):
        run(None, refuse=BufferError())


def test_no_ack_in_time_is_unknown() -> None:
    with pytest.raises(OutcomeUnknown, match="no acknowledgement"):
        run("hold", timeout=0.05)


def test_delivery_error_after_send_is_unknown() -> None:
    with pytest.raises(OutcomeUnknown, match="delivery failed"):
        run(KafkaError(KafkaError._MSG_TIMED_OUT))


def test_purged_is_unknown_because_a_retried_record_may_be_written() -> None:
    with pytest.raises(OutcomeUnknown):
        run(KafkaError(KafkaError._PURGE_QUEUE))


def test_closed_bridge_refuses() -> None:
    async def go() -> None:
        b = KafkaBridge(Settings(), producer_factory=FakeProducer)
        b.start()
        await b.close(0.1)
        await b.send("t", b"k", b"v", 1.0)

    with pytest.raises(NotSent):
        asyncio.run(go())


def test_config_is_safe_and_bounded() -> None:
    c = producer_config(Settings(), "x")
    assert c["enable.idempotence"] is True and c["acks"] == "all"
    assert c["delivery.timeout.ms"] < Settings().request_timeout_s * 1000
    assert c["allow.auto.create.topics"] is False
    u = producer_config(Settings(producer_acks="1", producer_idempotence=False), "x")
    assert u["acks"] == "1" and u["enable.idempotence"] is False
