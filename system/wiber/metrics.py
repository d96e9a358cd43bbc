"""Prometheus metrics of the API and the consumer (one process uses one half).

API (served at ``GET /metrics``):

* ``wiber_api_requests_total{route,method,status}``: answered requests,
  ``route`` being the route template (``/messages/{user1}/{user2}``);
* ``wiber_api_produce_seconds``: time from ``produce()`` to the broker's
  acknowledgement (or failure), per record;
* ``wiber_api_produce_outcomes_total{outcome}``: acked | not_sent | unknown;
* ``wiber_api_inflight_produces``: records produced and not yet answered.

Consumer (served on ``WIBER_METRICS_PORT``):

* ``wiber_consumer_lag{partition}``: high watermark minus position, per
  assigned partition, refreshed every couple of seconds;
* ``wiber_consumer_batch_size``: records per batch;
* ``wiber_consumer_store_write_seconds``: one ``insert_many`` attempt;
* ``wiber_consumer_store_retries_total``: failed attempts that were retried;
* ``wiber_consumer_records_total{outcome}``: stored | duplicate | dlq | failed;
* ``wiber_consumer_dlq_total``: records sent to the dead-letter topic;
* ``wiber_consumer_redeliveries_total``: records the store already held
  (a redelivery after a crash or rebalance, or a client resend);
* ``wiber_consumer_commits_total{result}``: ok | failed;
* ``wiber_consumer_rebalances_total{kind}``: assign | revoke | lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# The *_created series double the exposition size and nobody reads them.
# (prometheus_client leaves this one function unannotated.)
cast(Callable[[], None], disable_created_metrics)()

_LAT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

API_REQUESTS = Counter(
    "wiber_api_requests_total", "Answered API requests", ["route", "method", "status"]
)
API_PRODUCE_SECONDS = Histogram(
    "wiber_api_produce_seconds", "produce() to broker acknowledgement", buckets=_LAT_BUCKETS
)
API_PRODUCE_OUTCOMES = Counter("wiber_api_produce_outcomes_total", "Produce outcomes", ["outcome"])
API_INFLIGHT = Gauge("wiber_api_inflight_produces", "Records produced and not yet answered")


def observe_many(h: Histogram, amount: float, n: int) -> None:
    """Record ``n`` observations of ``amount`` in ``h``: what ``n`` ``observe`` calls record.

    The records of one batch share their produce time; one observe costs
    three lock round trips (several µs on a busy machine), so a batch of
    50 would pay for 150 of them. Two additions give the same count and
    buckets, and the sum up to float rounding
    (tests/unit/test_wiber_metrics_many.py compares the exposition); a
    prometheus_client without the fields this reads gets the ``n`` calls.
    """
    bounds = getattr(h, "_upper_bounds", None)
    buckets = getattr(h, "_buckets", None)
    total = getattr(h, "_sum", None)
    if bounds is None or buckets is None or total is None or h._labelnames:
        for _ in range(n):
            h.observe(amount)
        return
    total.inc(amount * n)
    for bound, bucket in zip(bounds, buckets, strict=True):
        if amount <= bound:
            bucket.inc(n)
            break


CONSUMER_LAG = Gauge("wiber_consumer_lag", "Records behind the high watermark", ["partition"])
CONSUMER_BATCH = Histogram(
    "wiber_consumer_batch_size",
    "Records per batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
CONSUMER_STORE_SECONDS = Histogram(
    "wiber_consumer_store_write_seconds", "One insert_many attempt", buckets=_LAT_BUCKETS
)
CONSUMER_RETRIES = Counter("wiber_consumer_store_retries_total", "Store attempts retried")
CONSUMER_RECORDS = Counter("wiber_consumer_records_total", "Records handled", ["outcome"])
CONSUMER_DLQ = Counter("wiber_consumer_dlq_total", "Records sent to the dead-letter topic")
CONSUMER_REDELIVERIES = Counter(
    "wiber_consumer_redeliveries_total", "Records the store already held"
)
CONSUMER_COMMITS = Counter("wiber_consumer_commits_total", "Offset commits", ["result"])
CONSUMER_REBALANCES = Counter("wiber_consumer_rebalances_total", "Rebalance events", ["kind"])

__all__ = [
    "API_INFLIGHT",
    "API_PRODUCE_OUTCOMES",
    "API_PRODUCE_SECONDS",
    "API_REQUESTS",
    "CONSUMER_BATCH",
    "CONSUMER_COMMITS",
    "CONSUMER_DLQ",
    "CONSUMER_LAG",
    "CONSUMER_REBALANCES",
    "CONSUMER_RECORDS",
    "CONSUMER_REDELIVERIES",
    "CONSUMER_RETRIES",
    "CONSUMER_STORE_SECONDS",
    "observe_many",
]
