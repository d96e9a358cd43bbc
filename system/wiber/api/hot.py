"""The hot routes, ``POST /messages`` and ``POST /messages/batch``, served without FastAPI.

Promise: for a request to one of these two routes, ``WiberApp`` answers
exactly what the FastAPI route declared for it would answer (the same
``messages.accept_message`` / ``accept_batch``, the same body reading,
caps, budget and metrics of ``RequestMetricsMiddleware``, the same error
shapes, a 500 from ``errors.unexpected`` on a bug or a failpoint ``raise``
after the produce), only with less Python per request: FastAPI's
per-request machinery (its middleware stack, routing, dependency solving,
``Request`` and ``Response`` objects) measured at about a third of a
``POST /messages``'s CPU on the CPU-bound API. FastAPI still serves every
other request, and these two too when the hot path cannot be sure to
match it: before the lifespan built the Runtime, or under a ``root_path``.
FastAPI's optional native OpenTelemetry middleware does not see these
requests (Wiber's metrics are Prometheus, ``wiber.metrics``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from wiber.api.errors import MAX_DETAILS, ApiError, unexpected
from wiber.api.messages import accept_batch, accept_message
from wiber.api.middleware import BODY_KEY, RequestMetricsMiddleware
from wiber.api.runtime import Runtime

Handler = Callable[
    [Runtime, bytes | bytearray, str | None],
    Awaitable[tuple[int, dict[str, Any], dict[str, str] | None]],
]
HOT: dict[str, Handler] = {"/messages": accept_message, "/messages/batch": accept_batch}
_JSON = (b"content-type", b"application/json")


class WiberApp(FastAPI):
    """FastAPI, with the hot routes answered before its middleware stack (module promise)."""

    hot = True  # False: FastAPI serves the hot routes too (the tests compare both)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._hot: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in HOT
            and self.hot
            and not scope.get("root_path")
            and getattr(self.state, "rt", None) is not None
        ):
            if self._hot is None:
                self._hot = RequestMetricsMiddleware(_HotRoutes(self))
            scope["app"] = self
            await self._hot(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _HotRoutes:
    """The ASGI app behind ``RequestMetricsMiddleware`` for the hot routes."""

    def __init__(self, app: FastAPI) -> None:
        # Each route's APIRoute: the middleware labels the metrics with its path.
        self.routes = {
            r.path: r
            for r in app.router.routes
            if isinstance(r, APIRoute) and r.path in HOT and "POST" in (r.methods or ())
        }
        missing = set(HOT) - set(self.routes)
        if missing:
            raise RuntimeError(f"the hot routes {sorted(missing)} are not declared on the app")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        scope["route"] = self.routes[path]
        rt: Runtime = scope["app"].state.rt
        raw: bytes | bytearray = scope.pop(BODY_KEY)  # read by the middleware (READS_BODY)
        try:
            status, body, headers = await HOT[path](rt, raw, idempotency_key(scope))
        except ApiError as e:
            status, headers = e.status, e.headers
            body = {"error": e.error, "message": e.message, "details": e.details[:MAX_DETAILS]}
        except Exception as e:  # a bug or a failpoint raise: what errors.on_unexpected answers
            err = unexpected("POST", path, e)
            status, headers = err.status, err.headers
            body = {"error": err.error, "message": err.message, "details": err.details}
        await respond(send, status, orjson.dumps(body), headers)


def idempotency_key(scope: Scope) -> str | None:
    """The first ``Idempotency-Key`` header, as Starlette's ``Headers.get`` reads it."""
    for k, v in scope["headers"]:
        if k == b"idempotency-key":
            return str(v.decode("latin-1"))
    return None


async def respond(send: Send, status: int, body: bytes, headers: dict[str, str] | None) -> None:
    """A JSON answer, with the headers a Starlette ``Response`` of it would carry."""
    raw = [(b"content-length", str(len(body)).encode()), _JSON]
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


__all__ = ["HOT", "WiberApp", "idempotency_key", "respond"]
