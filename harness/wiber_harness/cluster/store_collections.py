"""The store as the harness sees it: every collection the system profile names.

A pipeline may keep its messages in more than one collection (Wiber on
FerretDB writes each message into one of its conversation buckets,
``messages_read_NNN``). The profile's ``[names] collections`` patterns say
which collections of ``{db}`` together are the store
(:meth:`~wiber_harness.cluster.system_spec.SystemSpec.store_collection_names`);
every harness read, count and reset goes through this module, so a
layout is read the same way everywhere: final reads, the bench's counts
and stamps, the store poller, an attach snapshot.

Promises: :func:`collections` lists the store's collections as they exist
now (none when the database holds none of them); :func:`find_all` yields
every document of every one of them (the same projection for all);
:func:`count` sums their estimated counts; :func:`empty` deletes every
document of every one, keeping the collections and their indexes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection

from wiber_harness.cluster.system_spec import SystemSpec

Client = MongoClient[dict[str, Any]]


def collections(client: Client, spec: SystemSpec) -> list[Collection[dict[str, Any]]]:
    """The store's collections that exist now, by name."""
    db = client[spec.db]
    return [db[n] for n in spec.store_collection_names(db.list_collection_names())]


def find_all(
    client: Client, spec: SystemSpec, projection: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every document of the store (collection by collection, in name order)."""
    for coll in collections(client, spec):
        yield from coll.find({}, projection)


def count(client: Client, spec: SystemSpec) -> int:
    """Documents in the store (estimated counts, summed)."""
    return sum(int(c.estimated_document_count()) for c in collections(client, spec))


def empty(client: Client, spec: SystemSpec) -> None:
    """Delete every document of the store; collections and indexes stay."""
    for coll in collections(client, spec):
        coll.delete_many({})


__all__ = ["collections", "count", "empty", "find_all"]
