"""Final reads: what the harness observed of the system after the run.

Taken after every fault is healed and the pipeline drained, over direct
(never proxied) connections. Together with the history they are everything
the checkers see, so a run can be re-checked offline from the run folder
(``final_reads.json``, written and read by :mod:`wiber_harness.reads_io`).

Field names are normalised here from the system profile's own names, so
checkers never depend on how a pipeline names its documents.

The store's documents and the delivery log can be large (a million-op run
stores half a million messages). They are held either as lists of records
(what the end phase and tests build) or as tables (:class:`StoreTable`,
:class:`DeliveryTable`: columns, what a stored file is read into); both are
sequences of records, and :func:`store_columns` / :func:`delivery_columns`
give the columns the checkers compute on, whichever form is held.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

SCHEMA_V1 = "wiber-final-reads/1"  # records as objects (read only)
SCHEMA = "wiber-final-reads/2"  # records as columns (written)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One document found in the store.

    ``key`` is the idempotency key the workload sent (None if the document
    carries none: then it was never sent by this harness). ``stored_at`` is
    run-relative ns (may be negative or None when unknown). ``tag`` is the
    workload's content tag found in the document
    (:mod:`wiber_harness.workload.tag`; None when it has none).
    """

    message_id: str
    key: str | None
    conversation: str | None
    sender: str | None
    partition: int | None
    offset: int | None
    stored_at: int | None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One line of a consumer's delivery log (one record handled)."""

    consumer: str
    partition: int
    offset: int
    message_id: str | None
    time: int | None
    outcome: str  # stored | duplicate | dlq | failed


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record found in the dead-letter topic: where, which message, and why."""

    partition: int
    offset: int
    message_id: str | None
    reason: str | None


def _opt(x: float) -> int | None:
    return None if x != x else int(x)  # NaN -> None


@dataclass(frozen=True, slots=True)
class StoreColumns:
    """The store's documents as columns; numbers are float64 with NaN for null
    (exact for integers below 2**53: offsets and ns times of any real run)."""

    message_id: list[str]
    key: list[str | None]
    conversation: list[str | None]
    sender: list[str | None]
    partition: F64
    offset: F64
    stored_at: F64
    tag: list[str | None]

    def __len__(self) -> int:
        return len(self.message_id)


@dataclass(frozen=True, slots=True)
class DeliveryColumns:
    """The delivery log as columns (``time`` NaN when unknown)."""

    consumer: list[str]
    partition: I64
    offset: I64
    message_id: list[str | None]
    time: F64
    outcome: list[str]

    def __len__(self) -> int:
        return len(self.consumer)


class StoreTable(Sequence[StoredRecord]):
    """The store's documents held as columns, seen as a sequence of records."""

    def __init__(self, columns: StoreColumns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, i: int) -> StoredRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[StoredRecord]: ...
    def __getitem__(self, i: int | slice) -> StoredRecord | list[StoredRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        c = self.columns
        return StoredRecord(
            c.message_id[i],
            c.key[i],
            c.conversation[i],
            c.sender[i],
            _opt(c.partition[i]),
            _opt(c.offset[i]),
            _opt(c.stored_at[i]),
            c.tag[i],
        )

    def __iter__(self) -> Iterator[StoredRecord]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class DeliveryTable(Sequence[DeliveryEvent]):
    """The delivery log held as columns, seen as a sequence of events."""

    def __init__(self, columns: DeliveryColumns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, i: int) -> DeliveryEvent: ...
    @overload
    def __getitem__(self, i: slice) -> list[DeliveryEvent]: ...
    def __getitem__(self, i: int | slice) -> DeliveryEvent | list[DeliveryEvent]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        c = self.columns
        return DeliveryEvent(
            c.consumer[i],
            int(c.partition[i]),
            int(c.offset[i]),
            c.message_id[i],
            _opt(c.time[i]),
            c.outcome[i],
        )

    def __iter__(self) -> Iterator[DeliveryEvent]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _nums(values: Sequence[int | None]) -> F64:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def store_columns(store: Sequence[StoredRecord]) -> StoreColumns:
    """The columns of the store, whichever form it is held in."""
    if isinstance(store, StoreTable):
        return store.columns
    return StoreColumns(
        message_id=[r.message_id for r in store],
        key=[r.key for r in store],
        conversation=[r.conversation for r in store],
        sender=[r.sender for r in store],
        partition=_nums([r.partition for r in store]),
        offset=_nums([r.offset for r in store]),
        stored_at=_nums([r.stored_at for r in store]),
        tag=[r.tag for r in store],
    )


def delivery_columns(delivery: Sequence[DeliveryEvent]) -> DeliveryColumns:
    """The columns of the delivery log, whichever form it is held in."""
    if isinstance(delivery, DeliveryTable):
        return delivery.columns
    return DeliveryColumns(
        consumer=[e.consumer for e in delivery],
        partition=np.asarray([e.partition for e in delivery], dtype=np.int64),
        offset=np.asarray([e.offset for e in delivery], dtype=np.int64),
        message_id=[e.message_id for e in delivery],
        time=_nums([e.time for e in delivery]),
        outcome=[e.outcome for e in delivery],
    )


@dataclass(slots=True)
class FinalReads:
    """Everything read at the end of a run.

    * ``store``: every document of the messages collection;
    * ``api``: per conversation id, the messageIds in the order the API's
      GET returned them (all pages, oldest first); ``api_errors`` per
      conversation whose read failed; ``api_tags``: per conversation of
      ``api``, the content tag of each of its items (None where an item has
      none; same length as its ``api`` list; a conversation may be absent);
    * ``delivery``: the consumers' delivery logs;
    * ``dead_letters``: every record of the dead-letter topic, with the reason
      its header gives (None: the dead-letter topic was not read);
    * ``end_offsets``: the topic's end offset per partition;
    * ``drained``: whether lag reached 0 and every acknowledged message was
      readable within the bound; ``drain_s`` how long that took (from the
      start of the end phase);
    * ``healed_at``: run-relative ns when the last fault was healed (None if
      the scenario had none);
    * ``stored_at_observed``: the pipeline stores no write time, so each
      record's ``stored_at`` is when the harness first saw it in the store
      (polled during the drain): an upper bound, approximate.
    """

    store: Sequence[StoredRecord] = field(default_factory=list)
    api: dict[str, list[str]] = field(default_factory=dict)
    api_errors: dict[str, str] = field(default_factory=dict)
    delivery: Sequence[DeliveryEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] | None = None
    end_offsets: dict[int, int] = field(default_factory=dict)
    drained: bool = True
    drain_s: float | None = None
    healed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    api_tags: dict[str, list[str | None]] = field(default_factory=dict)
    stored_at_observed: bool = False

    def to_json(self) -> bytes:
        """The file form (schema :data:`SCHEMA`: records as columns)."""
        from wiber_harness.reads_io import encode

        return encode(self)

    @classmethod
    def from_dict(cls, d: object) -> FinalReads:
        """Decode and check every field; raises ``MalformedReads`` naming the field."""
        from wiber_harness.reads_io import decode_strict

        return decode_strict(d)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_json())

    @classmethod
    def load(cls, path: Path) -> FinalReads:
        """Read ``final_reads.json``; every problem is one ``CheckerError`` sentence."""
        from wiber_harness.reads_io import load

        return load(path)


__all__ = [
    "SCHEMA",
    "SCHEMA_V1",
    "DeadLetter",
    "DeliveryColumns",
    "DeliveryEvent",
    "DeliveryTable",
    "FinalReads",
    "StoreColumns",
    "StoreTable",
    "StoredRecord",
    "delivery_columns",
    "store_columns",
]
