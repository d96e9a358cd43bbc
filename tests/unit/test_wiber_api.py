"""wiber.api request validation and status mapping, with Kafka and the store faked.

Only validation and the mapping of producer outcomes to statuses are tested
here; the real path runs in tests/integration/test_pipeline.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiber.api import create_app
from wiber.model import derive_message_id
from wiber.producer import Delivered, NotSent, OutcomeUnknown
from wiber.settings import Settings


class FakeBridge:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail: Exception | None = None
        self.ready = True

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float) -> Delivered:
        if self.fail is not None:
            raise self.fail
        self.sent.append((topic, key, value))
        return Delivered(0, len(self.sent) - 1)

    def check_metadata(self, topic: str, timeout_s: float) -> str | None:
        return None


class FakeStore:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.down = False
        self.calls: list[tuple[str, Any, int]] = []

    def read_conversation(
        self, conv: str, after: tuple[int, int] | None, limit: int, timeout_s: float
    ) -> list[dict[str, Any]]:
        if self.down:
            raise ConnectionError("down")
        self.calls.append((conv, after, limit))
        rows = [d for d in self.docs if d["conversationId"] == conv]
        rows.sort(key=lambda d: (d["partition"], d["offset"]))
        if after is not None:
            rows = [d for d in rows if (d["partition"], d["offset"]) > after]
        return rows[:limit]

    def ping(self, timeout_s: float) -> str | None:
        return "ConnectionError: down" if self.down else None


@pytest.fixture
def parts() -> tuple[FakeBridge, FakeStore]:
    return FakeBridge(), FakeStore()


@pytest.fixture
def client(parts: tuple[FakeBridge, FakeStore]) -> Iterator[TestClient]:
    s = Settings(max_batch=5, max_content_bytes=100, max_user_len=10, debug_endpoints=True)
    app = create_app(s, bridge=parts[0], store=parts[1])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post(c: TestClient, body: Any, **headers: str) -> Any:
    return c.post("/messages", json=body, headers=headers)


GOOD = {"fromUser": "alice", "toUser": "bob", "content": "hi"}


def test_created_after_ack(client: TestClient, parts: tuple[FakeBridge, FakeStore]) -> None:
    r = post(client, GOOD)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["conversationId"] == "alice:bob"
    assert {
        "messageId",
        "fromUser",
        "toUser",
        "content",
        "timestamp",
        "partition",
        "offset",
    } <= set(b)
    topic, key, _ = parts[0].sent[0]
    assert topic == "wiber.messages" and key == b"alice:bob"


def test_idempotency_key_gives_the_same_message_id(client: TestClient) -> None:
    a = post(client, GOOD, **{"Idempotency-Key": "k1"}).json()["messageId"]
    b = post(client, GOOD, **{"Idempotency-Key": "k1"}).json()["messageId"]
    c = post(client, {**GOOD, "clientMessageId": "k1"}).json()["messageId"]
    assert a == b == c == derive_message_id("alice", "k1")


def test_header_and_body_key_must_agree(client: TestClient) -> None:
    r = post(client, {**GOOD, "clientMessageId": "a"}, **{"Idempotency-Key": "b"})
    assert r.status_code == 422
    assert "differ" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"toUser": "bob", "content": "hi"}, "fromUser"),
        ({"fromUser": "alice", "content": "hi"}, "toUser"),
        ({"fromUser": "alice", "toUser": "bob"}, "content"),
        ({**GOOD, "fromUser": ""}, "fromUser"),
        ({**GOOD, "fromUser": "x" * 11}, "fromUser"),
        ({**GOOD, "toUser": "a:b"}, "toUser"),
        ({**GOOD, "content": ""}, "content"),
        ({**GOOD, "content": "x" * 101}, "content"),
        ({**GOOD, "content": 5}, "content"),
        ({**GOOD, "fromUser": None}, "fromUser"),
        ({**GOOD, "toUser": ["bob"]}, "toUser"),
        ({**GOOD, "clientMessageId": 7}, "clientMessageId"),
        ({**GOOD, "clientMessageId": ""}, "clientMessageId"),
        ([1, 2], "body"),
        ("text", "body"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(client: TestClient, body: Any, field: str) -> None:
    r = post(client, body)
    assert r.status_code == 422, r.text
    j = r.json()
    assert j["error"] == "invalid_request" and j["message"]
    assert any(field in d["field"] for d in j["details"]), j


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"fromUser":"alice","toUser":"bob","content":"\\ud800"}', "content"),
        (
            b'{"fromUser":"alice","toUser":"bob","content":"x","clientMessageId":"\\udfff"}',
            "clientMessageId",
        ),
    ],
)
def test_lone_surrogates_are_4xx_not_500(client: TestClient, raw: bytes, field: str) -> None:
    r = client.post("/messages", content=raw, headers={"content-type": "application/json"})
    # The JSON parser itself refuses lone surrogates (400); 422 would do too.
    assert r.status_code in (400, 422), r.text
    assert r.json()["message"] and r.json()["details"]


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/messages", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"


def test_oversize_body_is_413(client: TestClient) -> None:
    big = {**GOOD, "content": "x" * 10_000_000}
    r = post(client, big)
    assert r.status_code == 413


def test_self_messages_are_allowed(client: TestClient) -> None:
    r = post(client, {"fromUser": "alice", "toUser": "alice", "content": "note"})
    assert r.status_code == 201 and r.json()["conversationId"] == "alice:alice"


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    assert post(client, {**GOOD, "seq": 3}).status_code == 201


def test_not_sent_is_503_with_retry_after(
    client: TestClient, parts: tuple[FakeBridge, FakeStore]
) -> None:
    parts[0].fail = NotSent("the producer's local queue is full")
    r = post(client, GOOD)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"] == "not_sent"


def test_unknown_outcome_is_504_asking_for_the_same_key(
    client: TestClient, parts: tuple[FakeBridge, FakeStore]
) -> None:
    parts[0].fail = OutcomeUnknown("no acknowledgement")
    r = post(client, GOOD, **{"Idempotency-Key": "k"})
    assert r.status_code == 504
    j = r.json()
    assert j["error"] == "outcome_unknown" and "same Idempotency-Key" in j["message"]
    assert j["messageId"] == derive_message_id("alice", "k")


def test_batch_all_ok(client: TestClient) -> None:
    r = client.post(
        "/messages/batch", json={"messages": [GOOD, GOOD]}, headers={"Idempotency-Key": "b"}
    )
    assert r.status_code == 201
    res = r.json()["results"]
    assert [x["status"] for x in res] == [201, 201]
    assert res[0]["messageId"] == derive_message_id("alice", "b:0")
    assert res[1]["messageId"] == derive_message_id("alice", "b:1")


def test_batch_partial_is_207(client: TestClient, parts: tuple[FakeBridge, FakeStore]) -> None:
    parts[0].fail = OutcomeUnknown("x")
    r = client.post("/messages/batch", json={"messages": [GOOD]})
    assert r.status_code == 207 and r.json()["results"][0]["status"] == 504


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [GOOD] * 6},
        {"messages": [GOOD, {**GOOD, "content": ""}]},
        {"messages": "nope"},
        {},
    ],
)
def test_bad_batches_are_422(
    client: TestClient, parts: tuple[FakeBridge, FakeStore], body: Any
) -> None:
    r = client.post("/messages/batch", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["message"]
    assert parts[0].sent == []  # nothing of a rejected batch is sent


def test_read_in_log_order_with_cursor(
    client: TestClient, parts: tuple[FakeBridge, FakeStore]
) -> None:
    for i in range(5):
        parts[1].docs.append(
            {"conversationId": "alice:bob", "partition": 2, "offset": 10 + i, "messageId": str(i)}
        )
    r = client.get("/messages/bob/alice", params={"limit": 2})
    assert r.status_code == 200
    j = r.json()
    assert [m["messageId"] for m in j["messages"]] == ["0", "1"] and j["nextCursor"] == "2:11"
    j = client.get("/messages/alice/bob", params={"limit": 2, "after": j["nextCursor"]}).json()
    assert [m["messageId"] for m in j["messages"]] == ["2", "3"]
    j = client.get("/messages/alice/bob", params={"limit": 2, "after": j["nextCursor"]}).json()
    assert [m["messageId"] for m in j["messages"]] == ["4"] and j["nextCursor"] is None


@pytest.mark.parametrize(
    "url",
    [
        "/messages/alice/bob?limit=0",
        "/messages/alice/bob?limit=abc",
        "/messages/alice/bob?limit=100000",
        "/messages/alice/bob?after=xyz",
        "/messages/al:ice/bob",
    ],
)
def test_bad_reads_are_422(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422, r.text


def test_read_with_store_down_is_503(
    client: TestClient, parts: tuple[FakeBridge, FakeStore]
) -> None:
    parts[1].down = True
    r = client.get("/messages/alice/bob")
    assert r.status_code == 503 and r.json()["error"] == "store_unavailable"


def test_readiness_names_the_part_that_is_down(
    client: TestClient, parts: tuple[FakeBridge, FakeStore]
) -> None:
    assert client.get("/health/readiness").status_code == 200
    parts[1].down = True
    r = client.get("/health/readiness")
    assert r.status_code == 503
    assert r.json()["store"] != "ok" and r.json()["kafka"] == "ok"
    assert "store" in r.json()["message"]
    assert client.get("/health/liveness").status_code == 200


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    post(client, GOOD)
    client.get("/messages/alice/bob")
    text = client.get("/metrics").text
    assert 'wiber_api_requests_total{method="POST",route="/messages",status="201"}' in text
    assert 'route="/messages/{user1}/{user2}"' in text
    assert "wiber_api_produce_seconds_bucket" in text
    assert "wiber_api_inflight_produces" in text


def test_unknown_route_is_404_json(client: TestClient) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.delete("/messages").status_code == 405


def test_failpoint_raise_after_ack_is_500_unknown(client: TestClient) -> None:
    client.put("/debug/failpoints", content="api.after_ack_before_response=raise@1")
    r = post(client, GOOD)
    assert r.status_code == 500 and "unknown" in r.json()["message"]
    client.put("/debug/failpoints", content="")


def test_debug_failpoints(client: TestClient) -> None:
    r = client.put("/debug/failpoints", content="api.before_produce=raise@1")
    assert r.status_code == 200 and "api.before_produce" in r.json()["rules"]
    assert post(client, GOOD).status_code == 503  # raised before produce: surely not sent
    assert post(client, GOOD).status_code == 201
    assert client.put("/debug/failpoints", content="x=explode").status_code == 422
    client.put("/debug/failpoints", content="")


def test_debug_endpoints_off_by_default(parts: tuple[FakeBridge, FakeStore]) -> None:
    app = create_app(Settings(), bridge=parts[0], store=parts[1])
    with TestClient(app) as c:
        assert c.put("/debug/failpoints", content="x=crash").status_code == 404


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "fromUser": json_values | st.from_regex(r"[a-z]{1,12}", fullmatch=True),
            "toUser": json_values | st.from_regex(r"[a-z]{1,12}", fullmatch=True),
            "content": json_values,
            "clientMessageId": json_values,
        },
    )
    | json_values
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies, header=st.none() | st.text(alphabet=st.characters(max_codepoint=255), max_size=20)
)
def test_no_body_ever_gets_a_500(client: TestClient, body: Any, header: str | None) -> None:
    headers = {} if header is None else {"Idempotency-Key": header}
    try:
        r = client.post("/messages", json=body, headers=headers)
    except UnicodeEncodeError:  # the client cannot even send it
        return
    assert r.status_code in (201, 400, 413, 422), r.text
    rb = client.post("/messages/batch", json={"messages": [body]}, headers=headers)
    assert rb.status_code in (201, 207, 400, 413, 422), rb.text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    u1=st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s and s not in (".", "..")),
    limit=st.none() | st.integers() | st.text(max_size=5),
    after=st.none() | st.text(max_size=30),
)
def test_no_read_ever_gets_a_500(client: TestClient, u1: str, limit: Any, after: Any) -> None:
    params = {k: v for k, v in (("limit", limit), ("after", after)) if v is not None}
    r = client.get(f"/messages/{quote(u1, safe='')}/bob", params=params)
    assert r.status_code in (200, 404, 422), r.text


def test_openapi_documents_the_bodies_and_the_key_header(
    parts: tuple[FakeBridge, FakeStore],
) -> None:
    # The schema is served only with WIBER_API_DOCS=true (off by default).
    app = create_app(Settings(api_docs=True), bridge=parts[0], store=parts[1])
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
    post = spec["paths"]["/messages"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert {"fromUser", "toUser", "content"} <= set(schema["required"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "/messages/batch" in spec["paths"]
