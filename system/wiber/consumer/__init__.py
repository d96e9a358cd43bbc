"""The Wiber consumer: Kafka topic -> store, at least once, never committing ahead of the store.

Run: ``python -m wiber.consumer`` (settings from ``WIBER_*``; exit 0 after
SIGTERM/SIGINT, 2 on bad settings, 137 on a failpoint crash).

Promises (with the safe defaults):

* Offsets are committed synchronously, per partition, only up to records
  whose batch was durably stored (``insert_many(ordered=False)``; duplicate
  key errors count as success) and whose invalid records reached the DLQ.
  A crash at any instant therefore loses nothing: at worst the batch is
  delivered again and stored as duplicates (``duplicate`` outcome).
  With ``WIBER_CONSUMER_COMMIT_INTERVAL_MS`` > 0 the stored offsets are
  committed after a batch only once that long has passed since the last
  commit (and whenever a poll finds nothing): fewer commits, and a crash
  redelivers up to that long of stored batches instead of one.
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

Modules: ``loop`` (``WiberConsumer``: polling, commits, rebalances),
``batch`` (records -> documents, in-batch duplicates, invalid records),
``writes`` (the store and DLQ writes and their retries).
"""

from __future__ import annotations

import logging
import signal
import sys

from wiber import failpoints
from wiber.consumer.loop import WiberConsumer, consumer_config
from wiber.logs import setup_logging
from wiber.settings import SettingsError, load_settings

log = logging.getLogger("wiber.consumer")


def main() -> None:
    """``python -m wiber.consumer``: run one consumer until SIGTERM/SIGINT."""
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


__all__ = ["WiberConsumer", "consumer_config", "main"]
