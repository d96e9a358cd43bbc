"""A batch's writes, retried until done: the store (one write per message) and the DLQ.

Promises:

* ``store_batch`` stores every document of a batch (one write each, into
  the collection the store's layout gives it) and records each document's
  outcome (stored | duplicate, the store's answer). Anything that
  failed is retried, with the consumer's back-off, until it is written;
  a document whose partition was revoked meanwhile is dropped. With the
  unsafe ``on_store_error=skip`` a failed
  document is given up as ``failed`` instead. False means the consumer is
  stopping and the batch was abandoned unstored.
* ``send_dlq`` produces each invalid record of a still-assigned partition
  to the DLQ topic with the ``wiber.*`` headers and waits until every one
  is acknowledged, retrying the same way; False means stopping.
* Between attempts both call ``RetryPacer.wait_between_attempts``, which
  keeps the consumer polling (and in its group) with its partitions paused.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from confluent_kafka import KafkaException

from wiber import failpoints
from wiber.consumer.batch import TP, Batch, Record, tp_of
from wiber.metrics import CONSUMER_DLQ, CONSUMER_RETRIES, CONSUMER_STORE_SECONDS
from wiber.settings import Settings
from wiber.store import InsertOutcome, stamp_stored

log = logging.getLogger("wiber.consumer")


class BatchStore(Protocol):
    """The store side the consumer uses (``wiber.store.Store``)."""

    def insert_batch(self, docs: list[dict[str, Any]], /) -> InsertOutcome: ...

    def ensure_indexes(self) -> None: ...

    def close(self) -> None: ...


class RetryPacer(Protocol):
    """What a retried write needs from the consumer loop."""

    @property
    def revoked(self) -> set[TP]:
        """Partitions revoked since the batch began (their records are dropped)."""
        ...

    def wait_between_attempts(self, attempt: int) -> bool:
        """Back off (paused, polling); False when the consumer is stopping."""
        ...

    def resume(self) -> None:
        """Resume the partitions paused by the waits (if any)."""
        ...


# --- the store ----------------------------------------------------------------------
def store_batch(pacer: RetryPacer, store: BatchStore, on_error: str, batch: Batch) -> bool:
    """Store every doc (see module promises); False if abandoned."""
    docs, recs, outcome = batch.docs, batch.doc_records, batch.outcome
    pending = list(range(len(docs)))  # not yet known to be stored
    attempt = 0
    while True:
        keep = pacer.revoked
        pending = [i for i in pending if tp_of(recs[i]) not in keep]
        if not pending:
            pacer.resume()
            return True
        pending, reason = attempt_writes(store, docs, pending, outcome)
        if not pending:
            continue
        if on_error == "skip":
            log.error("UNSAFE skip: committing past %d unstored records: %s", len(pending), reason)
            for i in pending:
                outcome[i] = "failed"
            pacer.resume()
            return True
        attempt += 1
        CONSUMER_RETRIES.inc()
        log.warning(
            "store write failed for %d records (attempt %d), retrying: %s",
            len(pending),
            attempt,
            reason,
        )
        if not pacer.wait_between_attempts(attempt):
            log.warning("stopping: abandoning an unstored batch (it will be redelivered)")
            return False


def attempt_writes(
    store: BatchStore,
    docs: list[dict[str, Any]],
    pending: list[int],
    outcome: dict[int, str],
) -> tuple[list[int], str]:
    """One try at the write; the indexes still to do and why (empty: done)."""
    try:
        failpoints.hit("consumer.before_store")
    except failpoints.FailpointError as e:
        return pending, str(e)
    now = time.time_ns()
    for i in pending:
        stamp_stored(docs[i], now)
    t0 = time.perf_counter()
    res = store.insert_batch([docs[i] for i in pending])
    CONSUMER_STORE_SECONDS.observe(time.perf_counter() - t0)
    for j in res.inserted:
        outcome[pending[j]] = "stored"
    for j in res.duplicates:
        outcome[pending[j]] = "duplicate"
    reason = next(iter(res.failed.values()), "")
    return [pending[j] for j in sorted(res.failed)], reason


# --- the DLQ ------------------------------------------------------------------------
def dlq_config(s: Settings) -> dict[str, Any]:
    """librdkafka settings of the DLQ producer (idempotent, acks=all, no linger)."""
    return {
        "bootstrap.servers": s.kafka_bootstrap,
        "client.id": f"{s.consumer_id}-dlq",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 0,
        "logger": logging.getLogger("wiber.kafka.dlq"),
    }


def send_dlq(
    pacer: RetryPacer, producer: Any, invalid: list[tuple[Record, str]], s: Settings
) -> bool:
    """Every invalid record of a still-assigned partition into the DLQ (see module promises)."""
    attempt = 0
    while True:
        todo = [(m, why) for m, why in invalid if tp_of(m) not in pacer.revoked]
        errors = _produce_dlq(producer, todo, s)
        left = producer.flush(10)  # delivery reports append to ``errors`` meanwhile
        if not errors and not left:
            CONSUMER_DLQ.inc(len(todo))
            if todo:
                m, why = todo[0]
                log.warning(
                    "%d invalid records sent to %s; first %s/%d@%d: %s",
                    len(todo),
                    s.dlq_topic,
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    why,
                )
            return True
        attempt += 1
        log.warning("DLQ write failed (attempt %d): %s", attempt, errors[:1] or f"{left} unsent")
        if not pacer.wait_between_attempts(attempt):
            return False


def _produce_dlq(producer: Any, todo: list[tuple[Record, str]], s: Settings) -> list[str]:
    """Produce ``todo``; the errors so far (the delivery reports add theirs later)."""
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err.str())

    for m, why in todo:
        headers = [
            ("wiber.error", why.encode()),
            ("wiber.original.topic", m.topic().encode()),
            ("wiber.original.partition", str(m.partition()).encode()),
            ("wiber.original.offset", str(m.offset()).encode()),
            ("wiber.consumer", s.consumer_id.encode()),
        ]
        try:
            producer.produce(
                s.dlq_topic, key=m.key(), value=m.value(), headers=headers, on_delivery=on_delivery
            )
        except (BufferError, KafkaException) as e:
            errors.append(str(e))
    return errors


__all__ = [
    "BatchStore",
    "RetryPacer",
    "attempt_writes",
    "dlq_config",
    "send_dlq",
    "store_batch",
]
