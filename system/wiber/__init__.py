"""wiber: the Wiber messaging pipeline (REST API -> Kafka -> consumer -> store).

Promises, kept under faults (broker kill, consumer kill -9 at any instant,
store outage, network partition):

1. at-least-once end to end: a message answered 201 is stored;
2. none stored twice: dedup by ``messageId`` (unique index); a retry with
   the same idempotency key yields the same ``messageId``;
3. per-conversation order: a conversation (the unordered user pair) lives
   in one Kafka partition and reads back in log order (partition, offset).

Modules (each docstring is its spec):

* ``wiber.settings``: every ``WIBER_*`` knob, unsafe values, validation;
* ``wiber.model``: conversation ids, message ids, request rules, record codec;
* ``wiber.producer``: asyncio bridge over confluent-kafka delivery reports;
* ``wiber.api``: the FastAPI app (``python -m uvicorn wiber.api:app``), a
  package: ``runtime`` (lifespan, the parts' protocols), the routers
  ``messages`` and ``ops``, ``bodies``, ``produce``, ``errors``, ``middleware``;
* ``wiber.consumer``: Kafka -> store, commit after store (``python -m wiber.consumer``),
  a package: ``loop`` (polling, commits, rebalances), ``batch`` (records ->
  documents), ``writes`` (store and DLQ writes, retried);
* ``wiber.store``: the layout (one write per message), indexes, classified inserts;
* ``wiber.deliverylog``: the consumer's JSON-lines delivery log;
* ``wiber.failpoints``: named fault-injection points;
* ``wiber.metrics``, ``wiber.logs``: Prometheus metrics and log format.

Nothing is imported here, so ``import wiber`` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
