"""The message store: MongoDB-wire collections (real mongod or FerretDB), one write per message.

Promises:

* **Document shape** (one per message)::

      {_id, messageId, conversationId, fromUser, toUser, content, timestamp,
       clientMessageId, producedAtNs, partition, offset, storedAt, storedAtNs}

  ``partition``/``offset`` are the Kafka position of the record that was
  stored first; ``storedAt`` is a BSON datetime, ``storedAtNs`` epoch ns.
  ``_id`` is the ``messageId`` (a second, built-in uniqueness guard) unless
  the unsafe ``WIBER_STORE_UNIQUE_INDEX=false`` is set, when it is a fresh
  ObjectId, so nothing dedups.
* **Layout: one write per message** (``WIBER_STORE_READ_BUCKETS``). With
  N = 0 (right for mongod) every message goes into ``<collection>``. With
  N > 0 it goes into exactly one bucket collection ``<collection>_read_NNN``
  (NNN = a stable hash of its conversation id mod N, :func:`bucket_of`) and
  nowhere else. Every stored collection has the same indexes, so the dedup
  guarantee and the ordered read both come from that one write: a message's
  duplicates carry the same conversation (the id is derived from it), so
  they land in the same bucket, whose unique index (and ``_id``) refuses
  them. Why buckets: FerretDB's SQLite backend pushes only ``{_id:
  <string>}`` filters down to SQLite, so any other query scans and decodes
  the whole collection (about 0.1 ms per stored document on this machine
  kind); a conversation read scans only its bucket, O(stored / N). Auto
  picks 8 on FerretDB (in a single-writer microbenchmark of 500-document
  batches, 16 buckets wrote at ~0.8 of one collection's rate, 4-8 at ~1.0;
  8 keeps a read under 1 s up to ~50k messages), 0 otherwise. The store
  is therefore "every collection of the database named ``<collection>`` or
  ``<collection>_read_NNN``"; the harness's system profile says the same
  (``[names] collections``). A store written by an older release (which
  wrote each message into ``<collection>`` *and* its bucket) reads the
  same: the buckets already hold every message.
* **Indexes** (on each stored collection): ``messageId_unique`` (unique;
  non-unique ``messageId_nonunique`` in the unsafe mode, and the other one
  is dropped), and ``conversation_log_order`` on (conversationId,
  partition, offset) for ordered reads. Created idempotently at consumer
  start for every collection of the layout; a consumer in safe mode
  refuses to run if the unique index cannot be created.
* **insert_batch** writes each collection's share with
  ``insert_many(ordered=False)`` (every document is attempted even if some
  fail) and classifies each document: inserted, duplicate (error code
  11000: already stored, which is success for at-least-once), or failed
  (anything else; the caller retries). A network error or write-concern
  error marks every not-known-good document of that collection failed:
  retrying is always safe because duplicates are success.
* Writes use ``w=majority`` (FerretDB ignores write concern; on a mongod
  replica set it makes a stored document survive a primary change).
* **read_conversation** returns a conversation's documents in log order
  (partition, offset) strictly after a cursor position, from the one
  collection that holds the conversation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from wiber.model import Message
from wiber.settings import Settings

log = logging.getLogger("wiber.store")

DUPLICATE_KEY = 11000
UNIQUE_INDEX = "messageId_unique"
NONUNIQUE_INDEX = "messageId_nonunique"
ORDER_INDEX = "conversation_log_order"
ORDER_KEYS = [("conversationId", ASCENDING), ("partition", ASCENDING), ("offset", ASCENDING)]
AUTO_BUCKETS_FERRETDB = 8
BUCKET_INFIX = "_read_"
_SORT = [("partition", ASCENDING), ("offset", ASCENDING)]


@dataclass(slots=True)
class InsertOutcome:
    """Per-document result of one ``insert_batch`` call (indexes into the batch)."""

    inserted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def make_document(
    msg: Message, partition: int, offset: int, *, id_is_message_id: bool, now_ns: int
) -> dict[str, Any]:
    """The stored document of ``msg`` read at (partition, offset)."""
    doc: dict[str, Any] = {
        "messageId": msg.messageId,
        "conversationId": msg.conversationId,
        "fromUser": msg.fromUser,
        "toUser": msg.toUser,
        "content": msg.content,
        "timestamp": msg.timestamp,
        "clientMessageId": msg.clientMessageId,
        "producedAtNs": msg.producedAtNs,
        "partition": partition,
        "offset": offset,
    }
    stamp_stored(doc, now_ns)
    if id_is_message_id:
        doc["_id"] = msg.messageId
    return doc


def stamp_stored(doc: dict[str, Any], now_ns: int) -> None:
    """Set ``storedAt`` (BSON datetime, ms precision) and ``storedAtNs`` to ``now_ns``."""
    doc["storedAt"] = datetime.fromtimestamp(now_ns / 1e9, UTC)
    doc["storedAtNs"] = now_ns


def _insert_classified(
    coll: Collection[dict[str, Any]], docs: list[dict[str, Any]]
) -> InsertOutcome:
    out = InsertOutcome()
    if not docs:
        return out
    try:
        coll.insert_many(docs, ordered=False)
        out.inserted = list(range(len(docs)))
        return out
    except BulkWriteError as e:
        details = e.details or {}
        bad: dict[int, tuple[int, str]] = {}
        for we in details.get("writeErrors", []):
            bad[int(we.get("index", -1))] = (int(we.get("code", 0)), str(we.get("errmsg", "")))
        wce = details.get("writeConcernErrors") or []
        for i in range(len(docs)):
            if i in bad:
                code, msg = bad[i]
                if code == DUPLICATE_KEY:
                    out.duplicates.append(i)
                else:
                    out.failed[i] = f"code {code}: {msg}"
            elif wce:
                out.failed[i] = f"write concern error: {wce[0].get('errmsg', '')}"
            else:
                out.inserted.append(i)
        return out
    except PyMongoError as e:
        reason = f"{type(e).__name__}: {e}"
        out.failed = dict.fromkeys(range(len(docs)), reason)
        return out


def bucket_of(conversation: str, buckets: int) -> int:
    """Stable bucket of a conversation (the same in every process and release)."""
    h = hashlib.sha1(conversation.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(h[:8], "big") % buckets


class Store:
    """A pymongo client bound to the messages collection."""

    def __init__(self, settings: Settings, app_name: str = "wiber") -> None:
        self.settings = settings
        t = settings.store_timeout_ms
        self.client: MongoClient[dict[str, Any]] = MongoClient(
            settings.store_uri,
            appname=app_name,
            serverSelectionTimeoutMS=t,
            connectTimeoutMS=t,
            socketTimeoutMS=t,
            # FerretDB has no replica sets, so no retryable writes; our own
            # retry loop (with dedup by messageId) is the retry mechanism.
            retryWrites=False,
            maxPoolSize=32,
            tz_aware=True,  # storedAt reads back as an aware UTC datetime
        )
        self.coll: Collection[dict[str, Any]] = self.client[settings.store_db].get_collection(
            settings.store_collection, write_concern=WriteConcern(w="majority")
        )
        rb = settings.store_read_buckets
        self._buckets: int | None = None if rb == "auto" else int(rb)
        self._ensured: set[int] = set()

    def close(self) -> None:
        self.client.close()

    # --- setup ---------------------------------------------------------------
    def ensure_indexes(self) -> None:
        """Create the indexes the promises need on every collection of the layout
        (idempotent, safe to race)."""
        last: Exception | None = None
        for attempt in range(5):
            try:
                n = self.read_buckets()
                colls = [self.coll] if n == 0 else [self.bucket_collection(b) for b in range(n)]
                for coll in colls:
                    self._ensure_on(coll)
                self._ensured.update(range(n))
                return
            except PyMongoError as e:  # e.g. a peer consumer created the collection first
                last = e
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"cannot create store indexes: {last}")

    def _ensure_on(self, coll: Collection[dict[str, Any]]) -> None:
        unique = self.settings.store_unique_index
        want, other = (UNIQUE_INDEX, NONUNIQUE_INDEX) if unique else (NONUNIQUE_INDEX, UNIQUE_INDEX)
        for name, spec in coll.index_information().items():
            keys = [k for k, _ in spec.get("key", [])]
            if name == other or (keys == ["messageId"] and name != want):
                log.warning("dropping index %s of %s (conflicts with %s)", name, coll.name, want)
                coll.drop_index(name)
        coll.create_index([("messageId", ASCENDING)], name=want, unique=unique)
        coll.create_index(ORDER_KEYS, name=ORDER_INDEX)

    # --- writes ---------------------------------------------------------------
    def insert_batch(self, docs: list[dict[str, Any]]) -> InsertOutcome:
        """Insert every document once, into its one collection; classify each (see module
        promises)."""
        n = self.read_buckets()
        if n == 0 or not docs:
            return _insert_classified(self.coll, docs)
        groups: dict[int, list[int]] = {}
        for i, d in enumerate(docs):
            groups.setdefault(bucket_of(d["conversationId"], n), []).append(i)
        out = InsertOutcome()
        for b, idx in sorted(groups.items()):
            try:
                coll = self._bucket_for_write(b)
            except PyMongoError as e:
                out.failed.update(dict.fromkeys(idx, f"{type(e).__name__}: {e}"))
                continue
            res = _insert_classified(coll, [docs[i] for i in idx])
            out.inserted += [idx[j] for j in res.inserted]
            out.duplicates += [idx[j] for j in res.duplicates]
            out.failed.update({idx[j]: why for j, why in res.failed.items()})
        return out

    def read_buckets(self) -> int:
        """Resolved WIBER_STORE_READ_BUCKETS (asks the server once when it is auto)."""
        if self._buckets is None:
            with pymongo.timeout(self.settings.store_timeout_ms / 1000):
                info = self.client.admin.command("buildInfo")
            self._buckets = AUTO_BUCKETS_FERRETDB if "ferretdbVersion" in info else 0
            log.info("store layout: %d bucket collections (auto)", self._buckets)
        return self._buckets

    def collection_names(self) -> list[str]:
        """The collections this layout writes, in bucket order."""
        n = self.read_buckets()
        c = self.settings.store_collection
        return [c] if n == 0 else [f"{c}{BUCKET_INFIX}{b:03d}" for b in range(n)]

    def bucket_collection(self, b: int) -> Collection[dict[str, Any]]:
        name = f"{self.settings.store_collection}{BUCKET_INFIX}{b:03d}"
        return self.client[self.settings.store_db].get_collection(
            name, write_concern=WriteConcern(w="majority")
        )

    def _bucket_for_write(self, b: int) -> Collection[dict[str, Any]]:
        coll = self.bucket_collection(b)
        if b not in self._ensured:
            self._ensure_on(coll)
            self._ensured.add(b)
        return coll

    # --- reads -----------------------------------------------------------------
    def read_conversation(
        self, conversation: str, after: tuple[int, int] | None, limit: int, timeout_s: float
    ) -> list[dict[str, Any]]:
        """Blocking: up to ``limit`` documents of one conversation after ``after``, log order."""
        n = self.read_buckets()
        coll = self.bucket_collection(bucket_of(conversation, n)) if n else self.coll
        flt: dict[str, Any] = {"conversationId": conversation}
        if after is not None:
            p, o = after
            flt["$or"] = [{"partition": {"$gt": p}}, {"partition": p, "offset": {"$gt": o}}]
        with pymongo.timeout(timeout_s):
            cur = coll.find(flt, {"_id": False}).sort(_SORT).limit(limit)
            return list(cur)

    def ping(self, timeout_s: float) -> str | None:
        """Blocking: None when the store answers a ping in time, else why not."""
        try:
            with pymongo.timeout(timeout_s):
                self.client.admin.command("ping")
            return None
        except (PyMongoError, OperationFailure) as e:
            return f"{type(e).__name__}: {str(e).split(',')[0]}"


__all__ = [
    "DUPLICATE_KEY",
    "NONUNIQUE_INDEX",
    "ORDER_INDEX",
    "UNIQUE_INDEX",
    "InsertOutcome",
    "Store",
    "bucket_of",
    "make_document",
    "stamp_stored",
]
