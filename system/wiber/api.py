"""The Wiber REST API: accepts messages into Kafka and reads conversations from the store.

Run: ``python -m uvicorn wiber.api:app --host H --port P`` or
``python -m wiber.api`` (``WIBER_API_HOST`` / ``WIBER_API_PORT``).

Routes and what each status means:

``POST /messages`` body ``{fromUser, toUser, content, clientMessageId?}``,
optional ``Idempotency-Key`` header (equal to ``clientMessageId`` if both
are given). Unknown body fields are ignored.

* 201: Kafka acknowledged the record (acks=all). Body: ``messageId,
  conversationId, fromUser, toUser, content, timestamp, clientMessageId,
  partition, offset``. Never sent without an acknowledgement.
* 400 body is not JSON; 413 body too large; 422 invalid input. Body
  ``{error, message, details: [{field, message}]}``; never 500 on bad input.
  (500 only from a bug or a failpoint ``raise`` after the produce: outcome
  unknown, like 504.)
* 503 + ``Retry-After``: the record surely did not reach Kafka (producer not
  running, its local queue full, a failpoint ``raise`` before
  produce). Nothing happened; any retry is safe.
* 504: outcome unknown (sent or queued but no acknowledgement in time, or a
  delivery error after it may have been sent). It may be stored: retry with
  the same ``Idempotency-Key``, which yields the same ``messageId`` and one
  stored copy. The body carries the ``messageId`` it would have.

``POST /messages/batch`` body ``{messages: [item, ...]}`` (1..WIBER_MAX_BATCH
items, each like the single body). Any invalid item rejects the whole batch
with 422 before anything is sent. Otherwise every item is produced and
answered on its own, produced in item order (so items of one conversation
keep their batch order): ``{results: [{index, status, ...}]}`` where ``status``
is 201 / 503 / 504 with the single route's meaning; the response is 201 when
all items are 201, else 207. An ``Idempotency-Key`` header gives item ``i``
without a ``clientMessageId`` the key ``<header>:<i>``.

``GET /messages/{user1}/{user2}?limit=N&after=CURSOR``: the conversation
(either user order) in log order (partition, offset), at most ``limit``
(default WIBER_READ_DEFAULT_LIMIT, max WIBER_READ_MAX_LIMIT). Body
``{conversationId, messages: [stored documents, storedAt as ISO-8601],
count, nextCursor}``; ``nextCursor`` (``"partition:offset"``) is null when
nothing follows. 503 store unavailable, 504 store too slow.

``GET /health/liveness`` 200 while the process serves. ``GET
/health/readiness`` 200 when Kafka metadata (topic with leaders) and a
store ping both answer within ~1.5 s, else 503 naming the part that is down.
``GET /metrics`` Prometheus text. ``PUT/GET /debug/failpoints`` only with
``WIBER_DEBUG_ENDPOINTS=true`` (body: a failpoint spec as text).

Every request is bounded by ``WIBER_REQUEST_TIMEOUT_S`` (a failpoint
``hang`` excepted: it simulates a stuck server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wiber import failpoints
from wiber.logs import setup_logging
from wiber.metrics import API_INFLIGHT, API_PRODUCE_OUTCOMES, API_PRODUCE_SECONDS, API_REQUESTS
from wiber.model import (
    Message,
    check_content,
    check_key,
    check_user,
    conversation_id,
    encode_record,
)
from wiber.producer import KafkaBridge, NotSent, OutcomeUnknown
from wiber.settings import Settings, SettingsError, load_settings
from wiber.store import Store

log = logging.getLogger("wiber.api")

READINESS_TIMEOUT_S = 1.5
RETRY_AFTER_S = "1"
MAX_DETAILS = 20


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


class ApiError(Exception):
    """An error answered as ``{error, message, details}`` with a status."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.details = details or []
        self.headers = headers or {}


@dataclass
class Runtime:
    """What one API process holds between requests."""

    settings: Settings
    bridge: Any  # KafkaBridge or a test double with the same send/check_metadata/ready
    store: Any  # Store or a test double
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="store")
    )


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _error_response(e: ApiError) -> Response:
    body = {"error": e.error, "message": e.message, "details": e.details[:MAX_DETAILS]}
    return _json(e.status, body, e.headers)


# --- validation -----------------------------------------------------------------
def _validate(
    item: MessageIn, header_key: str | None, s: Settings, prefix: str
) -> tuple[str | None, list[dict[str, str]]]:
    """The idempotency key of ``item`` and every problem found in it."""
    problems: list[dict[str, str]] = []
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
                    "message": "Idempotency-Key and clientMessageId differ; send one, or both equal",
                }
            )
        key = key if key is not None else header_key
    return key, problems


def _check_header_key(header_key: str | None, s: Settings) -> None:
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


def _invalid(problems: list[dict[str, str]]) -> ApiError:
    first = problems[0]["message"]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return ApiError(422, "invalid_request", f"{first}{more}", problems)


# --- producing --------------------------------------------------------------------
async def _produce(rt: Runtime, msg: Message, deadline: float) -> tuple[int, dict[str, Any]]:
    """Send one message; (status, body) as the module docstring defines them."""
    s = rt.settings
    try:
        await failpoints.ahit("api.before_produce")
    except failpoints.FailpointError as e:
        API_PRODUCE_OUTCOMES.labels("not_sent").inc()
        return 503, _not_sent_body(msg, str(e))
    t0 = time.perf_counter()
    API_INFLIGHT.inc()
    try:
        d = await rt.bridge.send(
            s.topic,
            msg.partition_key(s.partition_key),
            encode_record(msg),
            deadline - time.monotonic(),
        )
    except NotSent as e:
        API_PRODUCE_OUTCOMES.labels("not_sent").inc()
        return 503, _not_sent_body(msg, str(e))
    except OutcomeUnknown as e:
        API_PRODUCE_OUTCOMES.labels("unknown").inc()
        return 504, {
            "error": "outcome_unknown",
            "message": f"{e}; the message may or may not be stored: retry with the same "
            "Idempotency-Key (or clientMessageId) to get the same messageId and one stored copy",
            "messageId": msg.messageId,
        }
    finally:
        API_INFLIGHT.dec()
        API_PRODUCE_SECONDS.observe(time.perf_counter() - t0)
    API_PRODUCE_OUTCOMES.labels("acked").inc()
    await failpoints.ahit("api.after_ack_before_response")
    body = msg.to_dict()
    del body["producedAtNs"]
    body["partition"] = d.partition
    body["offset"] = d.offset
    return 201, body


def _not_sent_body(msg: Message, why: str) -> dict[str, Any]:
    return {
        "error": "not_sent",
        "message": f"{why}; nothing was written, retry later",
        "messageId": msg.messageId,
    }


# --- app ------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, bridge: Any = None, store: Any = None) -> FastAPI:
    """The ASGI app; ``bridge``/``store`` replace the real ones (unit tests only)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            s = settings if settings is not None else load_settings()
        except SettingsError as e:
            _die(f"wiber.api: {e}")
        setup_logging(s.log_format, s.log_level, "api")
        logging.getLogger("uvicorn.access").disabled = not s.api_access_log
        for w in s.unsafe_warnings():
            log.warning(w)
        try:
            failpoints.configure(s.failpoints, s.failpoints_file)
        except failpoints.FailpointSpecError as e:
            _die(f"wiber.api: WIBER_FAILPOINTS: {e}")
        b = bridge if bridge is not None else KafkaBridge(s)
        if bridge is None:
            b.start()
        st = store if store is not None else Store(s, app_name="wiber-api")
        rt = Runtime(s, b, st)
        app.state.rt = rt
        log.info("API ready: topic=%s bootstrap=%s", s.topic, s.kafka_bootstrap)
        try:
            yield
        finally:
            if bridge is None:
                await b.close()
            if store is None:
                st.close()
            rt.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="Wiber", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequestMetricsMiddleware)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> Response:
        return _error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        if e.status_code == 400:
            code = "invalid_request"  # e.g. a body FastAPI could not read
        return _error_response(
            ApiError(e.status_code, code, str(e.detail), headers=dict(e.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> Response:
        # Only a bug or a failpoint `raise` gets here; whether a message was
        # stored is unknown, so the client is told to retry with its key.
        log.error("unexpected error on %s: %r", request.url.path, e)
        return _error_response(
            ApiError(
                500,
                "internal_error",
                f"{type(e).__name__}: the outcome is unknown; retry with the same Idempotency-Key",
            )
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, e: RequestValidationError) -> Response:
        return _error_response(_from_validation_error(e))

    def rt_of(request: Request) -> Runtime:
        rt: Runtime = request.app.state.rt
        return rt

    # The POST routes parse their bodies themselves: FastAPI's dependency
    # solving cost about a third of the CPU of a request, and the API is
    # CPU-bound on a busy 2-core machine. Errors keep the same 400/422 shape.
    @app.post("/messages", status_code=201, openapi_extra=_body_doc(MessageIn))
    async def post_message(request: Request) -> Response:
        body = _parse_body(MessageIn, await request.body())
        idempotency_key = request.headers.get("idempotency-key")
        rt = rt_of(request)
        deadline = time.monotonic() + rt.settings.request_timeout_s
        _check_header_key(idempotency_key, rt.settings)
        key, problems = _validate(body, idempotency_key, rt.settings, "body.")
        if problems:
            raise _invalid(problems)
        msg = Message.new(body.fromUser, body.toUser, body.content, key)
        status, out = await _produce(rt, msg, deadline)
        return _json(status, out, {"Retry-After": RETRY_AFTER_S} if status == 503 else None)

    @app.post("/messages/batch", status_code=201, openapi_extra=_body_doc(BatchIn))
    async def post_batch(request: Request) -> Response:
        body = _parse_body(BatchIn, await request.body())
        idempotency_key = request.headers.get("idempotency-key")
        rt = rt_of(request)
        s = rt.settings
        deadline = time.monotonic() + s.request_timeout_s
        n = len(body.messages)
        if n == 0 or n > s.max_batch:
            raise ApiError(
                422,
                "invalid_request",
                f"messages must hold 1 to {s.max_batch} items (got {n})",
                [{"field": "body.messages", "message": f"1 to {s.max_batch} items, got {n}"}],
            )
        _check_header_key(idempotency_key, s)
        msgs: list[Message] = []
        problems: list[dict[str, str]] = []
        for i, item in enumerate(body.messages):
            hk = f"{idempotency_key}:{i}" if idempotency_key is not None else None
            if item.clientMessageId is not None:
                hk = None  # the item's own key wins over the derived one
            key, p = _validate(item, hk, s, f"body.messages[{i}].")
            problems.extend(p)
            if not p:
                msgs.append(Message.new(item.fromUser, item.toUser, item.content, key))
        if problems:
            raise _invalid(problems)
        # Tasks start in item order and each reaches produce() before its first
        # suspension, so items of one conversation enter Kafka in batch order.
        outcomes = await asyncio.gather(*(_produce(rt, m, deadline) for m in msgs))
        results = [{"index": i, "status": st, **b} for i, (st, b) in enumerate(outcomes)]
        all_ok = all(st == 201 for st, _ in outcomes)
        headers = {"Retry-After": RETRY_AFTER_S} if any(st == 503 for st, _ in outcomes) else None
        return _json(201 if all_ok else 207, {"results": results}, headers)

    @app.get("/messages/{user1}/{user2}")
    async def get_conversation(
        request: Request,
        user1: str,
        user2: str,
        limit: int | None = Query(None),
        after: str | None = Query(None),
    ) -> Response:
        rt = rt_of(request)
        s = rt.settings
        problems = []
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
            pos = _parse_cursor(after)
            if pos is None:
                problems.append(
                    {"field": "query.after", "message": "after must be a cursor 'partition:offset'"}
                )
        if problems:
            raise _invalid(problems)
        conv = conversation_id(user1, user2)
        timeout = s.request_timeout_s
        loop = asyncio.get_running_loop()
        try:
            docs = await asyncio.wait_for(
                loop.run_in_executor(
                    rt.pool, rt.store.read_conversation, conv, pos, lim + 1, timeout * 0.9
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
        more = len(docs) > lim
        docs = docs[:lim]
        nxt = f"{docs[-1]['partition']}:{docs[-1]['offset']}" if more and docs else None
        return _json(
            200, {"conversationId": conv, "messages": docs, "count": len(docs), "nextCursor": nxt}
        )

    @app.get("/health/liveness")
    async def liveness() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/health/readiness")
    async def readiness(request: Request) -> Response:
        rt = rt_of(request)
        loop = asyncio.get_running_loop()
        t = READINESS_TIMEOUT_S

        async def bounded(fn: Callable[..., str | None], *args: Any) -> str | None:
            try:
                return await asyncio.wait_for(loop.run_in_executor(rt.pool, fn, *args), t + 0.5)
            except TimeoutError:
                return f"no answer within {t}s"
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        if not rt.bridge.ready:
            kafka_err: str | None = "producer not running"
            store_err = await bounded(rt.store.ping, t)
        else:
            kafka_err, store_err = await asyncio.gather(
                bounded(rt.bridge.check_metadata, rt.settings.topic, t),
                bounded(rt.store.ping, t),
            )
        body = {"kafka": kafka_err or "ok", "store": store_err or "ok"}
        if kafka_err or store_err:
            down = [n for n, e in (("kafka", kafka_err), ("store", store_err)) if e]
            body["status"] = "not ready"
            body["message"] = (
                " and ".join(down) + " down: " + "; ".join(f"{n}: {body[n]}" for n in down)
            )
            return _json(503, body, {"Retry-After": RETRY_AFTER_S})
        body["status"] = "ready"
        return _json(200, body)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.put("/debug/failpoints")
    async def put_failpoints(request: Request) -> Response:
        _require_debug(rt_of(request))
        raw = (await request.body()).decode("utf-8", errors="replace")
        spec = raw
        if raw.lstrip().startswith("{"):
            try:
                spec = str(orjson.loads(raw).get("spec", ""))
            except (orjson.JSONDecodeError, AttributeError):
                raise ApiError(
                    400, "invalid_json", 'body must be a spec or {"spec": "..."}'
                ) from None
        try:
            failpoints.REGISTRY.set_runtime(spec)
        except failpoints.FailpointSpecError as e:
            raise ApiError(422, "invalid_failpoints", str(e)) from None
        return _json(200, failpoints.status())

    @app.get("/debug/failpoints")
    async def get_failpoints(request: Request) -> Response:
        _require_debug(rt_of(request))
        return _json(200, failpoints.status())

    return app


def _die(sentence: str) -> NoReturn:
    # Under uvicorn a startup exception becomes a traceback and exit 3; one
    # sentence and exit 2 is what an operator needs, and nothing is running yet.
    print(sentence, file=sys.stderr, flush=True)
    os._exit(2)


def _require_debug(rt: Runtime) -> None:
    if not rt.settings.debug_endpoints:
        raise ApiError(404, "not_found", "debug endpoints are off (WIBER_DEBUG_ENDPOINTS=true)")


def _parse_cursor(raw: str) -> tuple[int, int] | None:
    p, sep, o = raw.partition(":")
    if not sep or not p.isdigit() or not o.lstrip("-").isdigit():
        return None
    pos = int(p), int(o)
    # Beyond BSON's 64-bit ints a query would fail in the driver, not here.
    if pos[0] >= 2**31 or not -1 <= pos[1] < 2**63:
        return None
    return pos


def _from_validation_error(e: RequestValidationError) -> ApiError:
    return _from_errors(e.errors(), ())


def _from_errors(errors: Sequence[Any], prefix: tuple[str, ...]) -> ApiError:
    details: list[dict[str, str]] = []
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
    return _invalid(details)


def _parse_body(model: type[_M], raw: bytes) -> _M:
    """Validate a JSON body straight from bytes (pydantic-core parses it)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise _from_errors(e.errors(include_url=False), ("body",)) from None


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
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


class RequestMetricsMiddleware:
    """Counts answered requests by route template and status; caps body size (413)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
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
                resp = _error_response(
                    ApiError(413, "too_large", f"request body is over {limit} bytes")
                )
                await resp(scope, receive, send_wrapper)
                return
            await self.app(scope, _limited(receive, limit), send_wrapper)
        except _BodyTooLarge:
            if not started:
                resp = _error_response(
                    ApiError(413, "too_large", "request body is over the size limit")
                )
                await resp(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            API_REQUESTS.labels(path, scope.get("method", ""), str(status)).inc()


class _BodyTooLarge(Exception):
    pass


def _body_limit(scope: dict[str, Any]) -> int:
    app = scope.get("app")
    rt: Runtime | None = getattr(getattr(app, "state", None), "rt", None)
    if rt is None:
        return 64 << 20
    s = rt.settings
    # JSON may escape each content byte as \\uXXXX (6 bytes); plus room for the rest.
    return s.max_batch * (6 * s.max_content_bytes + 4096) + (64 << 10)


def _content_length(scope: dict[str, Any]) -> int | None:
    for k, v in scope.get("headers", ()):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _limited(receive: Any, limit: int) -> Any:
    seen = 0

    async def wrapped() -> dict[str, Any]:
        nonlocal seen
        message: dict[str, Any] = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge()
        return message

    return wrapped


app = create_app()


def main() -> None:
    """``python -m wiber.api``: serve on WIBER_API_HOST:WIBER_API_PORT."""
    import uvicorn

    try:
        s = load_settings()
    except SettingsError as e:
        print(f"wiber.api: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        "wiber.api:app",
        host=s.api_host,
        port=s.api_port,
        access_log=s.api_access_log,
        log_config=None,
    )


if __name__ == "__main__":
    main()


__all__ = ["ApiError", "BatchIn", "MessageIn", "Runtime", "app", "create_app", "main"]
