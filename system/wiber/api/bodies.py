"""What clients send: the request models and the rules each message must meet.

Promise: ``parse_message`` and ``parse_batch`` turn raw bytes into a model
or an ``ApiError`` (400 when the bytes are not JSON, 422 naming each bad
field), and parse nothing larger than ``wiber.api.shape.check_shape``
lets through; ``parse_batch`` refuses a batch of the wrong length before
it validates any item (``screen_batch`` is its checks on the raw bytes,
``parse_screened_batch`` the rest, for the batch route's fast path).
Unknown fields are ignored (and bounded by the shape check and the
route's byte cap). ``validate_item`` lists every rule a message breaks
(never raises) and settles its idempotency key;
``parse_cursor`` accepts only ``P:O`` in ASCII digits (``O`` may be
``-1``) naming a position the store can query. The POST routes parse
their bodies with these instead of FastAPI's body parameters (see
``wiber.api.messages``), so ``body_doc`` documents the bodies for OpenAPI.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from pydantic_core import from_json

from wiber.api.errors import ApiError, Detail, from_errors
from wiber.api.limits import ROUTE_SLACK, VALUES_PER_MESSAGE, RouteLimits
from wiber.api.shape import check_shape
from wiber.model import USER_PATTERN, USER_RULE, check_content, check_key, check_user
from wiber.settings import Settings

_CURSOR_PATTERN = r"([0-9]{1,10}):(-1|[0-9]{1,19})"

# The rules as the OpenAPI document states them, with the default limits
# (documentation only: validate_item and the routes enforce the settings').
_DEFAULT = {name: f.default for name, f in Settings.model_fields.items()}
USER_DOC: dict[str, Any] = {
    "pattern": f"^{USER_PATTERN.pattern}$",
    "minLength": 1,
    "maxLength": _DEFAULT["max_user_len"],
    "description": f"{USER_RULE}; at most WIBER_MAX_USER_LEN characters",
}
KEY_DOC: dict[str, Any] = {
    "minLength": 1,
    "maxLength": _DEFAULT["max_key_len"],
    "description": "printable text; at most WIBER_MAX_KEY_LEN characters",
}
CONTENT_DOC: dict[str, Any] = {
    "minLength": 1,
    "maxLength": _DEFAULT["max_content_bytes"] // 4,  # 4 UTF-8 bytes a character at most
    "description": "at most WIBER_MAX_CONTENT_BYTES bytes of UTF-8",
}


LIMIT_DOC: dict[str, Any] = {
    "minimum": 1,
    "maximum": _DEFAULT["read_max_limit"],
    "description": f"at most WIBER_READ_MAX_LIMIT; {_DEFAULT['read_default_limit']} if absent",
}
CURSOR_DOC: dict[str, Any] = {
    "pattern": f"^{_CURSOR_PATTERN}$",
    "description": "nextCursor of the previous page: partition:offset",
}


class MessageIn(BaseModel):
    """One message as a client sends it."""

    model_config = ConfigDict(extra="ignore")

    fromUser: StrictStr = Field(json_schema_extra=USER_DOC)
    toUser: StrictStr = Field(json_schema_extra=USER_DOC)
    content: StrictStr = Field(json_schema_extra=CONTENT_DOC)
    clientMessageId: StrictStr | None = Field(None, json_schema_extra=KEY_DOC)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[MessageIn] = Field(
        json_schema_extra={"minItems": 1, "maxItems": _DEFAULT["max_batch"]}
    )


_M = TypeVar("_M", bound=BaseModel)


def parse_body(model: type[_M], raw: bytes | bytearray) -> _M:
    """Validate a JSON body straight from bytes (pydantic-core parses it)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise from_errors(e.errors(include_url=False), ("body",)) from None


def parse_message(raw: bytes | bytearray, limits: RouteLimits) -> MessageIn:
    """The body of ``POST /messages``, parsed only once its shape is small enough."""
    check_shape(raw, limits.single_values, f"at most {limits.single_values} per message")
    return parse_body(MessageIn, raw)


def parse_batch(raw: bytes | bytearray, limits: RouteLimits, max_batch: int) -> BatchIn:
    """The body of ``POST /messages/batch``: size, shape, JSON, length, then items."""
    screen_batch(raw, limits, max_batch)
    return parse_screened_batch(raw, max_batch)


def screen_batch(raw: bytes | bytearray, limits: RouteLimits, max_batch: int) -> None:
    """The checks on a batch's raw bytes, before any parsing: size (413), then shape (422)."""
    # Every item is an object, so a batch of n items has at least n + 1 "{"
    # (more when strings hold some): an upper bound on n, counted in C.
    most = max(raw.count(b"{") - 1, 1)
    if len(raw) > most * limits.item_bytes + ROUTE_SLACK:
        raise ApiError(
            413,
            "too_large",
            f"request body is over {most * limits.item_bytes + ROUTE_SLACK} bytes, the most "
            f"{most} messages can take (unknown fields are ignored, but only a few small ones)",
        )
    check_shape(
        raw,
        limits.batch_values,
        f"a batch is 1 to {max_batch} messages of at most {VALUES_PER_MESSAGE} each",
    )


def parse_screened_batch(raw: bytes | bytearray, max_batch: int) -> BatchIn:
    """A batch that passed ``screen_batch``: JSON (400), length, then items (422)."""
    try:
        doc = from_json(raw, allow_inf_nan=False)
    except ValueError as e:
        raise ApiError(
            400,
            "invalid_json",
            "request body is not valid JSON",
            [{"field": "body", "message": f"Invalid JSON: {e}"}],
        ) from None
    items = doc.get("messages") if isinstance(doc, dict) else None
    if isinstance(items, list) and not 1 <= len(items) <= max_batch:
        n = len(items)
        raise ApiError(
            422,
            "invalid_request",
            f"messages must hold 1 to {max_batch} items (got {n})",
            [{"field": "body.messages", "message": f"1 to {max_batch} items, got {n}"}],
        )
    try:
        return BatchIn.model_validate(doc)
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


# ASCII digits only: str.isdigit() and int() also take "\u00b2" (superscript
# two; int fails: a 500) and "\u0661" (Arabic-Indic one, read as 1), and
# int() takes "-5" and "1_0".
_CURSOR = re.compile(_CURSOR_PATTERN)


def parse_cursor(raw: str) -> tuple[int, int] | None:
    """``"partition:offset"`` as a position, or None when it is not one."""
    m = _CURSOR.fullmatch(raw)
    if m is None:
        return None
    pos = int(m[1]), int(m[2])
    # Beyond BSON's 64-bit ints a query would fail in the driver, not here.
    if pos[0] >= 2**31 or pos[1] >= 2**63:
        return None
    return pos


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body itself (the model's schema, refs inlined)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, defs)}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", **KEY_DOC},
                "description": "Retry key: the same sender and key give the same messageId.",
            }
        ],
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/X"}`` replaced by ``defs[X]`` (no cycles here)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


__all__ = [
    "CURSOR_DOC",
    "LIMIT_DOC",
    "USER_DOC",
    "BatchIn",
    "MessageIn",
    "body_doc",
    "check_header_key",
    "parse_batch",
    "parse_body",
    "parse_cursor",
    "parse_message",
    "parse_screened_batch",
    "screen_batch",
    "validate_item",
]
