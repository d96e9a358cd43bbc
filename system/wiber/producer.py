"""Kafka producer for the API: an asyncio bridge over confluent-kafka delivery callbacks.

Promises:

* ``send()`` returns ``Delivered(partition, offset)`` only after the broker
  acknowledged the record (``acks=all`` + idempotence by default, so the
  write is on every in-sync replica, at most once per produce call, in
  order per partition).
* ``send()`` raises ``NotSent`` only when the record surely never reached
  Kafka: ``produce()`` itself refused it (local queue full, producer
  closed or broken) or librdkafka purged it from its local queue before
  transmission. The API answers 503 (+ Retry-After) then.
* Every other failure raises ``OutcomeUnknown``: no acknowledgement within
  the caller's timeout, or a delivery error after the record may have been
  transmitted (a timed-out record may still be written). The API answers
  504 then, and the client must retry with the same idempotency key.
* The event loop never blocks: ``produce()`` is non-blocking, delivery
  callbacks are served by one poll thread, which hands results to the loop
  with one ``call_soon_threadsafe`` per poll round.
* A fatal producer error (idempotence state lost) replaces the producer;
  records of the old one resolve as ``OutcomeUnknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from wiber.settings import Settings

log = logging.getLogger("wiber.producer")

POLL_INTERVAL_S = 0.05


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


Resolution = tuple["asyncio.Future[Delivered]", KafkaError | None, int, int]


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._fatal = threading.Event()
        self._ready: list[Resolution] = []
        self.in_flight = 0
        self.last_error: str | None = None

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._producer = self._factory(self._conf)
        self._thread = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._thread.start()

    async def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, timeout_s)
        p = self._producer
        self._producer = None
        if p is not None:
            left = await asyncio.to_thread(p.flush, timeout_s)
            if left:
                log.warning("producer closed with %d records unacknowledged", left)
        self._hand_over()

    @property
    def ready(self) -> bool:
        return self._producer is not None and not self._stop.is_set()

    # --- sending --------------------------------------------------------------
    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float) -> Delivered:
        """Produce one record and wait for its acknowledgement (see module promises)."""
        producer = self._producer
        if producer is None or self._stop.is_set():
            raise NotSent("the Kafka producer is not running")
        loop = self._loop
        assert loop is not None
        fut: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            # Runs in the poll thread (or in flush at close), which also hands over.
            if err is None:
                self._ready.append((fut, None, msg.partition(), msg.offset()))
            else:
                self._ready.append((fut, err, -1, -1))

        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            raise NotSent("the producer's local queue is full") from None
        except KafkaException as e:
            raise NotSent(f"produce refused the record: {e.args[0]}") from None
        except RuntimeError as e:  # producer closed underneath us
            raise NotSent(f"produce refused the record: {e}") from None
        self.in_flight += 1
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout=max(0.0, timeout_s))
        except TimeoutError:
            fut.cancel()  # a late delivery report then finds it done and is dropped
            raise OutcomeUnknown(f"no acknowledgement from Kafka within {timeout_s:.1f}s") from None
        finally:
            self.in_flight -= 1

    # --- readiness ----------------------------------------------------------------
    def check_metadata(self, topic: str, timeout_s: float) -> str | None:
        """Blocking: None when the topic's partitions all have a leader, else why not."""
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
            self._fatal.set()
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("producer: all brokers down")

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            p = self._producer
            if p is None:
                break
            try:
                p.poll(POLL_INTERVAL_S)
            except Exception:  # a callback bug must not kill the poll thread
                log.exception("producer poll failed")
                time.sleep(POLL_INTERVAL_S)
            if self._fatal.is_set():
                self._replace_producer()
            self._hand_over()

    def _replace_producer(self) -> None:
        self._fatal.clear()
        old = self._producer
        self._producer = self._factory(self._conf)
        if old is not None:
            with contextlib.suppress(Exception):
                old.purge()
            with contextlib.suppress(Exception):
                old.flush(0)

    def _hand_over(self) -> None:
        if not self._ready:
            return
        batch, self._ready = self._ready, []
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve_all, batch)


def _resolve_all(batch: list[Resolution]) -> None:
    for fut, err, partition, offset in batch:
        if fut.done():
            continue  # the request already gave up (timeout): it answered 504
        if err is None:
            fut.set_result(Delivered(partition, offset))
        elif err.code() == KafkaError._PURGE_QUEUE:
            fut.set_exception(NotSent("purged from the local queue before transmission"))
        else:
            fut.set_exception(OutcomeUnknown(f"delivery failed: {err.str()}"))


__all__ = ["Delivered", "KafkaBridge", "NotSent", "OutcomeUnknown", "producer_config"]
