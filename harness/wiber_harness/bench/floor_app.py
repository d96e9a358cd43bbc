"""The HTTP floor: Wiber's routes with Wiber's request models and nothing behind them.

``POST /messages`` and ``POST /messages/batch`` parse the body with the very
pydantic models of :mod:`wiber.api` (:class:`~wiber.api.MessageIn`,
:class:`~wiber.api.BatchIn`), derive the ``messageId`` and conversation id
as Wiber does, and answer 201 with a body of Wiber's shape (``messageId,
conversationId, fromUser, toUser, content, timestamp, clientMessageId,
partition, offset``; batches ``{results: [{index, status, ...}]}``), with no
Kafka, store, validation rules, metrics or middleware. Served by the same
uvicorn command line as the API (:func:`wiber_harness.bench.floor.floor_argv`),
what one uvicorn worker can answer here is the most the API could ever
acknowledge: the floor of the API ingest efficiency ratio.

``GET /health/readiness`` answers 200 (the bench waits for it, as for the API).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from fastapi import FastAPI, Header
from fastapi.responses import Response

from wiber.api import BatchIn, MessageIn
from wiber.model import conversation_id, derive_message_id, now_iso

app = FastAPI(title="Wiber HTTP floor")
_offsets = itertools.count()


def _answer(m: MessageIn, key: str | None) -> dict[str, Any]:
    k = m.clientMessageId if m.clientMessageId is not None else key
    return {
        "messageId": derive_message_id(m.fromUser, k),
        "conversationId": conversation_id(m.fromUser, m.toUser),
        "fromUser": m.fromUser,
        "toUser": m.toUser,
        "content": m.content,
        "timestamp": now_iso(),
        "clientMessageId": k,
        "partition": 0,
        "offset": next(_offsets),
    }


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@app.post("/messages", status_code=201)
async def post_message(
    body: MessageIn, idempotency_key: str | None = Header(None, alias="Idempotency-Key")
) -> Response:
    return _json(201, _answer(body, idempotency_key))


@app.post("/messages/batch", status_code=201)
async def post_batch(
    body: BatchIn, idempotency_key: str | None = Header(None, alias="Idempotency-Key")
) -> Response:
    results = [
        {
            "index": i,
            "status": 201,
            **_answer(m, f"{idempotency_key}:{i}" if idempotency_key is not None else None),
        }
        for i, m in enumerate(body.messages)
    ]
    return _json(201, {"results": results})


@app.get("/health/readiness")
async def readiness() -> Response:
    return _json(200, {"status": "ready"})


__all__ = ["app"]
