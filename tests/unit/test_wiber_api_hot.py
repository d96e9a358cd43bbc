"""wiber.api.hot: the two POST routes answer the same whether WiberApp or FastAPI serves them.

Each request below is sent to two apps over the same fakes, one with the hot
path (the default) and one with ``hot = False`` (FastAPI's route), and the
statuses, headers and bodies are compared (timestamps aside: they are the
clock's), and so are the records sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.unit.test_wiber_api import FakeBridge, FakeStore
from wiber.api import create_app
from wiber.api.hot import WiberApp, idempotency_key
from wiber.producer import NotSent, OutcomeUnknown
from wiber.settings import Settings

GOOD = {"fromUser": "alice", "toUser": "bob", "content": "hi", "clientMessageId": "k1"}
ITEM = {"fromUser": "bob", "toUser": "carol", "content": "yo"}

# (path, body bytes or JSON, headers, failpoint spec or None, bridge failure or None)
CASES: list[tuple[str, Any, dict[str, str], str | None, Exception | None]] = [
    ("/messages", GOOD, {}, None, None),
    ("/messages", {**GOOD, "clientMessageId": None}, {"Idempotency-Key": "h1"}, None, None),
    ("/messages", GOOD, {"Idempotency-Key": "other"}, None, None),
    ("/messages", GOOD, {"Idempotency-Key": "bad\x01"}, None, None),
    ("/messages", {"fromUser": "a:b", "toUser": "", "content": ""}, {}, None, None),
    ("/messages", {"fromUser": 1, "toUser": "bob"}, {}, None, None),
    ("/messages", b"{not json", {}, None, None),
    ("/messages", b"[]", {}, None, None),
    ("/messages", {**GOOD, "content": "x" * 101}, {}, None, None),
    ("/messages", {**GOOD, "content": "x" * 5000}, {}, None, None),
    ("/messages", GOOD, {}, None, NotSent("queue full")),
    ("/messages", GOOD, {}, None, OutcomeUnknown("no ack")),
    ("/messages", GOOD, {}, "api.before_produce=raise@1", None),
    ("/messages", GOOD, {}, "api.after_ack_before_response=raise@1", None),
    ("/messages/batch", {"messages": [GOOD, ITEM]}, {"Idempotency-Key": "b"}, None, None),
    ("/messages/batch", {"messages": [GOOD, {**ITEM, "toUser": "x/y"}]}, {}, None, None),
    ("/messages/batch", {"messages": []}, {}, None, None),
    ("/messages/batch", {"messages": [ITEM] * 6}, {}, None, None),
    ("/messages/batch", b'{"messages": [', {}, None, None),
    ("/messages/batch", {"messages": [ITEM, ITEM]}, {"Idempotency-Key": "b"}, None, NotSent("q")),
    ("/messages/batch", {"messages": [GOOD]}, {}, "api.after_ack_before_response=raise@1", None),
]


@pytest.fixture
def clients() -> Iterator[tuple[TestClient, TestClient, FakeBridge, FakeBridge]]:
    s = Settings(max_batch=5, max_content_bytes=100, max_user_len=10, debug_endpoints=True)
    bridges = FakeBridge(), FakeBridge()
    apps = [create_app(s, bridge=b, store=FakeStore()) for b in bridges]
    assert isinstance(apps[1], WiberApp)
    apps[1].hot = False
    with (
        TestClient(apps[0], raise_server_exceptions=False) as hot,
        TestClient(apps[1], raise_server_exceptions=False) as slow,
    ):
        yield hot, slow, *bridges


def _answer(c: TestClient, case: tuple[str, Any, dict[str, str], str | None, Any]) -> Any:
    path, body, headers, spec, _ = case
    if spec is not None:
        assert c.put("/debug/failpoints", content=spec).status_code == 200
    if isinstance(body, bytes):
        r = c.post(path, content=body, headers={"Content-Type": "application/json", **headers})
    else:
        r = c.post(path, json=body, headers=headers)
    c.put("/debug/failpoints", content="")
    doc = r.json()
    for item in [doc, *doc.get("results", ())]:
        item.pop("timestamp", None)
    kept = {k: v for k, v in r.headers.items() if k in ("content-type", "retry-after")}
    return r.status_code, kept, doc


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}#{i}" for i, c in enumerate(CASES)])
def test_hot_path_answers_as_fastapi_does(
    clients: tuple[TestClient, TestClient, FakeBridge, FakeBridge], case: Any
) -> None:
    hot, slow, hb, sb = clients
    hb.fail = sb.fail = case[4]
    a, b = _answer(hot, case), _answer(slow, case)
    assert a == b
    assert _records(hb) == _records(sb)


def _records(b: FakeBridge) -> list[tuple[str, bytes, dict[str, Any]]]:
    out = []
    for topic, key, value in b.sent:
        doc = orjson.loads(value)
        del doc["timestamp"], doc["producedAtNs"]
        out.append((topic, key, doc))
    return out


def test_hot_path_counts_requests_by_route_template(
    clients: tuple[TestClient, TestClient, FakeBridge, FakeBridge],
) -> None:
    hot, *_ = clients
    before = _count(hot, "/messages/batch", "201")
    assert hot.post("/messages/batch", json={"messages": [ITEM]}).status_code == 201
    assert _count(hot, "/messages/batch", "201") == before + 1


def _count(c: TestClient, route: str, status: str) -> float:
    want = f'wiber_api_requests_total{{method="POST",route="{route}",status="{status}"}}'
    for line in c.get("/metrics").text.splitlines():
        if line.startswith(want):
            return float(line.split()[-1])
    return 0.0


def test_idempotency_key_is_the_first_header_read_as_latin_1() -> None:
    scope = {"headers": [(b"a", b"x"), (b"idempotency-key", b"k\xe9"), (b"idempotency-key", b"2")]}
    assert idempotency_key(scope) == "k\u00e9"
    assert idempotency_key({"headers": []}) is None
