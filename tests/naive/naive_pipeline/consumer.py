"""Naive consumer: Kafka -> MongoDB, committing BEFORE storing, skipping failed writes.

Run: ``python -m naive_pipeline.consumer`` with ``NAIVE_BOOTSTRAP``,
``NAIVE_MONGO``, ``NAIVE_TOPIC``, ``NAIVE_GROUP``, ``NAIVE_DB``,
``NAIVE_COLL``, ``NAIVE_NAME`` and optionally ``NAIVE_DELIVERY_LOG`` (the
harness's delivery-log line format) set.

The bug, on purpose: each batch's offsets are committed first, then the
batch is written; a write that fails (store unreachable) is logged and
skipped. Any store outage therefore loses every record consumed during it,
and a crash between the commit and the write loses the batch. Stored
documents: ``{msgId, conv, sender, recipient, text, cid, p, o, ts}`` (``p``,
``o``: Kafka partition and offset; ``ts``: epoch ns of the write).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import pymongo
from confluent_kafka import Consumer

BATCH = 100


def main() -> None:
    env = os.environ
    name = env.get("NAIVE_NAME", "naive")
    stop = False

    def on_term(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    consumer = Consumer(
        {
            "bootstrap.servers": env["NAIVE_BOOTSTRAP"],
            "group.id": env["NAIVE_GROUP"],
            "client.id": name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
            "log_level": 3,
        }
    )
    consumer.subscribe([env["NAIVE_TOPIC"]])
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        env["NAIVE_MONGO"],
        serverSelectionTimeoutMS=2000,
        connectTimeoutMS=2000,
        socketTimeoutMS=5000,
    )
    coll = client[env["NAIVE_DB"]][env["NAIVE_COLL"]]
    log_path = env.get("NAIVE_DELIVERY_LOG")
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 (open for the process's life)
    while not stop:
        msgs = [m for m in consumer.consume(BATCH, 0.5) if m.error() is None]
        if not msgs:
            continue
        consumer.commit(asynchronous=False)  # the bug: committed before anything is stored
        docs = []
        for m in msgs:
            raw = m.value()
            assert raw is not None  # the API writes every record with a value
            d = json.loads(raw)
            docs.append({**d, "p": m.partition(), "o": m.offset(), "ts": time.time_ns()})
        try:
            coll.insert_many(docs, ordered=False)
            outcome = "stored"
        except pymongo.errors.PyMongoError as e:
            print(f"{name}: store write failed, skipping {len(docs)} records: {e}", file=sys.stderr)
            outcome = "failed"
        if log is not None:
            now = time.time_ns()
            log.write(
                b"".join(
                    json.dumps(
                        {
                            "consumer": name,
                            "partition": d["p"],
                            "offset": d["o"],
                            "messageId": d["msgId"],
                            "time": now,
                            "outcome": outcome,
                        }
                    ).encode()
                    + b"\n"
                    for d in docs
                )
            )
            log.flush()
    consumer.close()
    client.close()


if __name__ == "__main__":
    main()
