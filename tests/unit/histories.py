"""A tiny helper to write histories and final reads by hand in tests.

    from tests.unit.histories import H

    h = H()
    k1 = h.send("alice", "bob")                 # invoke + ok, messageId "m-<key>"
    k2 = h.send("bob", "alice", outcome="info")  # indeterminate
    h.retry(k2)                                  # same key again, ok this time
    h.inject("f1", kind="kill"); h.heal("f1")
    h.store(k1); h.store(k2)
    reads = h.reads()                            # API read = store order per conversation

The clock advances ``step_ms`` after every op unless told otherwise;
:meth:`H.begin` / :meth:`H.end` split a send to make sends overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wiber_harness.history import NEMESIS, Op
from wiber_harness.reads import DeliveryEvent, FinalReads, StoredRecord

MS = 1_000_000


def conv(a: str, b: str) -> str:
    """The canonical conversation id of two users."""
    return ":".join(sorted((a, b)))


@dataclass
class Pending:
    id: int
    key: str
    process: str


@dataclass
class H:
    step_ms: float = 1.0
    now: int = 0
    ops: list[Op] = field(default_factory=list)
    store_records: list[StoredRecord] = field(default_factory=list)
    api: dict[str, list[str]] = field(default_factory=dict)
    delivery: list[DeliveryEvent] = field(default_factory=list)
    _next_id: int = 0
    _next_key: int = 0
    _seq: dict[str, int] = field(default_factory=dict)
    _first: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first invoke value
    _mid: dict[str, str] = field(default_factory=dict)  # key -> messageId the API returned

    # -- clock ---------------------------------------------------------------

    def tick(self, ms: float | None = None) -> int:
        self.now += int((self.step_ms if ms is None else ms) * MS)
        return self.now

    def _op(self, type_: str, f: str, process: str, value: dict[str, Any], id_: int) -> Op:
        op = Op(id=id_, type=type_, f=f, process=process, time=self.now, value=value)  # type: ignore[arg-type]
        self.ops.append(op)
        self.tick()
        return op

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- sends ---------------------------------------------------------------

    def begin(
        self,
        sender: str = "alice",
        to: str = "bob",
        *,
        key: str | None = None,
        retry_of: str | None = None,
        intended: int | None = None,
    ) -> Pending:
        """Invoke a send; ``key`` of an earlier send makes this a retry of it."""
        if key is not None and key in self._first:
            value = dict(self._first[key])
        else:
            if key is None:
                self._next_key += 1
                key = f"k{self._next_key}"
            seq = self._seq.get(sender, 0) + 1
            self._seq[sender] = seq
            value = {
                "key": key,
                "conversation": conv(sender, to),
                "from": sender,
                "to": to,
                "sender": sender,
                "seq": seq,
            }
            self._first[key] = value
        value["intended"] = self.now if intended is None else intended
        if retry_of is not None:
            value["retry_of"] = retry_of
        id_ = self._new_id()
        self._op("invoke", "send", f"client-{sender}", value, id_)
        return Pending(id_, key, f"client-{sender}")

    def end(self, p: Pending, outcome: str = "ok", *, mid: str | None = None) -> str:
        """Complete a send: ``ok`` (default messageId ``m-<key>``), ``fail`` or ``info``."""
        value: dict[str, Any] = {"status": {"ok": 201, "fail": 503, "info": None}[outcome]}
        if outcome == "ok":
            mid = mid or self._mid.get(p.key) or f"m-{p.key}"
            self._mid.setdefault(p.key, mid)
        else:
            value["error"] = "boom"
        if mid is not None:
            value["messageId"] = mid
        self._op(outcome, "send", p.process, value, p.id)
        return p.key

    def send(
        self,
        sender: str = "alice",
        to: str = "bob",
        outcome: str = "ok",
        *,
        key: str | None = None,
        mid: str | None = None,
        latency_ms: float | None = None,
    ) -> str:
        """A whole send; ``outcome="pending"`` leaves it without completion."""
        p = self.begin(sender, to, key=key)
        if latency_ms is not None:
            self.tick(latency_ms)
        if outcome == "pending":
            return p.key
        return self.end(p, outcome, mid=mid)

    def retry(
        self, key: str, outcome: str = "ok", *, mid: str | None = None, resend: bool = False
    ) -> str:
        """Another attempt of ``key``; ``resend`` marks it a duplicate-injection resend."""
        first = self._first[key]
        p = self.begin(first["from"], first["to"], key=key, retry_of=key if resend else None)
        if outcome == "pending":
            return key
        return self.end(p, outcome, mid=mid)

    def mid(self, key: str) -> str:
        return self._mid.get(key, f"m-{key}")

    # -- nemesis ---------------------------------------------------------------

    def inject(self, fault: str = "f1", kind: str = "kill", outcome: str | None = "ok") -> None:
        self._nemesis("inject", fault, kind, outcome)

    def heal(self, fault: str = "f1", outcome: str | None = "ok") -> None:
        self._nemesis("heal", fault, None, outcome)

    def _nemesis(self, f: str, fault: str, kind: str | None, outcome: str | None) -> None:
        id_ = self._new_id()
        value: dict[str, Any] = {"fault": fault, "target": "kafka.random"}
        if kind:
            value["kind"] = kind
        self._op("invoke", f, NEMESIS, value, id_)
        if outcome is not None:
            self._op(outcome, f, NEMESIS, {**value, "resolved": ["kafka-1"]}, id_)

    # -- final reads -----------------------------------------------------------

    def store(
        self,
        key: str | None,
        *,
        mid: str | None = None,
        stored_at: int | str | None = "now",
        record_key: str | str | None = "same",
        conversation: str | None = None,
    ) -> StoredRecord:
        """Add a store document for ``key`` (None: a document no send made)."""
        first = self._first.get(key or "", {})
        rec = StoredRecord(
            message_id=mid or (self.mid(key) if key else f"ghost-{len(self.store_records)}"),
            key=key if record_key == "same" else record_key,
            conversation=conversation or first.get("conversation"),
            sender=first.get("sender"),
            partition=0,
            offset=len(self.store_records),
            stored_at=self.now if stored_at == "now" else stored_at,  # type: ignore[arg-type]
        )
        self.store_records.append(rec)
        return rec

    def read(self, conversation: str, items: list[str]) -> None:
        """Set a conversation's API read; items are keys (mapped to their messageId) or
        messageIds."""
        self.api[conversation] = [self.mid(i) if i in self._first else i for i in items]

    def reads(self, **overrides: Any) -> FinalReads:
        """Final reads; conversations without an explicit read read in store order."""
        api: dict[str, list[str]] = {}
        for r in self.store_records:
            if r.conversation is not None and r.conversation not in self.api:
                api.setdefault(r.conversation, []).append(r.message_id)
        api.update(self.api)
        fields: dict[str, Any] = {
            "store": list(self.store_records),
            "api": api,
            "delivery": list(self.delivery),
        }
        fields.update(overrides)
        return FinalReads(**fields)


__all__ = ["MS", "H", "Pending", "conv"]
