"""Naive API: ``POST /v1/send`` into Kafka, ``GET /v1/conv/{a}/{b}`` from MongoDB.

Run: ``python -m uvicorn naive_pipeline.api:app`` with ``NAIVE_BOOTSTRAP``,
``NAIVE_MONGO``, ``NAIVE_TOPIC``, ``NAIVE_DB``, ``NAIVE_COLL`` set (the
harness fills them from ``naive.toml``).

* ``POST /v1/send`` body ``{from, to, text, id}`` (``id``: the client's
  key). 201 ``{msgId, conv}`` once Kafka acknowledged (acks=all); 503 when
  the record never left (producer queue full); 504 when no acknowledgement
  came in time or delivery failed (unknown). No idempotency: every request
  gets a fresh ``msgId``.
* ``GET /v1/conv/{a}/{b}?limit=N&after=K``: the conversation's stored
  documents sorted by (``p``, ``o``), from position ``K``; body ``{items,
  next}`` (``next`` null at the end).
* ``GET /v1/health``: 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pymongo
from confluent_kafka import KafkaException, Producer
from fastapi import FastAPI
from fastapi.responses import JSONResponse

TIMEOUT_S = 10.0


class _State:
    producer: Any = None
    coll: Any = None
    running = True


state = _State()


async def _poll_forever() -> None:
    # Delivery callbacks run on the loop thread: a poll thread would wait for
    # the GIL once per report, which under load adds seconds of latency.
    while state.running:
        state.producer.poll(0)
        await asyncio.sleep(0.002)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state.producer = Producer(
        {
            "bootstrap.servers": os.environ["NAIVE_BOOTSTRAP"],
            "acks": "all",
            "linger.ms": 5,
            "log_level": 3,
        }
    )
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        os.environ["NAIVE_MONGO"], serverSelectionTimeoutMS=3000
    )
    state.coll = client[os.environ["NAIVE_DB"]][os.environ["NAIVE_COLL"]]
    poller = asyncio.create_task(_poll_forever())
    yield
    state.running = False
    with contextlib.suppress(asyncio.CancelledError):
        await poller
    state.producer.flush(5)
    client.close()


app = FastAPI(lifespan=lifespan)


def conversation(a: str, b: str) -> str:
    return ":".join(sorted((a, b)))


@app.post("/v1/send")
async def send(body: dict[str, Any]) -> JSONResponse:
    try:
        sender, recipient, text = str(body["from"]), str(body["to"]), str(body["text"])
    except KeyError as e:
        return JSONResponse({"error": f"missing {e}"}, status_code=422)
    conv = conversation(sender, recipient)
    doc = {
        "msgId": uuid.uuid4().hex,
        "conv": conv,
        "sender": sender,
        "recipient": recipient,
        "text": text,
        "cid": body.get("id"),
    }
    done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    def delivered(err: Any, msg: Any) -> None:
        if not done.done():
            done.set_result(None if err is None else str(err))

    try:
        state.producer.produce(
            os.environ["NAIVE_TOPIC"],
            json.dumps(doc).encode(),
            conv.encode(),
            on_delivery=delivered,
        )
    except (BufferError, KafkaException) as e:
        return JSONResponse({"error": str(e)}, status_code=503)
    try:
        err = await asyncio.wait_for(done, TIMEOUT_S)
    except TimeoutError:
        return JSONResponse(
            {"error": "no acknowledgement in time", "msgId": doc["msgId"]}, status_code=504
        )
    if err is not None:
        return JSONResponse({"error": err, "msgId": doc["msgId"]}, status_code=504)
    return JSONResponse({"msgId": doc["msgId"], "conv": conv}, status_code=201)


@app.get("/v1/conv/{a}/{b}")
def read(a: str, b: str, limit: int = 100, after: int = 0) -> dict[str, Any]:
    docs = list(
        state.coll.find({"conv": conversation(a, b)}, {"_id": 0})
        .sort([("p", 1), ("o", 1)])
        .skip(after)
        .limit(limit + 1)
    )
    more = len(docs) > limit
    return {"items": docs[:limit], "next": str(after + limit) if more else None}


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
