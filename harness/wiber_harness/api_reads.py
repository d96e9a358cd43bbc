"""Reading one conversation back through the pipeline's API, whatever its shape.

A pipeline's conversation read comes in one of the common shapes, and the
system profile's ``[read]`` table says which (:class:`ReadShape`):

* the answer is an object whose ``items`` field holds the page, or a bare
  JSON list (``items`` None);
* pages follow by ``paging``:

  - ``"cursor"``: the answer's ``cursor`` field names the next page, sent
    back as ``?{param}=CURSOR``; a null or empty cursor ends the read;
  - ``"offset"``: ``?{param}=N`` where N is the number of items read so far
    (an API that says ``skip`` takes ``param = "skip"``); an empty page
    ends the read (so an API that caps the page size is read whole);
  - ``"after"`` / ``"before"``: ``?{param}=<id>`` of the newest / oldest
    item read so far; an empty page ends the read. ``before`` walks
    backwards in time: each page is older than the one before;
  - ``"none"``: one request with ``?{limit_param}=limit``. A page that comes
    back full (``limit`` items) may have been cut short, so the read is
    refused (:class:`TruncatedRead`) rather than judged: the conversation is
    *unknown*, with that sentence as its reason;

* ``order`` says how a page lists its items: ``"oldest_first"`` or
  ``"newest_first"``.

:func:`read_conversation` returns the conversation oldest first (the order
the checkers judge: a message's position is its index in this list) with
each item's messageId (the ``id_field``) and the content tag found in its
``tag_field`` (:func:`wiber_harness.workload.tag.find_tag`; None without
one). Every problem is a :class:`ReadError` with one sentence; the end
phase records it as the conversation's ``api_errors`` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.words import kind
from wiber_harness.workload.tag import find_tag

MAX_PAGES = 10_000

# (path, query parameters) -> (HTTP status, parsed JSON body or None, body text)
Getter = Callable[[str, dict[str, Any]], tuple[int, Any, str]]


class ReadError(Exception):
    """The conversation could not be read; the message is one sentence."""


class TruncatedRead(ReadError):
    """A read without paging came back full: it may hold less than the conversation."""


@dataclass(frozen=True)
class ReadShape:
    """How one pipeline answers a conversation read (the profile's ``[read]``)."""

    path: str = "/messages/{user1}/{user2}"
    items: str | None = "messages"
    paging: str = "cursor"
    cursor: str = "nextCursor"
    param: str = "after"
    limit_param: str | None = "limit"
    limit: int = 500
    order: str = "oldest_first"
    id_field: str = "messageId"
    tag_field: str | None = "content"
    tag_place: str | None = "prefix"

    @classmethod
    def of(cls, spec: SystemSpec) -> ReadShape:
        return cls(
            path=spec.read_path,
            items=spec.read_items,
            paging=spec.read_paging,
            cursor=spec.read_cursor,
            param=spec.read_param,
            limit_param=spec.read_limit_param,
            limit=spec.read_limit,
            order=spec.read_order,
            id_field=spec.message_id_field,
            tag_field=spec.read_tag if spec.api.tag is not None else None,
            tag_place=spec.api.tag,
        )


def read_conversation(
    get: Getter, shape: ReadShape, user1: str, user2: str
) -> tuple[list[str], list[str | None]]:
    """(messageIds, tags) of one conversation, oldest first, every page."""
    path = shape.path.format(user1=user1, user2=user2)
    ids: list[str] = []
    tags: list[str | None] = []
    state: Any = None  # the cursor, offset or id the next request sends
    last_first: str | None = None
    for page_no in range(MAX_PAGES):
        params: dict[str, Any] = {}
        if shape.limit_param is not None:
            params[shape.limit_param] = shape.limit
        if shape.paging == "offset":
            params[shape.param] = len(ids)
        elif shape.paging != "none" and state is not None:
            params[shape.param] = state
        status, body, text = get(path, params)
        if status != 200:
            raise ReadError(f"GET {path} answered {status}: {text[:200]}")
        page = _page(body, shape, page_no)
        p_ids = [_item_id(d, shape, page_no, i) for i, d in enumerate(page)]
        p_tags = [
            find_tag(d.get(shape.tag_field), shape.tag_place) if shape.tag_field else None
            for d in page
        ]
        if shape.order == "newest_first":
            p_ids.reverse()
            p_tags.reverse()
        if shape.paging == "before":
            ids[:0], tags[:0] = p_ids, p_tags
        else:
            ids += p_ids
            tags += p_tags
        if shape.paging == "none":
            if shape.limit_param is not None and len(page) >= shape.limit:
                raise TruncatedRead(
                    f"GET {path} returned a full page ({len(page)} items, the limit) and the "
                    'profile says paging = "none", so the conversation may hold more than was '
                    "read; raise [read] limit or name the API's paging"
                )
            return ids, tags
        if shape.paging == "cursor":
            nxt = body.get(shape.cursor) if isinstance(body, dict) else None
            if not nxt:
                return ids, tags
            if nxt == state:
                raise ReadError(
                    f"GET {path} answered the cursor {nxt!r:.60} it was sent; "
                    "the cursor does not advance"
                )
            state = nxt
            continue
        if not page:
            return ids, tags
        first = p_ids[0]
        if first == last_first:
            raise ReadError(
                f"GET {path} answered the same page twice (starting at {first!r:.60}); "
                f"the API ignores ?{shape.param}=, so paging = {shape.paging!r} does not fit it"
            )
        last_first = first
        if shape.paging == "after":
            state = p_ids[-1]
        elif shape.paging == "before":
            state = p_ids[0]
    raise ReadError(f"GET {path} had more than {MAX_PAGES} pages; the paging does not end")


def _page(body: Any, shape: ReadShape, page_no: int) -> list[dict[str, Any]]:
    where = f"page {page_no + 1}"
    if shape.items is None:
        if not isinstance(body, list):
            raise ReadError(
                f"{where}: the answer is {kind(body)}, not a JSON list (the profile's "
                "[read] items = false); name the field holding the items"
            )
        page: Any = body
    else:
        page = body.get(shape.items) if isinstance(body, dict) else None
        if not isinstance(page, list):
            raise ReadError(
                f"{where}: the answer has no list in '{shape.items}' (it is {kind(body)}); "
                "check the profile's [read] items (false for a bare list)"
            )
    items: list[dict[str, Any]] = []
    for i, d in enumerate(page):
        if not isinstance(d, dict):
            raise ReadError(f"{where}: item {i} is {kind(d)}, not an object")
        items.append(d)
    return items


def _item_id(d: dict[str, Any], shape: ReadShape, page_no: int, i: int) -> str:
    mid = d.get(shape.id_field)
    if mid is None:
        raise ReadError(
            f"page {page_no + 1}: item {i} has no '{shape.id_field}' (the profile's "
            "[stored] message_id); the read must return each message's id"
        )
    return str(mid)


__all__ = ["MAX_PAGES", "Getter", "ReadError", "ReadShape", "TruncatedRead", "read_conversation"]
