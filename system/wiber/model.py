"""Messages: identities, validation and the Kafka record format.

Promises:

* **Conversation id.** A conversation is the unordered pair of its users:
  ``conversation_id("alice", "bob") == conversation_id("bob", "alice") ==
  "alice:bob"`` (the two names sorted by code point, joined by ``:``). User
  names may not contain ``:`` (nor ``/``), so the id is unambiguous. It is
  the Kafka key (in the safe partitioning), so a whole conversation lives in
  one partition and keeps its order there.
* **User names**: 1..``max_user_len`` characters from letters, digits and
  ``. _ - @ +``. A user may message themself (``fromUser == toUser``): a
  notes-to-self conversation ``"alice:alice"``, like most messengers allow.
* **Content**: a non-empty string of at most ``max_content_bytes`` UTF-8
  bytes.
* **Message id.** With an idempotency key (``Idempotency-Key`` header or the
  ``clientMessageId`` body field) the id is ``uuid5(NAMESPACE, fromUser +
  "\\x00" + key)``: the same sender retrying with the same key gets the same
  id from any API instance, before and after restarts, so the store keeps
  one copy. Two different senders using the same key get different ids.
  Without a key the id is a random uuid4 and a retry is a new message.
  If both the header and the body field are given they must be equal.
* **Record.** The Kafka value is UTF-8 JSON with every message field, the
  idempotency key (``clientMessageId``, null when none) and ``producedAtNs``
  (epoch ns when the API produced it). ``parse_record`` accepts exactly what
  ``encode_record`` writes (plus unknown extra fields) and raises
  ``InvalidRecord`` with a reason otherwise; the consumer sends those to the
  dead-letter topic.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

# Fixed forever: changing it would change every derived messageId.
NAMESPACE = uuid.UUID("6f1c2b8e-3a5d-5e4f-9b7a-2c1d0e9f8a7b")

# fullmatch, not match: with match, "$" also matches before a trailing newline.
USER_PATTERN = re.compile(r"[A-Za-z0-9._@+\-]+")
USER_RULE = "letters, digits and . _ - @ + only"


class InvalidRecord(ValueError):
    """A Kafka record that is not a valid Wiber message (goes to the DLQ)."""


def conversation_id(user_a: str, user_b: str) -> str:
    """Canonical id of the conversation between two users (order-independent)."""
    a, b = (user_a, user_b) if user_a <= user_b else (user_b, user_a)
    return f"{a}:{b}"


def direction_key(from_user: str, to_user: str) -> str:
    """The unsafe per-direction partition key."""
    return f"{from_user}->{to_user}"


def derive_message_id(from_user: str, key: str | None) -> str:
    """Deterministic id for (sender, idempotency key); a fresh uuid4 when there is no key."""
    # The same string as str(uuid.uuid5(NAMESPACE, f"{from_user}\x00{key}")) (or
    # str(uuid.uuid4())), without the UUID objects: see derive_message_ids.
    if key is None:
        return _uuid_text(os.urandom(16).hex(), "4")
    h = _NS_SHA1.copy()
    h.update(f"{from_user}\x00{key}".encode())
    return _uuid_text(h.hexdigest(), "5")


# uuid5(NAMESPACE, name) hashes NAMESPACE.bytes + name: the namespace part, hashed once.
_NS_SHA1 = hashlib.sha1(NAMESPACE.bytes, usedforsecurity=False)
# The RFC 4122 variant bits (10xx) of the 17th hex digit, as uuid.UUID(..., version=N)
# sets them: each hex digit to the digit with its top two bits replaced.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def derive_message_ids(from_users: Sequence[str], keys: Sequence[str | None]) -> list[str]:
    """``derive_message_id`` of each (sender, key) pair: the same strings, in one pass.

    The ids of a batch without a ``UUID`` object (nor a 128-bit integer) per
    id: the hex digest with the version digit and the variant bits set in
    the text, and one ``os.urandom`` for all the keyless ones (uuid4 reads
    16 bytes per id).
    """
    keyless = sum(k is None for k in keys)
    rand = os.urandom(16 * keyless).hex() if keyless else ""
    out: list[str] = []
    r = 0
    ns = _NS_SHA1.copy
    var = _VARIANT
    for from_user, key in zip(from_users, keys, strict=True):
        if key is None:
            d, v = rand[r : r + 32], "4"
            r += 32
        else:
            h = ns()
            h.update(f"{from_user}\x00{key}".encode())
            d, v = h.hexdigest(), "5"
        out.append(f"{d[:8]}-{d[8:12]}-{v}{d[13:16]}-{var[d[16]]}{d[17:20]}-{d[20:32]}")
    return out


def _uuid_text(d: str, version: str) -> str:
    """32+ hex digits as a uuid's text, with its version digit and variant bits set."""
    return f"{d[:8]}-{d[8:12]}-{version}{d[13:16]}-{_VARIANT[d[16]]}{d[17:20]}-{d[20:32]}"


def check_user(value: str, max_len: int) -> str | None:
    """Why ``value`` is not a valid user name, or None if it is."""
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"must be at most {max_len} characters (got {len(value)})"
    if not USER_PATTERN.fullmatch(value):
        return f"may contain {USER_RULE}"
    return None


def check_content(value: str, max_bytes: int) -> str | None:
    """Why ``value`` is not valid content, or None if it is."""
    if not value:
        return "must not be empty"
    try:
        n = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON, not text
        return "must be valid Unicode text (no lone surrogates)"
    if n > max_bytes:
        return f"must be at most {max_bytes} bytes of UTF-8 (got {n})"
    return None


def check_key(value: str, max_len: int) -> str | None:
    """Why ``value`` is not a valid idempotency key, or None if it is."""
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"must be at most {max_len} characters (got {len(value)})"
    if not value.isprintable():
        return "must be printable text"
    return None


def now_iso() -> str:
    """Current UTC time as ISO-8601 with microseconds and a ``Z``."""
    return iso_of_ns(time.time_ns())


def now_stamp() -> tuple[str, int]:
    """The current time once, as (``now_iso`` text, epoch ns): a message's two clocks."""
    ns = time.time_ns()
    return iso_of_ns(ns), ns


def iso_of_ns(ns: int) -> str:
    """Epoch ns as ``now_iso`` writes a time: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC)."""
    sec, rest = divmod(ns, 1_000_000_000)
    global _SECOND
    if _SECOND[0] != sec:  # the text of the second, made once a second
        _SECOND = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{_SECOND[1]}.{rest // 1000:06d}Z"


_SECOND: tuple[int, str] = (-1, "")


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it travels through Kafka (the record value)."""

    messageId: str
    conversationId: str
    fromUser: str
    toUser: str
    content: str
    timestamp: str
    clientMessageId: str | None
    producedAtNs: int

    @classmethod
    def new(
        cls, from_user: str, to_user: str, content: str, client_message_id: str | None
    ) -> Message:
        timestamp, ns = now_stamp()
        return cls(
            messageId=derive_message_id(from_user, client_message_id),
            conversationId=conversation_id(from_user, to_user),
            fromUser=from_user,
            toUser=to_user,
            content=content,
            timestamp=timestamp,
            clientMessageId=client_message_id,
            producedAtNs=ns,
        )

    def partition_key(self, mode: str) -> bytes:
        key = (
            self.conversationId
            if mode == "conversation"
            else direction_key(self.fromUser, self.toUser)
        )
        return key.encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "messageId": self.messageId,
            "conversationId": self.conversationId,
            "fromUser": self.fromUser,
            "toUser": self.toUser,
            "content": self.content,
            "timestamp": self.timestamp,
            "clientMessageId": self.clientMessageId,
            "producedAtNs": self.producedAtNs,
        }


def encode_record(msg: Message) -> bytes:
    return orjson.dumps(msg.to_dict())


_REQUIRED_STR = ("messageId", "fromUser", "toUser", "content", "timestamp")


def parse_record(value: bytes | None) -> Message:
    """Decode a record value; InvalidRecord says why it is not a message."""
    if value is None:
        raise InvalidRecord("record has no value")
    try:
        d = orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise InvalidRecord(f"value is not JSON: {e}") from None
    if not isinstance(d, dict):
        raise InvalidRecord(f"value is a JSON {type(d).__name__}, not an object")
    for f in _REQUIRED_STR:
        v = d.get(f)
        if not isinstance(v, str) or not v:
            raise InvalidRecord(f"field {f!r} is missing or not a non-empty string")
    conv = conversation_id(d["fromUser"], d["toUser"])
    if d.get("conversationId", conv) != conv:
        raise InvalidRecord(f"conversationId {d.get('conversationId')!r} is not {conv!r}")
    cmid = d.get("clientMessageId")
    if cmid is not None and not isinstance(cmid, str):
        raise InvalidRecord("field 'clientMessageId' is not a string or null")
    produced = d.get("producedAtNs", 0)
    if not isinstance(produced, int) or isinstance(produced, bool):
        raise InvalidRecord("field 'producedAtNs' is not an integer")
    return Message(
        messageId=d["messageId"],
        conversationId=conv,
        fromUser=d["fromUser"],
        toUser=d["toUser"],
        content=d["content"],
        timestamp=d["timestamp"],
        clientMessageId=cmid,
        producedAtNs=produced,
    )


__all__ = [
    "NAMESPACE",
    "USER_RULE",
    "InvalidRecord",
    "Message",
    "check_content",
    "check_key",
    "check_user",
    "conversation_id",
    "derive_message_id",
    "derive_message_ids",
    "direction_key",
    "encode_record",
    "iso_of_ns",
    "now_iso",
    "now_stamp",
    "parse_record",
]
