"""The trivial endpoint: Wiber's routes, answered at once, with nothing behind them.

``POST /messages`` and ``POST /messages/batch`` answer 201 with a body of
Wiber's shape (``messageId`` derived from sender and key as Wiber derives
it, ``conversationId, fromUser, toUser, content, timestamp,
clientMessageId, partition, offset``; batches ``{results: [{index, status,
...}]}``) and do nothing else: no Kafka, store, validation rules, metrics or
middleware. The key is the body's ``clientMessageId``, else the
``Idempotency-Key`` header (``KEY:i`` for batch item ``i``), as in Wiber.
``GET /health/readiness`` answers 200. Two servers, for the two things the
bench measures against it:

* :data:`app` (FastAPI) parses bodies with the very pydantic models of
  :mod:`wiber.api` (:class:`~wiber.api.MessageIn`,
  :class:`~wiber.api.BatchIn`). Served by the API's own uvicorn command line
  (:data:`FLOOR_APP`, see :func:`wiber_harness.bench.floor.floor_argv`),
  what one uvicorn worker can answer here is the most the API could ever
  acknowledge: the HTTP floor of the API ingest efficiency ratio.
  ``serve("fastapi")`` runs it in-process under uvicorn.
* ``serve("aiohttp")``: the same routes on aiohttp.web with a plain JSON
  parse, the cheapest server: the yardstick for the generator's own cost
  (:mod:`wiber_harness.bench.generator_selftest`).

:func:`trivial_server` starts either as a child process on a free port (the
generator and the server must not share an event loop, or each halves the
other), yields its base URL and stops it::

    python -m wiber_harness.bench.endpoint [--server aiohttp|fastapi] [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Header
from fastapi.responses import Response

from wiber.api import BatchIn, MessageIn
from wiber.model import conversation_id, derive_message_id, now_iso

Server = Literal["aiohttp", "fastapi"]
SERVERS: tuple[Server, ...] = ("aiohttp", "fastapi")
FLOOR_APP = "wiber_harness.bench.endpoint:app"
JSON = "application/json"

_offsets = itertools.count()


def answer(frm: str, to: str, content: str, key: str | None) -> dict[str, Any]:
    """Wiber's answer to one accepted message (partition 0, the next offset)."""
    return {
        "messageId": derive_message_id(frm, key),
        "conversationId": conversation_id(frm, to),
        "fromUser": frm,
        "toUser": to,
        "content": content,
        "timestamp": now_iso(),
        "clientMessageId": key,
        "partition": 0,
        "offset": next(_offsets),
    }


def item_key(header: str | None, i: int) -> str | None:
    """Batch item ``i``'s key when it has no ``clientMessageId``: ``HEADER:i``."""
    return f"{header}:{i}" if header is not None else None


def batch_answer(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"results": [{"index": i, "status": 201, **a} for i, a in enumerate(answers)]}


# -- FastAPI, Wiber's request models -------------------------------------------------------

app = FastAPI(title="Wiber HTTP floor")


def _model_answer(m: MessageIn, key: str | None) -> dict[str, Any]:
    k = m.clientMessageId if m.clientMessageId is not None else key
    return answer(m.fromUser, m.toUser, m.content, k)


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


@app.post("/messages", status_code=201)
async def post_message(
    body: MessageIn, idempotency_key: str | None = Header(None, alias="Idempotency-Key")
) -> Response:
    return _json(201, _model_answer(body, idempotency_key))


@app.post("/messages/batch", status_code=201)
async def post_batch(
    body: BatchIn, idempotency_key: str | None = Header(None, alias="Idempotency-Key")
) -> Response:
    answers = [_model_answer(m, item_key(idempotency_key, i)) for i, m in enumerate(body.messages)]
    return _json(201, batch_answer(answers))


@app.get("/health/readiness")
async def readiness() -> Response:
    return _json(200, {"status": "ready"})


# -- aiohttp, a plain JSON parse -----------------------------------------------------------


def _dict_answer(item: dict[str, Any], key: str | None) -> dict[str, Any]:
    k = item.get("clientMessageId")
    return answer(
        str(item.get("fromUser", "")),
        str(item.get("toUser", "")),
        str(item.get("content", "")),
        k if isinstance(k, str) else key,
    )


def serve_aiohttp(host: str, port: int) -> None:
    """The endpoint on aiohttp.web (blocks until killed)."""
    from aiohttp import web

    def reply(status: int, body: Any) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), content_type=JSON)

    async def single(request: web.Request) -> web.Response:
        item = orjson.loads(await request.read())
        return reply(201, _dict_answer(item, request.headers.get("Idempotency-Key")))

    async def batch(request: web.Request) -> web.Response:
        items = orjson.loads(await request.read())["messages"]
        key = request.headers.get("Idempotency-Key")
        answers = [_dict_answer(it, item_key(key, i)) for i, it in enumerate(items)]
        return reply(201, batch_answer(answers))

    async def ready(request: web.Request) -> web.Response:
        return reply(200, {"status": "ready"})

    web_app = web.Application()
    web_app.router.add_post("/messages", single)
    web_app.router.add_post("/messages/batch", batch)
    web_app.router.add_get("/health/readiness", ready)
    web.run_app(web_app, host=host, port=port, access_log=None, print=None)


def serve_fastapi(host: str, port: int) -> None:
    """:data:`app` under uvicorn, one worker (blocks until killed)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


def serve(server: Server, host: str, port: int) -> None:
    (serve_fastapi if server == "fastapi" else serve_aiohttp)(host, port)


# -- as a child process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def trivial_server(server: Server = "aiohttp", timeout: float = 20.0) -> Iterator[str]:
    """Start the endpoint as a child process; yield its base URL; stop it."""
    port = free_port()
    cmd = [sys.executable, "-m", __name__, "--server", server, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"the trivial {server} server exited: {err[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the trivial {server} server did not listen within {timeout}s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m wiber_harness.bench.endpoint",
        description="Serve the trivial endpoint (blocks until killed).",
    )
    ap.add_argument("--server", choices=SERVERS, default="aiohttp")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args(argv)
    serve(a.server, a.host, a.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "FLOOR_APP",
    "SERVERS",
    "Server",
    "answer",
    "app",
    "free_port",
    "main",
    "serve",
    "serve_aiohttp",
    "serve_fastapi",
    "trivial_server",
]
