"""One polled batch: its records as store documents, in-batch duplicates and invalid records.

Promises: ``build_batch`` parses each record once and keeps the batch's
records in three lists, in log order: records that become a document (the
first of each ``messageId``), later records repeating a ``messageId``
already in the batch (only with the unique index; without it every
record is a document), and records that do not parse (with the reason).
``Batch.outcomes`` lists what the delivery log gets for each record whose
partition was not revoked meanwhile: documents as the store answered,
repeats as ``duplicate`` (``failed`` if their document failed), invalid
records as ``dlq``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from wiber.model import InvalidRecord, parse_record
from wiber.store import make_document

# A confluent_kafka.Message or a test double. Not a Protocol: the stubs of
# Message type topic(), partition() and offset() as Optional, though a
# record returned without error always has all three.
Record = Any
TP = tuple[str, int]


def tp_of(m: Record) -> TP:
    return (m.topic(), m.partition())


@dataclass
class Batch:
    """The records of one batch, sorted into what the store, the DLQ and the log get."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    doc_records: list[Record] = field(default_factory=list)  # the record of each doc
    repeats: list[tuple[Record, int]] = field(default_factory=list)  # (record, its doc's index)
    invalid: list[tuple[Record, str]] = field(default_factory=list)  # (record, why)
    outcome: dict[int, str] = field(default_factory=dict)  # doc index -> stored|duplicate|failed

    def outcomes(self, revoked: set[TP]) -> Iterator[tuple[Record, str | None, str]]:
        """(record, messageId, outcome) for every record to log (see module promises)."""
        for i, m in enumerate(self.doc_records):
            if tp_of(m) not in revoked and i in self.outcome:
                yield m, self.docs[i]["messageId"], self.outcome[i]
        for m, i in self.repeats:
            if tp_of(m) not in revoked and i in self.outcome:
                o = "failed" if self.outcome[i] == "failed" else "duplicate"
                yield m, self.docs[i]["messageId"], o
        for m, _ in self.invalid:
            if tp_of(m) not in revoked:
                yield m, message_id_of(m.value()), "dlq"


def build_batch(records: list[Record], *, unique: bool, now_ns: int) -> Batch:
    """Sort ``records`` into a Batch; documents are stamped stored at ``now_ns``."""
    b = Batch()
    first: dict[str, int] = {}  # messageId -> index in docs
    for m in records:
        try:
            msg = parse_record(m.value())
        except InvalidRecord as e:
            b.invalid.append((m, str(e)))
            continue
        if unique and msg.messageId in first:
            b.repeats.append((m, first[msg.messageId]))
            continue
        first[msg.messageId] = len(b.docs)
        b.docs.append(
            make_document(msg, m.partition(), m.offset(), id_is_message_id=unique, now_ns=now_ns)
        )
        b.doc_records.append(m)
    return b


def message_id_of(value: bytes | None) -> str | None:
    """Best effort: the messageId an invalid record carries, for the delivery log."""
    try:
        d = orjson.loads(value or b"")
        v = d.get("messageId") if isinstance(d, dict) else None
        return v if isinstance(v, str) else None
    except Exception:
        return None


__all__ = ["TP", "Batch", "Record", "build_batch", "message_id_of", "tp_of"]
