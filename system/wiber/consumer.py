"""The Wiber consumer: Kafka topic -> store, at least once, never committing ahead of the store.

Run: ``python -m wiber.consumer`` (settings from ``WIBER_*``; exit 0 after
SIGTERM/SIGINT, 2 on bad settings, 137 on a failpoint crash).

Promises (with the safe defaults):

* Offsets are committed synchronously, per partition, only up to records
  whose batch was durably stored (``insert_many(ordered=False)``; duplicate
  key errors count as success) and whose invalid records reached the DLQ.
  A crash at any instant therefore loses nothing: at worst the batch is
  delivered again and stored as duplicates (``duplicate`` outcome).
* On any other store error the batch is retried with capped exponential
  backoff, forever; nothing is committed or skipped meanwhile. During the
  retries all assigned partitions are paused and the consumer keeps
  polling, so it stays in the group (no ``max.poll.interval.ms`` expiry)
  and serves rebalances.
* On partition revocation, offsets stored-but-uncommitted for those
  partitions are committed first; records of a revoked partition still
  waiting for the store are dropped (the new owner reads them again from
  the committed offset). Lost partitions (session expired) are dropped
  without a commit.
* Within one batch, records carrying the same ``messageId`` are written
  once (the first in log order); later ones are ``duplicate``.
* Invalid records (not JSON, missing fields ...) go to the DLQ topic with
  headers ``wiber.error``, ``wiber.original.topic``,
  ``wiber.original.partition``, ``wiber.original.offset`` and
  ``wiber.consumer``; then they are committed past.
* SIGTERM: finish the current batch (store, commit), commit, leave the
  group, exit 0. If the store is down at that moment the batch is
  abandoned uncommitted (it will be redelivered).

Unsafe modes (logged as ``UNSAFE setting ...``): ``commit_mode=auto``
lets librdkafka commit what ``consume()`` returned, stored or not;
``on_store_error=skip`` commits past a failed write (``failed`` outcome).
"""

from __future__ import annotations

import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # the class admin re-exports without __all__

from wiber import failpoints
from wiber.deliverylog import DeliveryLog
from wiber.logs import setup_logging
from wiber.metrics import (
    CONSUMER_BATCH,
    CONSUMER_COMMITS,
    CONSUMER_DLQ,
    CONSUMER_LAG,
    CONSUMER_REBALANCES,
    CONSUMER_RECORDS,
    CONSUMER_REDELIVERIES,
    CONSUMER_RETRIES,
    CONSUMER_STORE_SECONDS,
)
from wiber.model import InvalidRecord, parse_record
from wiber.settings import Settings, SettingsError, load_settings
from wiber.store import InsertOutcome, Store, make_document, stamp_stored

log = logging.getLogger("wiber.consumer")

TP = tuple[str, int]
LAG_INTERVAL_S = 2.0
COMMIT_RETRY_INTERVAL_S = 1.0


def consumer_config(s: Settings) -> dict[str, Any]:
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


def _tp(m: Any) -> TP:
    return (m.topic(), m.partition())


def _message_id_of(value: bytes | None) -> str | None:
    """Best effort: the messageId an invalid record carries, for the delivery log."""
    try:
        import orjson

        d = orjson.loads(value or b"")
        v = d.get("messageId") if isinstance(d, dict) else None
        return v if isinstance(v, str) else None
    except Exception:
        return None


class WiberConsumer:
    """One consumer process's loop; factories are injectable for tests."""

    def __init__(
        self,
        settings: Settings,
        store: Any = None,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.s = settings
        self.auto = settings.consumer_commit_mode == "auto"
        self.unique = settings.store_unique_index
        self.store = store if store is not None else Store(settings, app_name=settings.consumer_id)
        self.dlog = DeliveryLog(settings.delivery_log, settings.consumer_id)
        self._consumer_factory = consumer_factory
        self._producer_factory = producer_factory
        self.consumer: Any = None
        self._dlq: Any = None
        self._stopping = False
        self._uncommitted: dict[TP, int] = {}
        self._revoked: set[TP] = set()
        self._paused = False
        self._carry: list[Any] = []
        self._next_lag = 0.0
        self._next_commit_retry = 0.0
        self._lag_labels: set[str] = set()
        failpoints.REGISTRY.on_crash(self.dlog.flush)

    def request_stop(self, *_: object) -> None:
        if not self._stopping:
            log.info("stop requested: finishing the current batch")
        self._stopping = True

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

    def _poll(self, want: int, timeout: float) -> list[Any]:
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
    def _handle_batch(self, msgs: list[Any]) -> None:
        self._revoked = set()
        CONSUMER_BATCH.observe(len(msgs))
        docs: list[dict[str, Any]] = []
        doc_msgs: list[Any] = []
        first: dict[str, int] = {}  # messageId -> index in docs
        repeats: list[tuple[Any, int]] = []
        invalid: list[tuple[Any, str]] = []
        now = time.time_ns()
        for m in msgs:
            try:
                msg = parse_record(m.value())
            except InvalidRecord as e:
                invalid.append((m, str(e)))
                continue
            if self.unique and msg.messageId in first:
                repeats.append((m, first[msg.messageId]))
                continue
            first[msg.messageId] = len(docs)
            docs.append(
                make_document(
                    msg, m.partition(), m.offset(), id_is_message_id=self.unique, now_ns=now
                )
            )
            doc_msgs.append(m)
        outcome: dict[int, str] = {}
        if not self._store(docs, doc_msgs, outcome):
            return
        if invalid and not self._send_dlq(invalid):
            return
        revoked = self._revoked
        for i, m in enumerate(doc_msgs):
            if _tp(m) not in revoked and i in outcome:
                self._record(m, docs[i]["messageId"], outcome[i])
        for m, i in repeats:
            if _tp(m) not in revoked and i in outcome:
                o = "failed" if outcome[i] == "failed" else "duplicate"
                self._record(m, docs[i]["messageId"], o)
        for m, _ in invalid:
            if _tp(m) not in revoked:
                self._record(m, _message_id_of(m.value()), "dlq")
        self.dlog.flush()
        failpoints.hit("consumer.after_store_before_commit")
        if not self.auto:
            for m in msgs:
                tp = _tp(m)
                if tp not in revoked:
                    self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), m.offset() + 1)
            self._commit()
        failpoints.hit("consumer.after_commit")

    def _record(self, m: Any, message_id: str | None, outcome: str) -> None:
        CONSUMER_RECORDS.labels(outcome).inc()
        if outcome == "duplicate":
            CONSUMER_REDELIVERIES.inc()
        self.dlog.add(m.partition(), m.offset(), message_id, outcome)

    def _store(
        self, docs: list[dict[str, Any]], doc_msgs: list[Any], outcome: dict[int, str]
    ) -> bool:
        """Store every doc, then its read-view copy (outcome per index); False if abandoned.

        The outcome (stored | duplicate) is the messages collection's answer;
        the read-view write (a no-op without buckets) is retried the same way
        and also done for duplicates, which repairs a crash between the two.
        """
        pending = list(range(len(docs)))  # not yet in the messages collection
        view: list[int] = []  # in the messages collection, not yet in the read view
        attempt = 0
        while True:
            keep = self._revoked
            pending = [i for i in pending if _tp(doc_msgs[i]) not in keep]
            view = [i for i in view if _tp(doc_msgs[i]) not in keep]
            if not pending and not view:
                self._resume()
                return True
            failed, reason = self._attempt(docs, pending, view, outcome)
            if not failed:
                pending, view = [], []
                continue
            pending = [i for i in failed if i not in outcome]
            view = [i for i in failed if i in outcome]
            if self.s.consumer_on_store_error == "skip":
                log.error(
                    "UNSAFE skip: committing past %d unstored records: %s", len(pending), reason
                )
                for i in pending:
                    outcome[i] = "failed"
                self._resume()
                return True
            attempt += 1
            CONSUMER_RETRIES.inc()
            log.warning(
                "store write failed for %d records (attempt %d), retrying: %s",
                len(failed),
                attempt,
                reason,
            )
            if not self._wait_between_attempts(attempt):
                log.warning("stopping: abandoning an unstored batch (it will be redelivered)")
                return False

    def _attempt(
        self,
        docs: list[dict[str, Any]],
        pending: list[int],
        view: list[int],
        outcome: dict[int, str],
    ) -> tuple[list[int], str]:
        """One try at both writes; the indexes still to do and why (empty: done)."""
        try:
            failpoints.hit("consumer.before_store")
        except failpoints.FailpointError as e:
            return pending + view, str(e)
        now = time.time_ns()
        for i in pending:
            stamp_stored(docs[i], now)
        t0 = time.perf_counter()
        res = self.store.insert_batch([docs[i] for i in pending]) if pending else InsertOutcome()
        for j in res.inserted:
            outcome[pending[j]] = "stored"
        for j in res.duplicates:
            outcome[pending[j]] = "duplicate"
        reason = next(iter(res.failed.values()), "")
        failed = [pending[j] for j in sorted(res.failed)]
        todo = view + [pending[j] for j in res.inserted + res.duplicates]
        vres = self.store.insert_view([docs[i] for i in todo]) if todo else InsertOutcome()
        CONSUMER_STORE_SECONDS.observe(time.perf_counter() - t0)
        failed += [todo[j] for j in sorted(vres.failed)]
        reason = reason or next(iter(vres.failed.values()), "")
        return failed, reason

    def _send_dlq(self, invalid: list[tuple[Any, str]]) -> bool:
        if self._dlq is None:
            self._dlq = self._producer_factory(
                {
                    "bootstrap.servers": self.s.kafka_bootstrap,
                    "client.id": f"{self.s.consumer_id}-dlq",
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 0,
                    "logger": logging.getLogger("wiber.kafka.dlq"),
                }
            )
        attempt = 0
        while True:
            todo = [(m, why) for m, why in invalid if _tp(m) not in self._revoked]
            errors: list[str] = []

            def on_delivery(err: Any, _msg: Any, errors: list[str] = errors) -> None:
                if err is not None:
                    errors.append(err.str())

            for m, why in todo:
                headers = [
                    ("wiber.error", why.encode()),
                    ("wiber.original.topic", m.topic().encode()),
                    ("wiber.original.partition", str(m.partition()).encode()),
                    ("wiber.original.offset", str(m.offset()).encode()),
                    ("wiber.consumer", self.s.consumer_id.encode()),
                ]
                try:
                    self._dlq.produce(
                        self.s.dlq_topic,
                        key=m.key(),
                        value=m.value(),
                        headers=headers,
                        on_delivery=on_delivery,
                    )
                except (BufferError, KafkaException) as e:
                    errors.append(str(e))
            left = self._dlq.flush(10)
            if not errors and not left:
                CONSUMER_DLQ.inc(len(todo))
                if todo:
                    m, why = todo[0]
                    log.warning(
                        "%d invalid records sent to %s; first %s/%d@%d: %s",
                        len(todo),
                        self.s.dlq_topic,
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        why,
                    )
                return True
            attempt += 1
            log.warning(
                "DLQ write failed (attempt %d): %s", attempt, errors[:1] or f"{left} unsent"
            )
            if not self._wait_between_attempts(attempt):
                return False

    def _wait_between_attempts(self, attempt: int) -> bool:
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

    def _resume(self) -> None:
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
        self._carry = [m for m in self._carry if _tp(m) not in tps]

    # --- observability ------------------------------------------------------------------
    def _is_error(self, m: Any) -> bool:
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


def main() -> None:
    try:
        s = load_settings()
    except SettingsError as e:
        print(f"wiber.consumer: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(s.log_format, s.log_level, "consumer")
    for w in s.unsafe_warnings():
        log.warning(w)
    try:
        failpoints.configure(s.failpoints, s.failpoints_file)
    except failpoints.FailpointSpecError as e:
        print(f"wiber.consumer: WIBER_FAILPOINTS: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if s.metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(s.metrics_port, addr=s.metrics_host)
        except OSError as e:
            print(f"wiber.consumer: WIBER_METRICS_PORT={s.metrics_port}: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    app = WiberConsumer(s)
    signal.signal(signal.SIGTERM, app.request_stop)
    signal.signal(signal.SIGINT, app.request_stop)
    raise SystemExit(app.run())


if __name__ == "__main__":
    main()


__all__ = ["WiberConsumer", "consumer_config", "main"]
