"""Conversation reads of every common shape come back whole and oldest first, and every
shape that cannot be read whole says so in one sentence."""

from __future__ import annotations

from typing import Any

import pytest

from wiber_harness.api_reads import ReadError, ReadShape, TruncatedRead, read_conversation

# the conversation as stored, oldest first: ids m0..m6, contents tagged t00000-0..6
STORED = [{"id": f"m{i}", "text": f"t00000-{i} u1#{i} ..", "n": i} for i in range(7)]
IDS = [d["id"] for d in STORED]
TAGS = [f"t00000-{i}" for i in range(7)]


class FakeApi:
    """A read route over STORED; ``answer`` shapes one page from the request's params."""

    def __init__(self, answer: Any, cap: int = 1000) -> None:
        self.answer = answer
        self.cap = cap
        self.calls: list[dict[str, Any]] = []

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, Any, str]:
        assert path == "/c/a/b"
        self.calls.append(dict(params))
        body = self.answer(params, min(int(params.get("limit", 1000)), self.cap))
        return (200, body, "") if not isinstance(body, tuple) else body


def shape(**kw: Any) -> ReadShape:
    base: dict[str, Any] = {"path": "/c/{user1}/{user2}", "limit": 3, "id_field": "id"}
    return ReadShape(**{**base, "tag_field": "text", **kw})


def test_cursor_pages_of_an_object_as_wiber_answers() -> None:
    def answer(p: dict[str, Any], n: int) -> Any:
        start = int(p.get("after", 0))
        nxt = start + n if start + n < len(STORED) else None
        return {"items": STORED[start : start + n], "next": None if nxt is None else str(nxt)}

    api = FakeApi(answer)
    got = read_conversation(api.get, shape(items="items", cursor="next"), "a", "b")
    assert got == (IDS, TAGS)
    assert api.calls == [{"limit": 3}, {"limit": 3, "after": "3"}, {"limit": 3, "after": "6"}]


def test_one_bare_list_without_paging_and_a_full_one_is_refused() -> None:
    api = FakeApi(lambda p, n: STORED[:n])
    s = shape(items=None, paging="none", limit=10)
    assert read_conversation(api.get, s, "a", "b") == (IDS, TAGS)
    with pytest.raises(TruncatedRead, match=r"full page \(7 items, the limit\).*paging = \"none\""):
        read_conversation(api.get, shape(items=None, paging="none", limit=7), "a", "b")
    # no limit parameter at all: whatever comes back is the whole conversation
    assert (
        read_conversation(api.get, shape(items=None, paging="none", limit_param=None), "a", "b")[0]
        == IDS
    )


def test_offset_paging_reads_past_a_server_side_cap() -> None:
    api = FakeApi(lambda p, n: STORED[int(p["skip"]) : int(p["skip"]) + n], cap=2)
    got = read_conversation(api.get, shape(items=None, paging="offset", param="skip"), "a", "b")
    assert got == (IDS, TAGS)
    assert [c["skip"] for c in api.calls] == [0, 2, 4, 6, 7]  # until an empty page


def test_after_id_paging() -> None:
    def answer(p: dict[str, Any], n: int) -> Any:
        start = IDS.index(p["after"]) + 1 if "after" in p else 0
        return {"data": STORED[start : start + n]}

    got = read_conversation(FakeApi(answer).get, shape(items="data", paging="after"), "a", "b")
    assert got == (IDS, TAGS)


def test_before_id_paging_newest_first() -> None:
    def answer(p: dict[str, Any], n: int) -> Any:
        end = IDS.index(p["before"]) if "before" in p else len(STORED)
        return list(reversed(STORED[max(end - n, 0) : end]))  # newest first, going back

    s = shape(items=None, paging="before", param="before", order="newest_first")
    assert read_conversation(FakeApi(answer).get, s, "a", "b") == (IDS, TAGS)


def test_items_without_a_tag_have_none_and_a_shape_without_tags_reads_none() -> None:
    plain = [{"id": "x", "text": "hello"}, {"id": "y"}]
    api = FakeApi(lambda p, n: plain)
    s = shape(items=None, paging="none", limit=10)
    assert read_conversation(api.get, s, "a", "b") == (["x", "y"], [None, None])
    s = shape(items=None, paging="none", limit=10, tag_field=None)
    assert read_conversation(FakeApi(lambda p, n: STORED).get, s, "a", "b")[1] == [None] * 7


@pytest.mark.parametrize(
    ("answer", "kw", "message"),
    [
        (lambda p, n: (500, None, "boom"), {}, r"GET /c/a/b answered 500: boom"),
        (lambda p, n: {"items": []}, {"items": None, "paging": "none"}, r"not a JSON list"),
        (lambda p, n: [], {"items": "items"}, r"no list in 'items' \(it is a list\)"),
        (lambda p, n: {"items": [3]}, {"items": "items"}, r"item 0 is an integer"),
        (lambda p, n: {"items": [{"x": 1}]}, {"items": "items"}, r"item 0 has no 'id'"),
        (
            lambda p, n: STORED[:n],
            {"items": None, "paging": "offset", "param": "offset"},
            r"same page twice.*ignores \?offset=",
        ),
        (
            lambda p, n: {"items": STORED[:1], "nextCursor": "c"},
            {"items": "items"},
            r"answered the cursor 'c' it was sent",
        ),
    ],
)
def test_unreadable_shapes_are_one_sentence(answer: Any, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ReadError, match=message):
        read_conversation(FakeApi(answer).get, shape(**kw), "a", "b")
