"""What clients send: the request models and the rules each message must meet.

Promise: ``parse_body`` turns raw bytes into a model or an ``ApiError``
(400 when the bytes are not JSON, 422 naming each bad field);
``validate_item`` lists every rule a message breaks (never raises) and
settles its idempotency key; ``parse_cursor`` accepts only a position the
store can query. The POST routes parse their bodies with these instead of
FastAPI's body parameters (see ``wiber.api.messages``), so ``body_doc``
documents the bodies for OpenAPI.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

from wiber.api.errors import ApiError, Detail, from_errors
from wiber.model import check_content, check_key, check_user
from wiber.settings import Settings


class MessageIn(BaseModel):
    """One message as a client sends it."""

    model_config = ConfigDict(extra="ignore")

    fromUser: StrictStr
    toUser: StrictStr
    content: StrictStr
    clientMessageId: StrictStr | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[MessageIn]


_M = TypeVar("_M", bound=BaseModel)


def parse_body(model: type[_M], raw: bytes) -> _M:
    """Validate a JSON body straight from bytes (pydantic-core parses it)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise from_errors(e.errors(include_url=False), ("body",)) from None


def validate_item(
    item: MessageIn, header_key: str | None, s: Settings, prefix: str
) -> tuple[str | None, list[Detail]]:
    """The idempotency key of ``item`` and every problem found in it."""
    problems: list[Detail] = []
    for fname, value in (("fromUser", item.fromUser), ("toUser", item.toUser)):
        why = check_user(value, s.max_user_len)
        if why:
            problems.append({"field": f"{prefix}{fname}", "message": f"{fname} {why}"})
    why = check_content(item.content, s.max_content_bytes)
    if why:
        problems.append({"field": f"{prefix}content", "message": f"content {why}"})
    key = item.clientMessageId
    if key is not None:
        why = check_key(key, s.max_key_len)
        if why:
            problems.append(
                {"field": f"{prefix}clientMessageId", "message": f"clientMessageId {why}"}
            )
    if header_key is not None:
        if key is not None and key != header_key:
            problems.append(
                {
                    "field": "header.Idempotency-Key",
                    "message": (
                        "Idempotency-Key and clientMessageId differ; send one, or both equal"
                    ),
                }
            )
        key = key if key is not None else header_key
    return key, problems


def check_header_key(header_key: str | None, s: Settings) -> None:
    """Raise the 422 for a malformed ``Idempotency-Key`` header (absent is fine)."""
    if header_key is None:
        return
    why = check_key(header_key, s.max_key_len)
    if why:
        raise ApiError(
            422,
            "invalid_request",
            f"Idempotency-Key {why}",
            [{"field": "header.Idempotency-Key", "message": f"Idempotency-Key {why}"}],
        )


def parse_cursor(raw: str) -> tuple[int, int] | None:
    """``"partition:offset"`` as a position, or None when it is not one."""
    p, sep, o = raw.partition(":")
    if not sep or not p.isdigit() or not o.lstrip("-").isdigit():
        return None
    pos = int(p), int(o)
    # Beyond BSON's 64-bit ints a query would fail in the driver, not here.
    if pos[0] >= 2**31 or not -1 <= pos[1] < 2**63:
        return None
    return pos


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "Retry key: the same sender and key give the same messageId.",
            }
        ],
    }


__all__ = [
    "BatchIn",
    "MessageIn",
    "body_doc",
    "check_header_key",
    "parse_body",
    "parse_cursor",
    "validate_item",
]
