"""The ASGI middleware around every route: request counting and the body size cap.

Promises: every answered HTTP request is counted once in
``wiber_api_requests_total{route,method,status}`` (``route`` is the route
template, ``unmatched`` when none matched); a body over the cap is answered
413 (by its ``Content-Length`` before the route runs, or as soon as the
bytes read pass the cap). The cap fits a full batch of the largest
messages, each content byte escaped as ``\\uXXXX``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wiber.api.errors import ApiError, error_response
from wiber.api.runtime import Runtime
from wiber.metrics import API_REQUESTS


class RequestMetricsMiddleware:
    """Counts answered requests by route template and status; caps body size (413)."""

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
            limit = _body_limit(scope)
            length = _content_length(scope)
            if length is not None and length > limit:
                resp = error_response(
                    ApiError(413, "too_large", f"request body is over {limit} bytes")
                )
                await resp(scope, receive, send_wrapper)
                return
            await self.app(scope, _limited(receive, limit), send_wrapper)
        except _BodyTooLarge:
            if not started:
                resp = error_response(
                    ApiError(413, "too_large", "request body is over the size limit")
                )
                await resp(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            API_REQUESTS.labels(path, scope.get("method", ""), str(status)).inc()


class _BodyTooLarge(Exception):
    pass


def _body_limit(scope: Scope) -> int:
    app = scope.get("app")
    rt: Runtime | None = getattr(getattr(app, "state", None), "rt", None)
    if rt is None:
        return 64 << 20
    s = rt.settings
    # JSON may escape each content byte as \\uXXXX (6 bytes); plus room for the rest.
    return s.max_batch * (6 * s.max_content_bytes + 4096) + (64 << 10)


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers", ()):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge()
        return message

    return wrapped


__all__ = ["RequestMetricsMiddleware"]
