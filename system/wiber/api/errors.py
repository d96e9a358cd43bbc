"""The API's error shape and its exception handlers.

Promise: every error the API answers has the body ``{error, message,
details: [{field, message}]}`` (at most ``MAX_DETAILS`` details) and its
status; ``ApiError`` carries all of it, plus headers. The handlers map
routing errors (404, 405, an unreadable body: 400), request validation
errors (422, or 400 when the body is not JSON) and any unexpected
exception (500, outcome unknown) onto that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("wiber.api")

MAX_DETAILS = 20

Detail = dict[str, str]


class ApiError(Exception):
    """An error answered as ``{error, message, details}`` with a status."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: list[Detail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.details = details or []
        self.headers = headers or {}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON (orjson) with ``status`` and ``headers``."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(e: ApiError) -> Response:
    body = {"error": e.error, "message": e.message, "details": e.details[:MAX_DETAILS]}
    return json_response(e.status, body, e.headers)


def invalid(problems: list[Detail]) -> ApiError:
    """The 422 for ``problems`` (at least one); the message names the first."""
    first = problems[0]["message"]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return ApiError(422, "invalid_request", f"{first}{more}", problems)


def from_errors(errors: Sequence[Any], prefix: tuple[str, ...]) -> ApiError:
    """The ApiError of pydantic errors: 400 if the JSON is broken, else 422 naming each field."""
    details: list[Detail] = []
    for err in errors:
        loc = ".".join(str(x) for x in (*prefix, *err.get("loc", ()))) or "body"
        if err.get("type") == "json_invalid":
            return ApiError(
                400,
                "invalid_json",
                "request body is not valid JSON",
                [{"field": "body", "message": str(err.get("msg", ""))}],
            )
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "field required"
        details.append({"field": loc, "message": f"{loc}: {msg}"})
    if not details:
        details = [{"field": "body", "message": "invalid request"}]
    return invalid(details)


# --- exception handlers ---------------------------------------------------------------
async def on_api_error(request: Request, e: ApiError) -> Response:
    return error_response(e)


async def on_http_error(request: Request, e: StarletteHTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
    if e.status_code == 400:
        code = "invalid_request"  # e.g. a body FastAPI could not read
    return error_response(
        ApiError(e.status_code, code, str(e.detail), headers=dict(e.headers or {}))
    )


async def on_unexpected(request: Request, e: Exception) -> Response:
    return error_response(unexpected(request.method, request.url.path, e))


def unexpected(method: str, path: str, e: Exception) -> ApiError:
    """The 500 for an unexpected exception (logged here)."""
    # Only a bug or a failpoint `raise` gets here. After a POST whether a
    # message was stored is unknown, so the client is told to retry with
    # its key; any other request changed nothing worth a key.
    log.error("unexpected error on %s %s: %r", method, path, e)
    if method == "POST":
        why = "the outcome is unknown; retry with the same Idempotency-Key"
    else:
        why = "internal error; retry later"
    return ApiError(500, "internal_error", f"{type(e).__name__}: {why}")


async def on_validation_error(request: Request, e: RequestValidationError) -> Response:
    return error_response(from_errors(e.errors(), ()))


# Each handler for its exception class, in the order the app registers them.
EXCEPTION_HANDLERS: tuple[tuple[type[Exception], Callable[..., Awaitable[Response]]], ...] = (
    (ApiError, on_api_error),
    (StarletteHTTPException, on_http_error),
    (Exception, on_unexpected),
    (RequestValidationError, on_validation_error),
)

__all__ = [
    "EXCEPTION_HANDLERS",
    "MAX_DETAILS",
    "ApiError",
    "Detail",
    "error_response",
    "from_errors",
    "invalid",
    "json_response",
    "unexpected",
]
