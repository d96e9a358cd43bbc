"""Kafka producer for the API: an asyncio bridge over confluent-kafka delivery callbacks.

Promises:

* ``send()`` returns ``Delivered(partition, offset)`` only after the broker
  acknowledged the record (``acks=all`` + idempotence by default, so the
  write is on every in-sync replica, at most once per produce call, in
  order per partition).
* ``send_batch()`` keeps these promises for each of its records, in one
  call: a list of outcomes (``Delivered``, ``NotSent`` or
  ``OutcomeUnknown``, never raised), one per record, in record order.
* ``send()`` raises ``NotSent`` only when the record surely never reached
  Kafka: ``produce()`` itself refused it (local queue full, producer
  closed or broken). The API answers 503 (+ Retry-After) then.
* Every other failure raises ``OutcomeUnknown``: no acknowledgement within
  the caller's timeout, or a delivery error after the record may have been
  transmitted (a timed-out record may still be written). The API answers
  504 then, and the client must retry with the same idempotency key.
* The event loop never blocks: ``produce()`` is non-blocking and delivery
  reports are served by a task on the loop calling ``poll(0)`` every
  millisecond while records are outstanding (and on wake-up otherwise), so
  each report resolves its request's future directly on the loop thread.
* A fatal producer error (idempotence state lost) replaces the producer;
  records of the old one resolve as ``OutcomeUnknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from wiber.settings import Settings

log = logging.getLogger("wiber.producer")

POLL_BUSY_S = 0.001  # poll cadence while records are outstanding
POLL_IDLE_S = 0.05  # while idle (error callbacks only); a send wakes it at once


class NotSent(Exception):
    """The record surely did not reach Kafka (safe to report as failed)."""


class OutcomeUnknown(Exception):
    """The record may or may not have been written."""


@dataclass(frozen=True, slots=True)
class Delivered:
    partition: int
    offset: int


def producer_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """librdkafka settings for the API's producer."""
    delivery = settings.producer_delivery_timeout_ms
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": client_id,
        "enable.idempotence": settings.producer_idempotence,
        "acks": settings.producer_acks,
        "linger.ms": settings.producer_linger_ms,
        "batch.num.messages": settings.producer_batch_messages,
        "compression.type": settings.producer_compression,
        "delivery.timeout.ms": delivery,
        # A stuck request is abandoned (and retried, idempotently) well inside
        # the delivery timeout, so a dead leader does not eat the whole budget.
        "request.timeout.ms": max(1000, min(30_000, delivery // 2)),
        "queue.buffering.max.messages": settings.producer_queue_max_messages,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        "socket.keepalive.enable": True,
        # Metadata refresh after a leader change is triggered by errors; this
        # bounds how stale the view of a healthy cluster may get.
        "topic.metadata.refresh.interval.ms": 10_000,
        # Never let a produce create a topic with broker defaults (1 partition).
        "allow.auto.create.topics": False,
        # librdkafka's own log lines go through Python logging (one format per process).
        "logger": logging.getLogger("wiber.kafka.producer"),
    }
    if not settings.producer_idempotence:
        conf["retries"] = 2
    return conf


class KafkaBridge:
    """One confluent-kafka Producer shared by every request of an API process."""

    def __init__(
        self,
        settings: Settings,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self._settings = settings
        self._factory = producer_factory
        self._conf = producer_config(settings, f"wiber-api-{os.getpid()}")
        self._conf["error_cb"] = self._on_error
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._fatal = False
        self.in_flight = 0
        self.last_error: str | None = None

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        """Create the producer and its poll task (call inside the running loop)."""
        self._wake = asyncio.Event()
        self._producer = self._factory(self._conf)
        self._task = asyncio.get_running_loop().create_task(self._poll_task(), name="kafka-poll")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting records, wait (bounded) for the outstanding ones, close."""
        self._stopping = True
        p = self._producer
        deadline = time.monotonic() + timeout_s
        while p is not None and len(p) > 0 and time.monotonic() < deadline:
            p.poll(0)
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if p is not None:
            if len(p):
                log.warning("producer closed with %d records unacknowledged", len(p))
                with contextlib.suppress(Exception):
                    p.purge()
            p.flush(0)  # fires the purge reports, so no request waits on a dead producer
        self._producer = None

    @property
    def ready(self) -> bool:
        return self._producer is not None and not self._stopping

    # --- sending --------------------------------------------------------------
    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float) -> Delivered:
        """Produce one record and wait for its acknowledgement (see module promises)."""
        producer = self._producer
        if producer is None or self._stopping:
            raise NotSent("the Kafka producer is not running")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            # Runs inside poll() on the event loop thread (see _poll_task).
            _resolve(fut, err, msg)

        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            raise NotSent("the producer's local queue is full") from None
        except KafkaException as e:
            raise NotSent(f"produce refused the record: {e.args[0]}") from None
        except RuntimeError as e:  # producer closed underneath us
            raise NotSent(f"produce refused the record: {e}") from None
        self.in_flight += 1
        if self._wake is not None:
            self._wake.set()
        # One timer on the future itself, not wait_for(shield(fut)): that made
        # two more futures and a task per request (a tenth of a request's CPU).
        # Whichever comes first, the report or the timer, settles the future;
        # the other then finds it done and does nothing.
        timer = loop.call_later(max(0.0, timeout_s), _expire, fut, timeout_s)
        try:
            return await fut
        finally:
            timer.cancel()
            self.in_flight -= 1

    async def send_batch(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], timeout_s: float
    ) -> list[Delivered | NotSent | OutcomeUnknown]:
        """Produce ``(key, value)`` records in order; each one's outcome, as ``send`` has it.

        The records are handed to librdkafka in list order in one go (no
        suspension between them, so records of one key keep their order),
        each with a delivery callback into one shared slot list, and the
        call returns when the last report arrived or ``timeout_s`` passed
        (the records still unreported are then ``OutcomeUnknown``).
        """
        n = len(records)
        producer = self._producer
        if producer is None or self._stopping:
            return [NotSent("the Kafka producer is not running")] * n
        reports = _BatchReports(asyncio.get_running_loop().create_future(), n)
        report = reports.report
        produce = producer.produce
        queued = 0
        for i, (key, value) in enumerate(records):
            try:
                produce(topic, value=value, key=key, on_delivery=partial(report, i))
            except BufferError:
                reports.refused(i, NotSent("the producer's local queue is full"))
                continue
            except KafkaException as e:
                reports.refused(i, NotSent(f"produce refused the record: {e.args[0]}"))
                continue
            except RuntimeError as e:  # producer closed underneath us
                reports.refused(i, NotSent(f"produce refused the record: {e}"))
                continue
            queued += 1
        if queued:
            self.in_flight += queued
            if self._wake is not None:
                self._wake.set()
            try:
                await asyncio.wait_for(reports.done, timeout=max(0.0, timeout_s))
            except TimeoutError:  # wait_for cancelled reports.done: late reports are dropped
                late = OutcomeUnknown(f"no acknowledgement from Kafka within {timeout_s:.1f}s")
                reports.results = [late if r is None else r for r in reports.results]
            finally:
                self.in_flight -= queued
        return [r if r is not None else OutcomeUnknown("no report") for r in reports.results]

    # --- readiness ----------------------------------------------------------------
    def check_metadata(self, topic: str, timeout_s: float) -> str | None:
        """Blocking (run it in a thread): None when every partition has a leader, else why not."""
        p = self._producer
        if p is None:
            return "producer not running"
        try:
            md = p.list_topics(topic=topic, timeout=timeout_s)
        except KafkaException as e:
            return f"metadata request failed: {e.args[0]}"
        t = md.topics.get(topic)
        if t is None:
            return f"topic {topic} not in metadata"
        if t.error is not None:
            return f"topic {topic}: {t.error.str()}"
        if not t.partitions:
            return f"topic {topic} has no partitions"
        leaderless = [pid for pid, pm in t.partitions.items() if pm.leader < 0]
        if leaderless:
            return f"topic {topic}: partitions without leader {sorted(leaderless)}"
        return None

    # --- internals -----------------------------------------------------------------
    def _on_error(self, err: KafkaError) -> None:
        self.last_error = err.str()
        if err.fatal():
            log.error("fatal producer error, replacing the producer: %s", err.str())
            self._fatal = True
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("producer: all brokers down")

    async def _poll_task(self) -> None:
        # Delivery reports are served on the loop thread itself. A separate
        # poll thread would need the GIL once per report while the loop holds
        # it; under load each hand-off waits a switch interval (5 ms), which
        # measured as hundreds of ms of added latency.
        wake = self._wake
        assert wake is not None
        while True:
            p = self._producer
            if p is None:
                return
            try:
                p.poll(0)
            except Exception:  # a callback bug must not stop the reports
                log.exception("producer poll failed")
            if self._fatal:
                self._replace_producer()
            if self.in_flight:
                await asyncio.sleep(POLL_BUSY_S)
            else:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_IDLE_S)

    def _replace_producer(self) -> None:
        self._fatal = False
        old = self._producer
        self._producer = self._factory(self._conf)
        if old is not None:
            with contextlib.suppress(Exception):
                old.purge()
            with contextlib.suppress(Exception):
                old.flush(0)


def _resolve(fut: asyncio.Future[Delivered], err: KafkaError | None, msg: Any) -> None:
    if fut.done():
        return  # the request already gave up (timeout): it answered 504
    out = _outcome(err, msg)
    if isinstance(out, Delivered):
        fut.set_result(out)
    else:
        fut.set_exception(out)


def _expire(fut: asyncio.Future[Delivered], timeout_s: float) -> None:
    if not fut.done():  # a late delivery report then finds it done and is dropped
        fut.set_exception(OutcomeUnknown(f"no acknowledgement from Kafka within {timeout_s:.1f}s"))


def _outcome(err: KafkaError | None, msg: Any) -> Delivered | OutcomeUnknown:
    """What one delivery report says: the position, or that the outcome is unknown."""
    if err is None:
        return Delivered(msg.partition(), msg.offset())
    # Even _PURGE_QUEUE is not "never sent": a record re-queued for a
    # retry after a timed-out attempt is purged from the queue too, and
    # that attempt may have been written. Only produce() refusals are sure.
    return OutcomeUnknown(f"delivery failed: {err.str()}")


class _BatchReports:
    """The delivery reports of one ``send_batch``: one slot per record, one future for all."""

    __slots__ = ("done", "left", "results")

    def __init__(self, done: asyncio.Future[None], n: int) -> None:
        self.done = done
        self.left = n
        self.results: list[Delivered | NotSent | OutcomeUnknown | None] = [None] * n

    def refused(self, i: int, e: NotSent) -> None:
        self.results[i] = e
        self._one_less()

    def report(self, i: int, err: KafkaError | None, msg: Any) -> None:
        # Runs inside poll() on the event loop thread (see _poll_task).
        if self.done.done():
            return  # the request already gave up (timeout): those records answered 504
        self.results[i] = _outcome(err, msg)
        self._one_less()

    def _one_less(self) -> None:
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)


__all__ = ["Delivered", "KafkaBridge", "NotSent", "OutcomeUnknown", "producer_config"]
