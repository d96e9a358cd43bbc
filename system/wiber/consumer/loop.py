"""The consumer loop: poll a batch, store it, commit it; serve rebalances meanwhile.

Promise: ``WiberConsumer`` keeps the promises of ``wiber.consumer`` (its
docstring): it commits a partition's offset only past records that were
stored (or sent to the DLQ) by ``wiber.consumer.writes``, commits
what was stored before a partition is revoked, and pauses its partitions
while a write is retried so that it keeps polling and stays in its group.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the class admin re-exports without __all__

from wiber import failpoints
from wiber.consumer.batch import TP, Record, build_batch, tp_of
from wiber.consumer.writes import BatchStore, dlq_config, send_dlq, store_batch
from wiber.deliverylog import DeliveryLog
from wiber.metrics import (
    CONSUMER_BATCH,
    CONSUMER_COMMITS,
    CONSUMER_LAG,
    CONSUMER_REBALANCES,
    CONSUMER_RECORDS,
    CONSUMER_REDELIVERIES,
)
from wiber.settings import Settings
from wiber.store import Store

log = logging.getLogger("wiber.consumer")

LAG_INTERVAL_S = 2.0
COMMIT_RETRY_INTERVAL_S = 1.0


def consumer_config(s: Settings) -> dict[str, Any]:
    """librdkafka settings of the consumer (explicit offset commits in the safe mode)."""
    auto = s.consumer_commit_mode == "auto"
    return {
        "bootstrap.servers": s.kafka_bootstrap,
        "group.id": s.group,
        "client.id": s.consumer_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": auto,
        # Offsets are committed explicitly; nothing may be stored implicitly.
        "enable.auto.offset.store": auto,
        "session.timeout.ms": s.consumer_session_timeout_ms,
        "heartbeat.interval.ms": max(500, s.consumer_session_timeout_ms // 4),
        "max.poll.interval.ms": s.consumer_max_poll_interval_ms,
        "fetch.wait.max.ms": min(500, max(10, s.consumer_batch_timeout_ms)),
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        "socket.keepalive.enable": True,
        "logger": logging.getLogger("wiber.kafka.consumer"),
    }


class WiberConsumer:
    """One consumer process's loop; factories are injectable for tests."""

    def __init__(
        self,
        settings: Settings,
        store: BatchStore | None = None,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.s = settings
        self.auto = settings.consumer_commit_mode == "auto"
        self.unique = settings.store_unique_index
        self.store: BatchStore = (
            store if store is not None else Store(settings, app_name=settings.consumer_id)
        )
        self.dlog = DeliveryLog(settings.delivery_log, settings.consumer_id)
        self._consumer_factory = consumer_factory
        self._producer_factory = producer_factory
        self.consumer: Any = None
        self._dlq: Any = None
        self._stopping = False
        self._uncommitted: dict[TP, int] = {}
        self._revoked: set[TP] = set()
        self._paused = False
        self._carry: list[Record] = []
        self._next_lag = 0.0
        self._next_commit_retry = 0.0
        self._next_commit = 0.0
        self._lag_labels: set[str] = set()
        failpoints.REGISTRY.on_crash(self.dlog.flush)

    def request_stop(self, *_: object) -> None:
        if not self._stopping:
            log.info("stop requested: finishing the current batch")
        self._stopping = True

    @property
    def revoked(self) -> set[TP]:
        """Partitions revoked since the current batch began."""
        return self._revoked

    # --- lifecycle ---------------------------------------------------------------
    def run(self) -> int:
        self._prepare_store()
        if self._stopping:
            return 0
        self._ensure_topics()
        self.consumer = self._consumer_factory(consumer_config(self.s))
        self.consumer.subscribe(
            [self.s.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("consuming %s as %s in group %s", self.s.topic, self.s.consumer_id, self.s.group)
        try:
            while not self._stopping:
                self._step()
        finally:
            self._shutdown()
        return 0

    def _step(self) -> None:
        size = self.s.consumer_batch_size
        timeout = self.s.consumer_batch_timeout_ms / 1000
        carry, self._carry = self._carry[:size], self._carry[size:]
        want = size - len(carry)
        fresh = self._poll(want, 0 if carry else timeout) if want else []
        msgs = carry + [m for m in fresh if not self._is_error(m)]
        self._maybe_update_lag()
        if not msgs:
            if self._uncommitted and time.monotonic() >= self._next_commit_retry:
                self._commit()
            return
        failpoints.hit("consumer.after_poll")
        self._handle_batch(msgs)

    def _poll(self, want: int, timeout: float) -> list[Record]:
        """Up to ``want`` records: what is already fetched, else the first to
        arrive within ``timeout`` plus whatever came with it.

        A batch is stored as soon as anything is there rather than after
        waiting ``timeout`` for a full one, so at low load a message is not
        held back by the batch timeout; under a backlog the local queue
        already holds ``want`` records and batches stay full.
        """
        got = list(self.consumer.consume(num_messages=want, timeout=0))
        if got or timeout <= 0:
            return got
        got = list(self.consumer.consume(num_messages=1, timeout=timeout))
        if got and want > 1:
            got += self.consumer.consume(num_messages=want - 1, timeout=0)
        return got

    def _shutdown(self) -> None:
        try:
            if self.consumer is not None:
                if not self.auto:
                    self._commit()
                self.consumer.close()
        except Exception:
            log.exception("error while leaving the group")
        if self._dlq is not None:
            self._dlq.flush(5)
        self.dlog.close()
        self.store.close()
        log.info("consumer %s stopped", self.s.consumer_id)

    def _prepare_store(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                self.store.ensure_indexes()
                return
            except Exception as e:
                attempt += 1
                log.error("store not ready (attempt %d): %s", attempt, e)
                time.sleep(min(5.0, 0.2 * 2**attempt))

    def _ensure_topics(self) -> None:
        """Create the topic and the DLQ when missing (best effort; races are fine)."""
        try:
            conf: dict[str, Any] = {
                "bootstrap.servers": self.s.kafka_bootstrap,
                "logger": logging.getLogger("wiber.kafka.admin"),
            }
            admin = AdminClient(conf)
            md = admin.list_topics(timeout=10)
            missing = [t for t in (self.s.topic, self.s.dlq_topic) if t not in md.topics]
            if not missing:
                return
            new = [
                NewTopic(
                    t,
                    num_partitions=self.s.topic_partitions,
                    replication_factor=self.s.topic_replication,
                    config={"min.insync.replicas": str(self.s.topic_min_insync_replicas)},
                )
                for t in missing
            ]
            for t, fut in admin.create_topics(new, request_timeout=10).items():
                try:
                    fut.result()
                    log.info("created topic %s", t)
                except KafkaException as e:
                    log.info("topic %s not created: %s", t, e.args[0])
        except Exception as e:
            log.warning("could not check topics: %s", e)

    # --- one batch -----------------------------------------------------------------
    def _handle_batch(self, msgs: list[Record]) -> None:
        self._revoked = set()
        CONSUMER_BATCH.observe(len(msgs))
        batch = build_batch(msgs, unique=self.unique, now_ns=time.time_ns())
        if not store_batch(self, self.store, self.s.consumer_on_store_error, batch):
            return
        if batch.invalid and not self._send_dlq(batch.invalid):
            return
        revoked = self._revoked
        for m, message_id, outcome in batch.outcomes(revoked):
            self._record(m, message_id, outcome)
        self.dlog.flush()
        failpoints.hit("consumer.after_store_before_commit")
        if not self.auto:
            for m in msgs:
                tp = tp_of(m)
                if tp not in revoked:
                    self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), m.offset() + 1)
            if time.monotonic() >= self._next_commit:
                self._commit()
        failpoints.hit("consumer.after_commit")

    def _record(self, m: Record, message_id: str | None, outcome: str) -> None:
        CONSUMER_RECORDS.labels(outcome).inc()
        if outcome == "duplicate":
            CONSUMER_REDELIVERIES.inc()
        self.dlog.add(m.partition(), m.offset(), message_id, outcome)

    def _send_dlq(self, invalid: list[tuple[Record, str]]) -> bool:
        if self._dlq is None:
            self._dlq = self._producer_factory(dlq_config(self.s))
        return send_dlq(self, self._dlq, invalid, self.s)

    def wait_between_attempts(self, attempt: int) -> bool:
        """Back off while paused and polling (keeps the group alive); False when stopping."""
        if not self._paused:
            assignment = self.consumer.assignment()
            if assignment:
                self.consumer.pause(assignment)
            self._paused = True
        cap = self.s.consumer_retry_max_backoff_ms / 1000
        delay = min(cap, 0.05 * 2**attempt) * random.uniform(0.5, 1.0)
        end = time.monotonic() + delay
        while not self._stopping:
            left = end - time.monotonic()
            if left <= 0:
                return True
            m = self.consumer.poll(min(0.1, left))
            if m is not None and not self._is_error(m):
                self._carry.append(m)  # from a partition assigned meanwhile; next batch
        return False

    def resume(self) -> None:
        if self._paused:
            assignment = self.consumer.assignment()
            if assignment:
                self.consumer.resume(assignment)
            self._paused = False

    # --- commits and rebalances -------------------------------------------------------
    def _commit(self, only: set[TP] | None = None) -> None:
        items = {tp: o for tp, o in self._uncommitted.items() if only is None or tp in only}
        if not items:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in items.items()]
        self._next_commit = time.monotonic() + self.s.consumer_commit_interval_ms / 1000
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            CONSUMER_COMMITS.labels("failed").inc()
            self._next_commit_retry = time.monotonic() + COMMIT_RETRY_INTERVAL_S
            log.warning("offset commit failed (will retry): %s", e.args[0])
            return
        ok = True
        for tp in result or []:
            key = (tp.topic, tp.partition)
            if tp.error is not None:
                ok = False
                log.warning("offset commit failed for %s: %s", key, tp.error)
            elif self._uncommitted.get(key) == tp.offset:
                del self._uncommitted[key]
        CONSUMER_COMMITS.labels("ok" if ok else "failed").inc()
        if not ok:
            self._next_commit_retry = time.monotonic() + COMMIT_RETRY_INTERVAL_S

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Take the partitions and set their pause state explicitly.

        librdkafka keeps a partition's pause flag across revoke and
        re-assignment, so a partition paused during a store retry, revoked,
        and assigned again after the retry ended would stay paused forever
        (never consumed, its records never stored) unless resumed here.
        """
        CONSUMER_REBALANCES.labels("assign").inc()
        log.info("assigned %s", sorted(p.partition for p in partitions))
        consumer.assign(partitions)
        if not partitions:
            return
        if self._paused:
            consumer.pause(partitions)  # still retrying a store write: take nothing new
        else:
            consumer.resume(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        CONSUMER_REBALANCES.labels("revoke").inc()
        tps = {(p.topic, p.partition) for p in partitions}
        log.info("revoked %s", sorted(p for _, p in tps))
        if not self.auto:
            self._commit(only=tps)
        self._forget(tps)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        CONSUMER_REBALANCES.labels("lost").inc()
        tps = {(p.topic, p.partition) for p in partitions}
        log.warning("lost %s (no commit possible)", sorted(p for _, p in tps))
        self._forget(tps)

    def _forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self._uncommitted.pop(tp, None)
            label = str(tp[1])
            if label in self._lag_labels:
                CONSUMER_LAG.remove(label)
                self._lag_labels.discard(label)
        self._revoked |= tps
        self._carry = [m for m in self._carry if tp_of(m) not in tps]

    # --- observability ------------------------------------------------------------------
    def _is_error(self, m: Record) -> bool:
        err = m.error()
        if err is None:
            return False
        log.warning("consumer error: %s", err.str())
        return True

    def _maybe_update_lag(self) -> None:
        now = time.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + LAG_INTERVAL_S
        try:
            assignment = self.consumer.assignment()
            if not assignment:
                return
            for tp in self.consumer.position(assignment):
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset < 0 or high < 0:
                    continue
                label = str(tp.partition)
                CONSUMER_LAG.labels(label).set(max(0, high - tp.offset))
                self._lag_labels.add(label)
        except KafkaException as e:
            log.debug("lag update failed: %s", e)


__all__ = ["WiberConsumer", "consumer_config"]
