"""A run's share of a long-lived deployment: what was there before, left out of the final reads.

A cluster the harness starts is empty; a deployment it attaches to is not:
its store, topic and dead-letter topic hold earlier runs' messages (and
anybody else's), which the checkers would count as *unexpected*. So the
attach backend takes a :class:`RunScope` when it attaches (before the
workload sends anything) and the runner applies it to the final reads
before they are saved:

* store documents whose message id (the profile's ``[stored].message_id``)
  was already stored are left out, and so are read items with such an id;
* dead letters below the dead-letter topic's end offsets at attach time,
  and delivery-log lines below the topic's end offsets at attach time, are
  left out (they are earlier records' handling);
* ``extra["attach_scope"]`` of the final reads says how much was left out
  and the offsets the run started from, so the run folder shows it.

Limit (said in ``docs/scaling.md``): a document without the message-id
field cannot be told apart from this run's, so it stays in (and is counted
*unexpected*); attach to a collection whose documents all carry the id.
The snapshot reads every id once; a store of millions of documents takes
seconds and memory in proportion.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wiber_harness.errors import ClusterError

if TYPE_CHECKING:
    from wiber_harness.cluster.attach_kafka import DeploymentKafka
    from wiber_harness.cluster.system_spec import SystemSpec
    from wiber_harness.reads import FinalReads


@dataclass(frozen=True)
class RunScope:
    """What the deployment held when the harness attached (see the module docstring)."""

    store_ids: frozenset[str] = frozenset()
    topic_offsets: Mapping[int, int] = field(default_factory=dict)
    dlq_offsets: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def take(cls, store_uri: str, spec: SystemSpec, kafka: DeploymentKafka) -> RunScope:
        """Snapshot the store's message ids and the end offsets of the topic and its DLQ."""
        import pymongo

        from wiber_harness.cluster import store_collections

        mid = spec.message_id_field
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            store_uri, serverSelectionTimeoutMS=5000, socketTimeoutMS=120_000
        )
        try:
            ids = frozenset(
                str(d[mid])
                for d in store_collections.find_all(client, spec, {mid: 1, "_id": 0})
                if d.get(mid) is not None
            )
        except pymongo.errors.PyMongoError as e:
            raise ClusterError(
                f"cannot read the store at {store_uri} before the run ({e}); "
                "check [store].uri of the target file"
            ) from None
        finally:
            with contextlib.suppress(Exception):
                client.close()
        topic = kafka.end_offsets(spec.topic)
        if topic is None:
            raise ClusterError(
                f"cannot read the end offsets of topic {spec.topic} before the run; "
                "check [kafka].bootstrap of the target file and the profile's [names].topic"
            )
        return cls(ids, topic, kafka.end_offsets(spec.dlq_topic) or {})

    def summary(self) -> dict[str, Any]:
        return {
            "store_documents_before": len(self.store_ids),
            "topic_offsets_before": {str(k): v for k, v in self.topic_offsets.items()},
            "dlq_offsets_before": {str(k): v for k, v in self.dlq_offsets.items()},
        }

    def apply(self, reads: FinalReads) -> FinalReads:
        """The final reads without what was there before the run (and a note of it)."""
        old = self.store_ids
        store = [r for r in reads.store if r.message_id not in old]
        api = {conv: [i for i in items if i not in old] for conv, items in reads.api.items()}
        # each read item's tag goes (or stays) with its item
        api_tags = {
            conv: [t for i, t in zip(reads.api[conv], tags, strict=True) if i not in old]
            for conv, tags in reads.api_tags.items()
        }
        api_left = sum(len(v) for v in reads.api.values()) - sum(len(v) for v in api.values())
        delivery = [e for e in reads.delivery if e.offset >= self.topic_offsets.get(e.partition, 0)]
        dead = (
            None
            if reads.dead_letters is None
            else [d for d in reads.dead_letters if d.offset >= self.dlq_offsets.get(d.partition, 0)]
        )
        note = {
            **self.summary(),
            "left_out": {
                "store": len(reads.store) - len(store),
                "read_items": api_left,
                "delivery": len(reads.delivery) - len(delivery),
                "dead_letters": 0
                if reads.dead_letters is None or dead is None
                else len(reads.dead_letters) - len(dead),
            },
        }
        return dataclasses.replace(
            reads,
            store=store,
            api=api,
            api_tags=api_tags,
            delivery=delivery,
            dead_letters=dead,
            extra={**reads.extra, "attach_scope": note},
        )


def scoped(cluster: object, reads: FinalReads) -> FinalReads:
    """``reads`` scoped to the run when ``cluster`` attached to a deployment, else unchanged."""
    scope = getattr(cluster, "run_scope", None)
    return scope.apply(reads) if isinstance(scope, RunScope) else reads


__all__ = ["RunScope", "scoped"]
