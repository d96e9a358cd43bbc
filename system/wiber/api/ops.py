"""The operations routes: health, Prometheus metrics, runtime failpoints.

Promises: ``GET /health/liveness`` answers 200 while the process serves;
``GET /health/readiness`` answers 200 only when Kafka metadata (topic with
leaders) and a store ping both answer within ``READINESS_TIMEOUT_S``, else
503 (+ ``Retry-After``) naming each part that is down with one fixed word
of ``REASONS`` (never exception text: that goes to the log, once per
change); ``GET /metrics`` is the Prometheus text; ``GET /openapi.json``,
``/docs`` and ``/redoc`` are 404 unless ``WIBER_API_DOCS=true``; ``PUT/GET
/debug/failpoints`` set and show the runtime failpoints, and are 404
unless ``WIBER_DEBUG_ENDPOINTS=true``; a PUT naming a point not in
``wiber.failpoints.POINTS``, or a delay outside 0..``MAX_DELAY_MS``, is
refused with 422 and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wiber import failpoints
from wiber.api.answers import RESPONSES
from wiber.api.errors import ApiError, json_response
from wiber.api.middleware import take_body
from wiber.api.produce import RETRY_AFTER_S
from wiber.api.runtime import Runtime, runtime_of

log = logging.getLogger("wiber.api")

READINESS_TIMEOUT_S = 1.5
# What readiness says of a part: fixed words, so no exception text reaches a client.
REASONS = ("ok", "not_running", "unavailable", "timeout", "error")
_last_logged: dict[str, str | None] = {}

router = APIRouter()


@router.get("/health/liveness", responses=RESPONSES["liveness"])
async def liveness() -> Response:
    return json_response(200, {"status": "ok"})


@router.get("/health/readiness", responses=RESPONSES["readiness"])
async def readiness(request: Request) -> Response:
    rt = runtime_of(request)
    t = READINESS_TIMEOUT_S
    if not rt.bridge.ready:
        kafka: tuple[str, str | None] = ("not_running", "producer not running")
        store = await _bounded(rt.pool, rt.store.ping, t)
    else:
        kafka, store = await asyncio.gather(
            _bounded(rt.pool, rt.bridge.check_metadata, rt.settings.topic, t),
            _bounded(rt.pool, rt.store.ping, t),
        )
    _log_change("kafka", kafka[1])
    _log_change("store", store[1])
    body = {"kafka": kafka[0], "store": store[0]}
    down = [n for n in ("kafka", "store") if body[n] != "ok"]
    if down:
        body["status"] = "not ready"
        body["message"] = (
            " and ".join(down) + " down: " + "; ".join(f"{n}: {body[n]}" for n in down)
        )
        return json_response(503, body, {"Retry-After": RETRY_AFTER_S})
    body["status"] = "ready"
    return json_response(200, body)


async def _bounded(
    pool: ThreadPoolExecutor, fn: Callable[..., str | None], *args: Any
) -> tuple[str, str | None]:
    """Run a blocking check in ``pool``: (a word of REASONS, the detail for the log)."""
    t = READINESS_TIMEOUT_S
    loop = asyncio.get_running_loop()
    try:
        why = await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), t + 0.5)
    except TimeoutError:
        return "timeout", f"no answer within {t}s"
    except Exception as e:
        return "error", f"{type(e).__name__}: {e}"
    return ("ok", None) if why is None else ("unavailable", why)


def _log_change(part: str, detail: str | None) -> None:
    """Log a part's readiness detail when it changes (readiness is polled often)."""
    if _last_logged.get(part) != detail:
        _last_logged[part] = detail
        if detail is None:
            log.info("readiness: %s ok", part)
        else:
            log.warning("readiness: %s down: %s", part, detail)


@router.get("/metrics", responses=RESPONSES["metrics"], response_class=PlainTextResponse)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> Response:
    _require_docs(runtime_of(request))
    return json_response(200, request.app.openapi())


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> Response:
    _require_docs(runtime_of(request))
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Wiber API")


@router.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> Response:
    _require_docs(runtime_of(request))
    return get_redoc_html(openapi_url="/openapi.json", title="Wiber API")


def _require_docs(rt: Runtime) -> None:
    if not rt.settings.api_docs:
        raise ApiError(404, "not_found", "API docs are off (WIBER_API_DOCS=true)")


@router.put("/debug/failpoints", responses=RESPONSES["put_failpoints"])
async def put_failpoints(request: Request) -> Response:
    _require_debug(runtime_of(request))
    raw = bytes(await take_body(request)).decode("utf-8", errors="replace")
    spec = raw
    if raw.lstrip().startswith("{"):
        try:
            spec = str(orjson.loads(raw).get("spec", ""))
        except (orjson.JSONDecodeError, AttributeError):
            raise ApiError(400, "invalid_json", 'body must be a spec or {"spec": "..."}') from None
    try:
        failpoints.check_points(failpoints.parse_spec(spec))
        failpoints.REGISTRY.set_runtime(spec)
    except failpoints.FailpointSpecError as e:
        raise ApiError(
            422, "invalid_failpoints", str(e), [{"field": "body", "message": str(e)}]
        ) from None
    return json_response(200, failpoints.status())


@router.get("/debug/failpoints", responses=RESPONSES["get_failpoints"])
async def get_failpoints(request: Request) -> Response:
    _require_debug(runtime_of(request))
    return json_response(200, failpoints.status())


def _require_debug(rt: Runtime) -> None:
    if not rt.settings.debug_endpoints:
        raise ApiError(404, "not_found", "debug endpoints are off (WIBER_DEBUG_ENDPOINTS=true)")


__all__ = ["READINESS_TIMEOUT_S", "REASONS", "router"]
