"""The Wiber REST API: accepts messages into Kafka and reads conversations from the store.

Run: ``python -m uvicorn wiber.api:app --host H --port P`` or
``python -m wiber.api`` (``WIBER_API_HOST`` / ``WIBER_API_PORT``).

Routes and what each status means:

``POST /messages`` body ``{fromUser, toUser, content, clientMessageId?}``,
optional ``Idempotency-Key`` header (equal to ``clientMessageId`` if both
are given). Unknown body fields are ignored, but bounded: a body may hold
at most 16 JSON keys and values per message, and at most one message's
worst-case JSON size (every content byte escaped as ``\\uXXXX``) plus
4 KiB; a batch ``max_batch`` times that (see ``wiber.api.limits``).

* 201: Kafka acknowledged the record (acks=all). Body: ``messageId,
  conversationId, fromUser, toUser, content, timestamp, clientMessageId,
  partition, offset``. Never sent without an acknowledgement.
* 400 body is not JSON; 413 body too large (by ``Content-Length`` before
  anything is read, or as soon as the bytes read pass the cap); 422
  invalid input. Body ``{error, message, details: [{field, message}]}``;
  never 500 on bad input. (500 only from a bug or a failpoint ``raise``
  after the produce: outcome unknown, like 504.)
* 503 + ``Retry-After``: the record surely did not reach Kafka (producer not
  running, its local queue full, a failpoint ``raise`` before
  produce), or the request body did not fit the process's body budget
  (``WIBER_API_BODY_BUDGET_BYTES``) within ``WIBER_REQUEST_TIMEOUT_S``
  (error ``busy``). Nothing happened; any retry is safe.
* 504: outcome unknown (sent or queued but no acknowledgement in time, or a
  delivery error after it may have been sent). It may be stored: retry with
  the same ``Idempotency-Key``, which yields the same ``messageId`` and one
  stored copy. The body carries the ``messageId`` it would have.

``POST /messages/batch`` body ``{messages: [item, ...]}`` (1..WIBER_MAX_BATCH
items, each like the single body). A batch of the wrong length is refused
with 422 before any item is validated; any invalid item rejects the whole
batch with 422 before anything is sent. Otherwise every item is produced and
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
nothing follows; ``after`` must be ASCII digits ``P:O`` (``O`` may be
``-1``), else 422. 503 store unavailable, 504 store too slow.

``GET /health/liveness`` 200 while the process serves. ``GET
/health/readiness`` 200 when Kafka metadata (topic with leaders) and a
store ping both answer within ~1.5 s, else 503 naming the part that is down
with a fixed word (``not_running``, ``unavailable``, ``timeout``, ``error``;
the detail goes to the log). ``GET /metrics`` Prometheus text. ``GET
/openapi.json``, ``/docs``, ``/redoc`` only with ``WIBER_API_DOCS=true``.
``PUT/GET /debug/failpoints`` only with ``WIBER_DEBUG_ENDPOINTS=true``
(body: a failpoint spec as text; unknown points and delays outside 0..a
day are 422).

Every request is bounded by ``WIBER_REQUEST_TIMEOUT_S`` (a failpoint
``hang`` excepted: it simulates a stuck server).

Memory: request bodies held at once never exceed
``WIBER_API_BODY_BUDGET_BYTES`` (64 MiB by default), and a body is parsed
only after its structure was counted (``wiber.api.shape``), so parsing
holds about one body's size more, one body at a time.

Modules: ``runtime`` (the parts' protocols, the Runtime, the lifespan),
``messages`` and ``ops`` (the routers), ``bodies`` (request models and
rules), ``batch`` (a batch body to records in one pass), ``limits``
(per-route body caps, the body budget), ``shape`` (the bounded structure
count before parsing), ``produce`` (outcome -> status), ``errors`` (the
error shape and handlers), ``answers`` (the answers' shapes, for
OpenAPI), ``middleware`` (request metrics, reading and capping bodies),
``hot`` (the two POST routes answered without FastAPI's per-request
machinery, with the same answers).
"""

from __future__ import annotations

import sys

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from wiber.api.bodies import BatchIn, MessageIn
from wiber.api.errors import EXCEPTION_HANDLERS, ApiError
from wiber.api.hot import WiberApp
from wiber.api.messages import router as messages_router
from wiber.api.middleware import RequestMetricsMiddleware
from wiber.api.ops import router as ops_router
from wiber.api.runtime import ConversationStore, Given, ProducerBridge, Runtime, lifespan
from wiber.settings import Settings, SettingsError, load_settings


def create_app(
    settings: Settings | None = None,
    bridge: ProducerBridge | None = None,
    store: ConversationStore | None = None,
) -> FastAPI:
    """The ASGI app; ``bridge``/``store`` replace the real ones (unit tests only)."""
    # No docs routes of FastAPI's own: ``wiber.api.ops`` serves them behind
    # WIBER_API_DOCS (known only once the lifespan has read the settings).
    # WiberApp answers the two POST routes itself (``wiber.api.hot``).
    app = WiberApp(
        title="Wiber",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.given = Given(settings, bridge, store)
    app.add_middleware(RequestMetricsMiddleware)
    for exc, handler in EXCEPTION_HANDLERS:
        app.exception_handler(exc)(handler)
    for router in (messages_router, ops_router):
        _declare_routes(app, router)
    return app


def _declare_routes(app: FastAPI, router: APIRouter) -> None:
    """Declare ``router``'s routes on ``app`` itself, as ``@app.post(...)`` would.

    Not ``app.include_router``: FastAPI 0.16x includes a router lazily behind
    a per-request matching layer, measured at about 13 us more CPU per
    request (+15% for a POST /messages in process) on a CPU-bound API. The
    routes use only the options copied here.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only APIRoute routes are declared")
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            status_code=route.status_code,
            openapi_extra=route.openapi_extra,
            include_in_schema=route.include_in_schema,
            responses=route.responses,
            response_class=route.response_class,
            name=route.name,
        )


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


__all__ = [
    "ApiError",
    "BatchIn",
    "ConversationStore",
    "MessageIn",
    "ProducerBridge",
    "Runtime",
    "app",
    "create_app",
    "main",
]
