"""The operations routes: health, Prometheus metrics, runtime failpoints.

Promises: ``GET /health/liveness`` answers 200 while the process serves;
``GET /health/readiness`` answers 200 only when Kafka metadata (topic with
leaders) and a store ping both answer within ``READINESS_TIMEOUT_S``, else
503 (+ ``Retry-After``) naming each part that is down; ``GET /metrics`` is
the Prometheus text; ``PUT/GET /debug/failpoints`` set and show the
runtime failpoints, and are 404 unless ``WIBER_DEBUG_ENDPOINTS=true``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wiber import failpoints
from wiber.api.errors import ApiError, json_response
from wiber.api.produce import RETRY_AFTER_S
from wiber.api.runtime import Runtime, runtime_of

READINESS_TIMEOUT_S = 1.5

router = APIRouter()


@router.get("/health/liveness")
async def liveness() -> Response:
    return json_response(200, {"status": "ok"})


@router.get("/health/readiness")
async def readiness(request: Request) -> Response:
    rt = runtime_of(request)
    t = READINESS_TIMEOUT_S
    if not rt.bridge.ready:
        kafka_err: str | None = "producer not running"
        store_err = await _bounded(rt.pool, rt.store.ping, t)
    else:
        kafka_err, store_err = await asyncio.gather(
            _bounded(rt.pool, rt.bridge.check_metadata, rt.settings.topic, t),
            _bounded(rt.pool, rt.store.ping, t),
        )
    body = {"kafka": kafka_err or "ok", "store": store_err or "ok"}
    if kafka_err or store_err:
        down = [n for n, e in (("kafka", kafka_err), ("store", store_err)) if e]
        body["status"] = "not ready"
        body["message"] = (
            " and ".join(down) + " down: " + "; ".join(f"{n}: {body[n]}" for n in down)
        )
        return json_response(503, body, {"Retry-After": RETRY_AFTER_S})
    body["status"] = "ready"
    return json_response(200, body)


async def _bounded(
    pool: ThreadPoolExecutor, fn: Callable[..., str | None], *args: Any
) -> str | None:
    """Run a blocking check in ``pool``: its answer, or why there was none in time."""
    t = READINESS_TIMEOUT_S
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), t + 0.5)
    except TimeoutError:
        return f"no answer within {t}s"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.put("/debug/failpoints")
async def put_failpoints(request: Request) -> Response:
    _require_debug(runtime_of(request))
    raw = (await request.body()).decode("utf-8", errors="replace")
    spec = raw
    if raw.lstrip().startswith("{"):
        try:
            spec = str(orjson.loads(raw).get("spec", ""))
        except (orjson.JSONDecodeError, AttributeError):
            raise ApiError(400, "invalid_json", 'body must be a spec or {"spec": "..."}') from None
    try:
        failpoints.REGISTRY.set_runtime(spec)
    except failpoints.FailpointSpecError as e:
        raise ApiError(422, "invalid_failpoints", str(e)) from None
    return json_response(200, failpoints.status())


@router.get("/debug/failpoints")
async def get_failpoints(request: Request) -> Response:
    _require_debug(runtime_of(request))
    return json_response(200, failpoints.status())


def _require_debug(rt: Runtime) -> None:
    if not rt.settings.debug_endpoints:
        raise ApiError(404, "not_found", "debug endpoints are off (WIBER_DEBUG_ENDPOINTS=true)")


__all__ = ["READINESS_TIMEOUT_S", "router"]
