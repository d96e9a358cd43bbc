"""Stored times for a pipeline that stores none: the store polled during a load.

A pipeline whose documents carry no write time (its profile says
``stored_at_ns = false``) still needs an end-to-end latency. The bench's
:class:`StorePoller` is a background thread that, while a load runs, asks
the store (every collection the profile names) every ``interval`` s which
documents exist and feeds the first sighting of each to a
:class:`~wiber_harness.end_phase.StoreWatch`; the final read
(:func:`wiber_harness.end_phase.read_store`) then uses those
sightings as the stored times. A sighting is an upper bound of the write
time, late by at most one interval plus the query.

To keep each poll cheap on a machine the pipeline shares, once every
``_id`` seen is an ``ObjectId`` (what drivers make when the pipeline
gives none) a poll asks only for documents whose ``_id`` was made within
the last ``window`` s (an ``ObjectId`` starts with its creation second);
otherwise it reads every ``_id``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pymongo
from bson import ObjectId

from wiber_harness.cluster import store_collections
from wiber_harness.cluster.base import Cluster
from wiber_harness.end_phase import StoreWatch


class StorePoller:
    """Feed ``watch`` with first sightings every ``interval`` s until :meth:`stop`."""

    def __init__(
        self, cluster: Cluster, watch: StoreWatch, interval: float = 0.02, window: float = 3.0
    ) -> None:
        self.watch = watch
        self.interval = interval
        self.window = window
        self.polls = 0
        self.errors = 0
        self._spec = cluster.spec
        self._client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            cluster.endpoints().store, serverSelectionTimeoutMS=5000, socketTimeoutMS=10000
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-poller", daemon=True)
        self._windowed = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._client.close()

    def _query(self) -> dict[str, Any]:
        if not self._windowed:
            return {}
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.window)
        return {"_id": {"$gte": ObjectId.from_datetime(since)}}

    def poll(self) -> int:
        """One poll; the number of documents it returned."""
        q = self._query()
        ids = [
            d["_id"]
            for c in store_collections.collections(self._client, self._spec)
            for d in c.find(q, {"_id": 1})
        ]
        self.watch.see(ids)
        if not self._windowed and ids:
            self._windowed = all(isinstance(i, ObjectId) for i in ids)
        self.polls += 1
        return len(ids)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                self.poll()
            except pymongo.errors.PyMongoError:
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def to_dict(self) -> dict[str, Any]:
        return {"interval_s": self.interval, "polls": self.polls, "errors": self.errors}


__all__ = ["StorePoller"]
