"""Content tags: a unique, compact mark of each message that any pipeline keeps.

Jepsen's way of matching what was read to what was written needs nothing
from the system under test: every written value is unique. The workload
gives every logical message (every idempotency key) a **tag**,
``<nonce>-<n>``: ``nonce`` is six base-36 characters derived from the run id
(so two runs against one store never share a tag) and ``n`` the message's
number in the run, in base 36 (``k3f9qz-1a``; 8 to 20 characters of
``[0-9a-z-]``). The tag travels inside the message itself, where the
profile's ``[http] tag`` puts it:

* ``"prefix"`` (the default): the content starts with the tag and a space;
* ``"suffix"``: the content ends with a space and the tag;
* ``"field"``: a body field of its own (``[http] tag_field``), content
  unchanged (for a pipeline that keeps extra fields but constrains content);
* ``None`` (``false`` in a profile): no tag.

The content keeps its ``payload_size`` (the tag takes part of the padding).
Every attempt of a key carries the same tag (resends send the same body).

The end phase finds the tag again in what the pipeline stored and in what
its read answers (:func:`find_tag`): the first tag-shaped word of the text
for a prefix (and a field), the last for a suffix. A text without one gives
None. The history records each send's tag (``value.tag``), so the checkers
can attribute a stored document to the send that wrote it even when the
pipeline keeps no idempotency key and the send never got an answer.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from wiber_harness.workload.plan import content_for

TagPlace = Literal["prefix", "suffix", "field"]
TAG_PLACES: tuple[str, ...] = ("prefix", "suffix", "field")
NONCE_LEN = 6
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# a tag as a word of its own: not glued to other letters, digits or dashes
TAG_RE = re.compile(r"(?<![0-9a-z-])[0-9a-z]{6}-[0-9a-z]{1,13}(?![0-9a-z-])")


def base36(n: int) -> str:
    """``n`` (>= 0) in base 36, lower case."""
    if n < 0:
        raise ValueError(f"base36 of a negative number ({n})")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if not n:
            return out


def nonce_for(run_id: str) -> str:
    """Six base-36 characters derived from ``run_id`` (stable for one run id)."""
    h = int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=8).digest(), "big")
    return base36(h).rjust(NONCE_LEN, "0")[-NONCE_LEN:]


def make_tag(nonce: str, n: int) -> str:
    """The tag of message number ``n`` of the run with this ``nonce``."""
    return f"{nonce}-{base36(n)}"


def tagged_content(tag: str, place: str | None, sender: str, seq: int, size: int) -> str:
    """The content of a message: sender and seq padded to ``size``, with the tag in place.

    ``place`` ``"prefix"`` or ``"suffix"`` put the tag into the content (which
    keeps ``size`` bytes when there is room); ``"field"`` and None leave the
    content as :func:`~wiber_harness.workload.plan.content_for` makes it.
    """
    if place == "prefix":
        return f"{tag} {content_for(sender, seq, max(size - len(tag) - 1, 0))}"
    if place == "suffix":
        body = content_for(sender, seq, max(size - len(tag) - 1, 0))
        return f"{body.rstrip(' ')} {tag}" if body.endswith(" ") else f"{body} {tag}"
    return content_for(sender, seq, size)


def find_tag(text: object, place: str | None = "prefix") -> str | None:
    """The tag in ``text`` (the last one for ``"suffix"``, else the first); None if none."""
    if not isinstance(text, str):
        return None
    if place == "suffix":
        found = TAG_RE.findall(text)
        return found[-1] if found else None
    m = TAG_RE.search(text)
    return m.group(0) if m else None


__all__ = [
    "TAG_PLACES",
    "TAG_RE",
    "TagPlace",
    "base36",
    "find_tag",
    "make_tag",
    "nonce_for",
    "tagged_content",
]
