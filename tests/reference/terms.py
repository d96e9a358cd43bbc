"""Reference terms: ``docs/verdicts.md`` section 2 (attempts, keys, attribution, reads).

:class:`Run` answers every term the checkers use (a key's status, ack time,
invoke time, returned ids, the owner of a messageId, the attribution of a
record, the key and identity of a read item, a key's position) from first
principles, by scanning the ops and the final reads each time it is asked:
quadratic, and plain enough to check against the spec sentence by sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wiber_harness.history import Op
from wiber_harness.reads import FinalReads, StoredRecord


@dataclass(frozen=True)
class Attempt:
    """ "attempt: a send invoke and its completion: ok, fail, info, or pending"."""

    invoke: Op
    done: Op | None

    @property
    def outcome(self) -> str:
        return self.done.type if self.done is not None else "pending"

    @property
    def key(self) -> str:
        return str(self.invoke.value["key"])

    @property
    def message_id(self) -> str | None:
        return self.done.value.get("messageId") if self.done is not None else None


def attempts_in_order(ops: Sequence[Op]) -> list[Attempt]:
    """ "Attempts are ordered by the file position of their invokes"."""
    out = []
    for i, op in enumerate(ops):
        if op.f == "send" and op.type == "invoke":
            done = [c for c in ops[i + 1 :] if c.id == op.id and c.type != "invoke"]
            out.append(Attempt(op, done[0] if done else None))
    return out


class Run:
    """The terms of section 2 over one history and its final reads."""

    def __init__(self, ops: Sequence[Op], reads: FinalReads) -> None:
        self.ops = list(ops)
        self.reads = reads
        self.attempts = attempts_in_order(self.ops)
        self.keys: list[str] = []
        for a in self.attempts:
            if a.key not in self.keys:
                self.keys.append(a.key)

    def attempts_of(self, key: str) -> list[Attempt]:
        """ "All attempts with the same key ... are one logical message"."""
        return [a for a in self.attempts if a.key == key]

    def first_value(self, key: str) -> dict[str, Any]:
        """ "A key's conversation, sender, seq and intended come from its first attempt"."""
        return self.attempts_of(key)[0].invoke.value

    def conversation(self, key: str) -> str | None:
        return self.first_value(key).get("conversation")

    def sender(self, key: str) -> str | None:
        """ "sender (sender, else from)"."""
        v = self.first_value(key)
        return v["sender"] if v.get("sender") is not None else v.get("from")

    def status(self, key: str) -> str:
        """ "acknowledged if some attempt is ok; failed if every attempt is fail;
        indeterminate otherwise"."""
        outcomes = [a.outcome for a in self.attempts_of(key)]
        if "ok" in outcomes:
            return "acknowledged"
        if all(o == "fail" for o in outcomes):
            return "failed"
        return "indeterminate"

    def ack_time(self, key: str) -> int | None:
        """ "the earliest completion time of the key's ok attempts"."""
        times = [a.done.time for a in self.attempts_of(key) if a.done and a.outcome == "ok"]
        return min(times) if times else None

    def invoke_time(self, key: str) -> int:
        """ "the earliest invoke time among the key's attempts that did not complete
        fail ... When every attempt failed, the earliest invoke time of all"."""
        mine = self.attempts_of(key)
        live = [a.invoke.time for a in mine if a.outcome != "fail"]
        return min(live) if live else min(a.invoke.time for a in mine)

    def returned_ids(self, key: str) -> list[str]:
        """ "returned id: the messageId of the first attempt (attempt order) that
        completed ok with one; its other returned ids are the further distinct
        messageIds its ok attempts returned". The returned id comes first."""
        out: list[str] = []
        for a in self.attempts_of(key):
            if a.outcome == "ok" and a.message_id is not None and a.message_id not in out:
                out.append(a.message_id)
        return out

    def owner(self, mid: str) -> str | None:
        """ "the key of the first attempt (attempt order) whose ok completion returned
        it; if no ok did, the first whose fail or info completion returned it"."""
        for outcomes in (("ok",), ("fail", "info")):
            for a in self.attempts:
                if a.outcome in outcomes and a.message_id == mid:
                    return a.key
        return None

    def tag_owner(self, tag: str | None) -> str | None:
        """ "tag owner of a tag: the key of the first attempt (attempt order) whose
        invoke carries that tag; else none"."""
        if tag is None:
            return None
        for a in self.attempts:
            if a.invoke.value.get("tag") == tag:
                return a.key
        return None

    def attribution(self, r: StoredRecord) -> str | None:
        """ "the key named by the record's key field when that key was sent;
        otherwise the owner of its message_id; otherwise the tag owner of its tag;
        otherwise none"."""
        if r.key is not None and r.key in self.keys:
            return r.key
        owner = self.owner(r.message_id)
        return owner if owner is not None else self.tag_owner(r.tag)

    def by_tag(self, r: StoredRecord) -> bool:
        """Attributed by its tag alone: neither its key field nor its messageId named a key."""
        if r.key is not None and r.key in self.keys:
            return False
        return self.owner(r.message_id) is None and self.tag_owner(r.tag) is not None

    def records_of(self, key: str) -> list[StoredRecord]:
        """A key's attributed records."""
        return [r for r in self.reads.store if self.attribution(r) == key]

    def successful_reads(self) -> dict[str, list[str]]:
        """ "for each conversation whose final read succeeded (it is in api and not
        in api_errors), the list of messageIds the API returned, in order"."""
        r = self.reads
        return {c: list(ids) for c, ids in r.api.items() if c not in r.api_errors}

    def read_tags(self, conversation: str) -> list[str | None]:
        """ "its tag: the entry of api_tags at the item's index (none when the
        conversation has no api_tags)"."""
        ids = self.reads.api.get(conversation, [])
        tags = self.reads.api_tags.get(conversation)
        return list(tags) if tags is not None else [None] * len(ids)

    def items(self, conversation: str) -> list[tuple[str, str | None]]:
        """The read items of a successful read: (messageId, tag), in order."""
        if conversation not in self.successful_reads():
            return []
        ids = self.successful_reads()[conversation]
        return list(zip(ids, self.read_tags(conversation), strict=True))

    def read_key(self, mid: str, tag: str | None = None) -> str | None:
        """ "the attribution of the first store record (store order) with that
        messageId that is attributed; if there is none, the owner of the
        messageId; if none, the tag owner of its tag; else none"."""
        for r in self.reads.store:
            if r.message_id == mid and self.attribution(r) is not None:
                return self.attribution(r)
        owner = self.owner(mid)
        return owner if owner is not None else self.tag_owner(tag)

    def identity(self, mid: str, tag: str | None = None) -> str:
        """ "its key when it has one, else its messageId" (tagged so they never clash)."""
        key = self.read_key(mid, tag)
        return f"key:{key}" if key is not None else f"id:{mid}"

    def position(self, key: str) -> int | None:
        """ "the smallest index, in its own conversation's read, of a read item whose
        key is that key. Items read in another conversation do not give a position"."""
        conv = self.conversation(key)
        if conv is None:
            return None
        for i, (mid, tag) in enumerate(self.items(conv)):
            if self.read_key(mid, tag) == key:
                return i
        return None


__all__ = ["Attempt", "Run", "attempts_in_order"]
