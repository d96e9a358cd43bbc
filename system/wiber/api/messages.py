"""The message routes: ``POST /messages``, ``POST /messages/batch``, ``GET /messages/{u1}/{u2}``.

Promise: the statuses, bodies and headers of these routes are the ones the
``wiber.api`` docstring lists. A request is validated completely before
anything is sent (a batch with one bad item sends nothing), and every
request is bounded by ``WIBER_REQUEST_TIMEOUT_S``. A batch is prepared
in one pass (``wiber.api.batch``) and, when the bridge can and no API
failpoint is armed, sent in one ``send_batch`` call (``produce_batch``);
otherwise item by item, like ``POST /messages``: the answers are the same.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from wiber import failpoints
from wiber.api.answers import RESPONSES
from wiber.api.batch import prepare_batch
from wiber.api.bodies import (
    CURSOR_DOC,
    LIMIT_DOC,
    USER_DOC,
    BatchIn,
    MessageIn,
    body_doc,
    check_header_key,
    parse_cursor,
    parse_message,
    validate_item,
)
from wiber.api.errors import ApiError, Detail, invalid, json_response
from wiber.api.middleware import take_body
from wiber.api.produce import RETRY_AFTER_S, produce, produce_batch
from wiber.api.runtime import Runtime, runtime_of
from wiber.model import Message, check_user, conversation_id
from wiber.settings import Settings

router = APIRouter()


# The POST routes parse their bodies themselves: FastAPI's dependency
# solving cost about a third of the CPU of a request, and the API is
# CPU-bound on a busy 2-core machine. Errors keep the same 400/422 shape.
@router.post(
    "/messages",
    status_code=201,
    openapi_extra=body_doc(MessageIn),
    responses=RESPONSES["post_message"],
)
async def post_message(request: Request) -> Response:
    rt = runtime_of(request)
    raw = await take_body(request)
    return json_response(*await accept_message(rt, raw, request.headers.get("idempotency-key")))


async def accept_message(
    rt: Runtime, raw: bytes | bytearray, idempotency_key: str | None
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """``POST /messages``: its (status, body, headers), or the ApiError it answers."""
    body = parse_message(raw, rt.limits)
    deadline = time.monotonic() + rt.settings.request_timeout_s
    check_header_key(idempotency_key, rt.settings)
    key, problems = validate_item(body, idempotency_key, rt.settings, "body.")
    if problems:
        raise invalid(problems)
    msg = Message.new(body.fromUser, body.toUser, body.content, key)
    status, out = await produce(rt, msg, deadline)
    return status, out, _RETRY_LATER if status == 503 else None


@router.post(
    "/messages/batch",
    status_code=201,
    openapi_extra=body_doc(BatchIn),
    responses=RESPONSES["post_batch"],
)
async def post_batch(request: Request) -> Response:
    rt = runtime_of(request)
    raw = await take_body(request)
    return json_response(*await accept_batch(rt, raw, request.headers.get("idempotency-key")))


async def accept_batch(
    rt: Runtime, raw: bytes | bytearray, idempotency_key: str | None
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """``POST /messages/batch``: its (status, body, headers), or the ApiError it answers."""
    deadline = time.monotonic() + rt.settings.request_timeout_s
    batch = prepare_batch(raw, rt.limits, rt.settings, idempotency_key)
    sender = rt.batch_sender
    if sender is not None and not any(failpoints.armed(p) for p in _API_POINTS):
        outcomes = await produce_batch(rt, sender, batch, deadline)
    else:
        # Item by item, each through its failpoints. Tasks start in item order
        # and each reaches produce() before its first suspension, so items of
        # one conversation enter Kafka in batch order.
        msgs = batch.messages()
        outcomes = await asyncio.gather(*(produce(rt, m, deadline) for m in msgs))
    results = [{"index": i, "status": st, **b} for i, (st, b) in enumerate(outcomes)]
    all_ok = all(st == 201 for st, _ in outcomes)
    headers = _RETRY_LATER if any(st == 503 for st, _ in outcomes) else None
    return 201 if all_ok else 207, {"results": results}, headers


_API_POINTS = ("api.before_produce", "api.after_ack_before_response")
_RETRY_LATER = {"Retry-After": RETRY_AFTER_S}


@router.get("/messages/{user1}/{user2}", responses=RESPONSES["get_conversation"])
async def get_conversation(
    request: Request,
    user1: str = Path(json_schema_extra=USER_DOC),
    user2: str = Path(json_schema_extra=USER_DOC),
    limit: int | None = Query(None, json_schema_extra=LIMIT_DOC),
    after: str | None = Query(None, json_schema_extra=CURSOR_DOC),
) -> Response:
    rt = runtime_of(request)
    lim, pos = _read_args(rt.settings, user1, user2, limit, after)
    conv = conversation_id(user1, user2)
    docs = await _read(rt, conv, pos, lim + 1)
    more = len(docs) > lim
    docs = docs[:lim]
    nxt = f"{docs[-1]['partition']}:{docs[-1]['offset']}" if more and docs else None
    return json_response(
        200, {"conversationId": conv, "messages": docs, "count": len(docs), "nextCursor": nxt}
    )


def _read_args(
    s: Settings, user1: str, user2: str, limit: int | None, after: str | None
) -> tuple[int, tuple[int, int] | None]:
    """The read's limit and cursor position; the 422 naming every bad argument."""
    problems: list[Detail] = []
    for name, v in (("user1", user1), ("user2", user2)):
        why = check_user(v, s.max_user_len)
        if why:
            problems.append({"field": f"path.{name}", "message": f"{name} {why}"})
    lim = s.read_default_limit if limit is None else limit
    if not 1 <= lim <= s.read_max_limit:
        problems.append(
            {"field": "query.limit", "message": f"limit must be 1 to {s.read_max_limit}"}
        )
    pos = None
    if after is not None:
        pos = parse_cursor(after)
        if pos is None:
            problems.append(
                {"field": "query.after", "message": "after must be a cursor 'partition:offset'"}
            )
    if problems:
        raise invalid(problems)
    return lim, pos


async def _read(
    rt: Runtime, conv: str, pos: tuple[int, int] | None, limit: int
) -> list[dict[str, Any]]:
    """The store's read in its thread pool: 504 when too slow, 503 when it fails."""
    timeout = rt.settings.request_timeout_s
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(
                rt.pool, rt.store.read_conversation, conv, pos, limit, timeout * 0.9
            ),
            timeout,
        )
    except TimeoutError:
        raise ApiError(
            504, "store_timeout", f"the store did not answer within {timeout}s"
        ) from None
    except Exception as e:  # any store failure: the read did not happen
        raise ApiError(
            503,
            "store_unavailable",
            f"the store is unavailable: {type(e).__name__}",
            headers={"Retry-After": RETRY_AFTER_S},
        ) from None


__all__ = ["accept_batch", "accept_message", "router"]
