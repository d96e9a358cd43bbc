"""``POST /messages/batch`` bodies to Kafka records, one pass over the batch.

Promise: ``prepare_batch(raw, limits, settings, header_key)`` returns the
same messages (ids, keys, record bytes) the per-item path returns
(``bodies.parse_batch``, ``validate_item`` and ``Message.new`` for each
item, the ``Idempotency-Key`` header giving item ``i`` without a
``clientMessageId`` the key ``<header>:<i>``), and raises the same
``ApiError`` for the same body, in the same order: 413, the shape 422,
400, the length 422, the items' type 422, the header's 422, then every
broken rule. What it does differently is only how much Python runs:

* a body holding exactly the known fields is decoded and type-checked in
  C (msgspec); anything else (unknown fields, a wrong type, broken JSON)
  goes through ``bodies.parse_batch``, whose pydantic errors are the
  answer, so the fast decoder never decides what is accepted;
* the rules are checked over whole columns (one regular expression over
  every user name, one encode of every content, one ``isprintable`` of
  every key); only when that finds something does the per-item
  ``validate_item`` run, to name each problem;
* ids come from ``model.derive_message_ids``; ``timestamp`` and
  ``producedAtNs`` are taken once for the batch (its items arrive
  together).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
import orjson

from wiber.api.bodies import (
    MessageIn,
    check_header_key,
    parse_screened_batch,
    screen_batch,
    validate_item,
)
from wiber.api.errors import Detail, invalid
from wiber.api.limits import RouteLimits
from wiber.model import Message, derive_message_ids, direction_key, now_stamp
from wiber.settings import Settings


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    fromUser: str
    toUser: str
    content: str
    clientMessageId: str | None = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    messages: list[_Item]


_DECODER = msgspec.json.Decoder(_Batch)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """The batch's messages as columns, item ``i`` at index ``i`` of each."""

    message_ids: list[str]
    conversation_ids: list[str]
    from_users: list[str]
    to_users: list[str]
    contents: list[str]
    client_message_ids: list[str | None]
    timestamp: str
    produced_at_ns: int
    partition_keys: list[bytes]
    values: list[bytes]

    def __len__(self) -> int:
        return len(self.message_ids)

    def messages(self) -> list[Message]:
        """The items as ``Message`` objects (for the per-item path)."""
        return [
            Message(mid, conv, f, t, c, self.timestamp, k, self.produced_at_ns)
            for mid, conv, f, t, c, k in zip(
                self.message_ids,
                self.conversation_ids,
                self.from_users,
                self.to_users,
                self.contents,
                self.client_message_ids,
                strict=True,
            )
        ]

    def stored(self, i: int) -> dict[str, Any]:
        """Item ``i`` as the 201 answer shows it (``Message.to_dict`` less producedAtNs)."""
        return {
            "messageId": self.message_ids[i],
            "conversationId": self.conversation_ids[i],
            "fromUser": self.from_users[i],
            "toUser": self.to_users[i],
            "content": self.contents[i],
            "timestamp": self.timestamp,
            "clientMessageId": self.client_message_ids[i],
        }


def prepare_batch(
    raw: bytes | bytearray, limits: RouteLimits, s: Settings, header_key: str | None
) -> PreparedBatch:
    """The batch's messages and records, or the ApiError (see the module promise)."""
    cols = _decode(raw, limits, s.max_batch)
    check_header_key(header_key, s)
    froms, tos, contents, cmids = cols
    if not _all_valid(froms, tos, contents, cmids, s):
        _raise_problems(froms, tos, contents, cmids, header_key, s)
    if header_key is None:
        keys = cmids
    else:
        keys = [k if k is not None else f"{header_key}:{i}" for i, k in enumerate(cmids)]
    ids = derive_message_ids(froms, keys)
    convs = [f"{f}:{t}" if f <= t else f"{t}:{f}" for f, t in zip(froms, tos, strict=True)]
    if s.partition_key == "conversation":
        pkeys = [c.encode() for c in convs]
    else:
        pkeys = [direction_key(f, t).encode() for f, t in zip(froms, tos, strict=True)]
    ts, ns = now_stamp()
    dumps = orjson.dumps
    # The bytes of model.encode_record: the same keys in the same order.
    values = [
        dumps(
            {
                "messageId": mid,
                "conversationId": conv,
                "fromUser": f,
                "toUser": t,
                "content": c,
                "timestamp": ts,
                "clientMessageId": k,
                "producedAtNs": ns,
            }
        )
        for mid, conv, f, t, c, k in zip(ids, convs, froms, tos, contents, keys, strict=True)
    ]
    return PreparedBatch(ids, convs, froms, tos, contents, keys, ts, ns, pkeys, values)


_Columns = tuple[list[str], list[str], list[str], list[str | None]]


def _decode(raw: bytes | bytearray, limits: RouteLimits, max_batch: int) -> _Columns:
    """The four columns of a well-typed batch; any other body takes ``parse_batch``'s answer."""
    screen_batch(raw, limits, max_batch)  # 413 and the shape 422, before any parsing
    try:
        fast: list[_Item] | None = _DECODER.decode(raw).messages
    except (msgspec.DecodeError, RecursionError):
        fast = None
    if fast is not None and 1 <= len(fast) <= max_batch:
        return (
            [m.fromUser for m in fast],
            [m.toUser for m in fast],
            [m.content for m in fast],
            [m.clientMessageId for m in fast],
        )
    # Raises (400, the length 422, the items' 422) or returns what pydantic took.
    slow = parse_screened_batch(raw, max_batch).messages
    return (
        [m.fromUser for m in slow],
        [m.toUser for m in slow],
        [m.content for m in slow],
        [m.clientMessageId for m in slow],
    )


@lru_cache(maxsize=8)
def _users_pattern(max_len: int) -> re.Pattern[str]:
    """Names of 1..max_len USER_PATTERN characters, joined by newlines (not one of those)."""
    one = rf"[A-Za-z0-9._@+\-]{{1,{max_len}}}"
    return re.compile(rf"{one}(?:\n{one})*")


def _all_valid(
    froms: Sequence[str],
    tos: Sequence[str],
    contents: Sequence[str],
    cmids: Sequence[str | None],
    s: Settings,
) -> bool:
    """True only when ``validate_item`` finds nothing in any item (False: look closer)."""
    # check_user: 1..max_user_len characters, each matching USER_PATTERN. The
    # newline that separates the names must not come from inside one of them.
    names = [*froms, *tos]
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1:
        return False
    if _users_pattern(s.max_user_len).fullmatch(joined) is None:
        return False
    # check_content: non-empty, valid Unicode, at most max_content_bytes of UTF-8.
    if min(map(len, contents)) == 0:
        return False
    try:
        "".join(contents).encode()  # no lone surrogate in any of them
    except UnicodeEncodeError:
        return False
    limit = s.max_content_bytes
    if max(map(len, contents)) * 4 > limit and any(len(c.encode()) > limit for c in contents):
        return False
    # check_key: non-empty, at most max_key_len characters, printable.
    keys = [k for k in cmids if k is not None]
    if keys:
        lens = list(map(len, keys))
        if min(lens) == 0 or max(lens) > s.max_key_len or not "".join(keys).isprintable():
            return False
    return True


def _raise_problems(
    froms: Sequence[str],
    tos: Sequence[str],
    contents: Sequence[str],
    cmids: Sequence[str | None],
    header_key: str | None,
    s: Settings,
) -> None:
    """The per-item 422 naming every broken rule, as ``validate_item`` words it."""
    problems: list[Detail] = []
    for i, (f, t, c, k) in enumerate(zip(froms, tos, contents, cmids, strict=True)):
        item = MessageIn.model_construct(fromUser=f, toUser=t, content=c, clientMessageId=k)
        # The item's own key wins over the derived one: no header check per item.
        hk = f"{header_key}:{i}" if header_key is not None and k is None else None
        _, found = validate_item(item, hk, s, f"body.messages[{i}].")
        problems.extend(found)
    if problems:
        raise invalid(problems)


__all__ = ["PreparedBatch", "prepare_batch"]
