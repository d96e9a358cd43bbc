"""What the API answers, as models for its OpenAPI document (documentation only).

Promise: for every route, ``RESPONSES`` documents each status the route
can answer with the JSON shape it answers it with, so a schema-driven
client or fuzzer (tests/integration/test_api_fuzz.py) can check real
answers against the document. The routes build their bodies themselves
(``wiber.api.messages``, ``produce``, ``ops``, ``errors``); these models
never run on a request. Unknown extra fields are allowed in every shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class DetailOut(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every error: ``error`` is a code word, ``message`` a sentence."""

    error: str
    message: str
    details: list[DetailOut] = Field(default_factory=list, description="Absent on 503/504.")
    messageId: str | None = Field(None, description="503 not_sent and 504: the id it would have.")


class MessageOut(BaseModel):
    """A message Kafka acknowledged, and where it went."""

    messageId: str
    conversationId: str
    fromUser: str
    toUser: str
    content: str
    timestamp: str
    clientMessageId: str | None
    partition: int
    offset: int


class BatchItemOut(BaseModel):
    """One item's outcome: 201 with the MessageOut fields, or 503/504 with ErrorOut's."""

    index: int
    status: Literal[201, 503, 504]
    messageId: str
    error: str | None = None
    message: str | None = None


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class ConversationOut(BaseModel):
    conversationId: str
    messages: list[dict[str, Any]]
    count: int
    nextCursor: str | None


class LivenessOut(BaseModel):
    status: Literal["ok"]


Reason = Literal["ok", "not_running", "unavailable", "timeout", "error"]


class ReadinessOut(BaseModel):
    kafka: Reason
    store: Reason
    status: Literal["ready", "not ready"]
    message: str | None = Field(None, description="When not ready: which parts are down.")


class FailpointsOut(BaseModel):
    rules: dict[str, str]
    hits: dict[str, int]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorOut, "description": _WHY[s]} for s in statuses}


_WHY = {
    400: "The body is not JSON.",
    404: "Off (a setting turns it on).",
    413: "The body is over the route's cap, or over what its messages can take.",
    422: "Invalid input; details name each field.",
    500: "A bug or a failpoint after the produce: the outcome is unknown.",
    503: "Nothing happened (not sent, store down, or too many large bodies): retry later.",
    504: "The outcome is unknown: retry with the same Idempotency-Key.",
}

RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "post_message": {
        201: {"model": MessageOut, "description": "Kafka acknowledged it."},
        **_errors(400, 413, 422, 500, 503, 504),
    },
    "post_batch": {
        201: {"model": BatchOut, "description": "Every item was acknowledged."},
        207: {"model": BatchOut, "description": "Some items were not (see each status)."},
        **_errors(400, 413, 422, 500, 503),
    },
    "get_conversation": {
        200: {"model": ConversationOut, "description": "One page, in log order."},
        **_errors(422, 500, 503, 504),
    },
    "liveness": {200: {"model": LivenessOut, "description": "The process serves."}},
    "readiness": {
        200: {"model": ReadinessOut, "description": "Kafka and the store answer."},
        503: {"model": ReadinessOut, "description": "A part is down."},
    },
    "metrics": {
        200: {
            "description": "Prometheus text.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    "get_failpoints": {
        200: {"model": FailpointsOut, "description": "The runtime failpoints."},
        **_errors(404),
    },
    "put_failpoints": {
        200: {"model": FailpointsOut, "description": "Set."},
        **_errors(400, 404, 413, 422, 503),
    },
}

__all__ = ["RESPONSES", "ErrorOut", "MessageOut"]
