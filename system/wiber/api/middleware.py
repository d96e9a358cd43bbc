"""The ASGI middleware around every route: request counting and request bodies.

Promises:

* Every answered HTTP request is counted once in
  ``wiber_api_requests_total{route,method,status}`` (``route`` is the route
  template, ``unmatched`` when none matched, as for the 413 and 503 below;
  status 499 when the client left before its body was read).
* Each route's body is capped (``wiber.api.limits.RouteLimits``): 413 by
  its ``Content-Length`` before anything is read, or as soon as the bytes
  read pass the cap, so no more than the cap is ever buffered.
* The routes that read a body (``limits.READS_BODY``) get it read here,
  whole, inside a ``BodyBudget`` reservation that lasts until the answer
  is sent; ``take_body(request)`` hands it to the route without a copy. A
  body that does not fit the budget within ``WIBER_REQUEST_TIMEOUT_S`` is
  answered 503 with ``Retry-After`` (nothing was done). So the bodies held
  at once never exceed ``WIBER_API_BODY_BUDGET_BYTES``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wiber.api.errors import ApiError, error_response
from wiber.api.limits import READS_BODY, SMALL_CAP, BudgetTimeout
from wiber.api.runtime import Runtime
from wiber.metrics import API_REQUESTS

BODY_KEY = "wiber.body"  # the scope key holding a body read here
BUSY_RETRY_AFTER_S = "1"


class RequestMetricsMiddleware:
    """Counts answered requests by route template and status; reads and caps bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = False

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            await send(message)

        try:
            await self._serve(scope, receive, send_wrapper)
        except _BodyTooLarge as e:
            if not started:
                await _answer(scope, receive, send_wrapper, _too_large(e.cap))
        except ClientDisconnect:
            if not started:
                status = 499  # nobody to answer: counted as "client closed", not as a 500
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            _requests(path, scope.get("method", ""), status).inc()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt: Runtime | None = getattr(getattr(scope.get("app"), "state", None), "rt", None)
        route = f"{scope.get('method', '')} {scope.get('path', '')}"
        cap = rt.limits.cap(route) if rt is not None else SMALL_CAP
        length = _content_length(scope)
        if length is not None and length > cap:
            await _answer(scope, receive, send, _too_large(cap))
            return
        if rt is None or route not in READS_BODY:
            await self.app(scope, _limited(receive, cap), send)
            return
        budget = rt.budget
        want = cap if length is None else length
        held = budget.take_now(want)  # the usual case: it fits, no waiting
        if held is None:
            try:
                held = await budget.take(want, rt.settings.request_timeout_s)
            except BudgetTimeout:
                busy = ApiError(
                    503,
                    "busy",
                    "too many large request bodies at once; nothing was done, retry later",
                    headers={"Retry-After": BUSY_RETRY_AFTER_S},
                )
                await _answer(scope, receive, send, busy)
                return
        try:
            scope[BODY_KEY] = await _read_body(receive, cap, length)
            await self.app(scope, _after_body(receive), send)
        finally:
            scope.pop(BODY_KEY, None)
            budget.release(held)


def _requests(route: str, method: str, status: int) -> Any:
    """The request counter of (route, method, status), its child looked up once."""
    key = (route, method, status)
    child = _REQUEST_COUNTERS.get(key)
    if child is None:
        child = _REQUEST_COUNTERS[key] = API_REQUESTS.labels(route, method, str(status))
    return child


# No more keys than API_REQUESTS has series (labels() takes a lock and builds a tuple).
_REQUEST_COUNTERS: dict[tuple[str, str, int], Any] = {}


async def take_body(request: Request) -> bytes | bytearray:
    """The body the middleware read for this request (read now if it did not).

    Taken, not borrowed: the scope lets go of it, so the body is freed as
    soon as the route drops it (after parsing), not when the answer is sent.
    """
    body: bytes | bytearray | None = request.scope.pop(BODY_KEY, None)
    return body if body is not None else await request.body()


class _BodyTooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.cap = cap


def _too_large(cap: int) -> ApiError:
    return ApiError(413, "too_large", f"request body is over {cap} bytes")


async def _answer(scope: Scope, receive: Receive, send: Send, e: ApiError) -> None:
    await error_response(e)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers", ()):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, cap: int, length: int | None) -> bytes | bytearray:
    """The whole body, never holding more than ``cap`` bytes (``_BodyTooLarge`` past it)."""
    message = await receive()
    chunk = _chunk(message)
    if len(chunk) > cap:
        raise _BodyTooLarge(cap)
    if not message.get("more_body", False):
        return chunk  # the usual small body: one message, no copy
    # Preallocated to the announced length: no reallocation, no second copy.
    buf = bytearray(length) if length is not None else bytearray()
    view = memoryview(buf) if length is not None else None
    pos = 0
    while True:
        end = pos + len(chunk)
        if end > cap:
            raise _BodyTooLarge(cap)
        if view is not None and end <= len(buf):
            view[pos:end] = chunk
        else:
            if view is not None:
                view.release()
                view = None
                del buf[pos:]
            buf += chunk
        pos = end
        if not message.get("more_body", False):
            break
        message = await receive()
        chunk = _chunk(message)
    if view is not None:
        view.release()
    if pos < len(buf):
        del buf[pos:]
    return buf


def _chunk(message: Message) -> bytes:
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    return body


def _after_body(receive: Receive) -> Receive:
    """What the app receives once the body was read here: an empty end, then the rest."""
    done = False

    async def wrapped() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return wrapped


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge(limit)
        return message

    return wrapped


__all__ = ["BODY_KEY", "RequestMetricsMiddleware", "take_body"]
