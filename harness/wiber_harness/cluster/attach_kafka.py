"""The attach backend's view of a Kafka cluster it did not start, over the target's bootstrap.

Like :class:`~wiber_harness.cluster.kafka_observer.KafkaObserver` for the
clusters the harness starts, but addressed by ``host:port`` (any host)
instead of local ports, and read-only: it creates no topic and changes no
configuration. It answers which brokers the metadata lists, whether the
pipeline's topic exists with a leader and a full ISR on every partition
(full: as many in-sync replicas as replicas, whatever the replication
factor), who leads a partition, whether one broker answers on its own
listener, and the end offsets of a topic (the attach backend's baseline).
Every question has a bounded timeout and a probe never raises;
librdkafka's log goes to ``harness-kafka-client.log`` in the run folder.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from wiber_harness.cluster.common import quiet_logger
from wiber_harness.cluster.kafka_observer import node_serving
from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.errors import FaultError

_LEADER_ID = re.compile(r"LeaderId:\s*(-?[0-9]+)")


def parse_controller(output: str) -> int | None:
    """The controller's node id in a command's output: ``LeaderId: N`` or a bare ``N`` first."""
    m = _LEADER_ID.search(output)
    if m:
        return int(m.group(1))
    words = output.split()
    if words and words[0].lstrip("-").isdigit():
        return int(words[0])
    return None


class DeploymentKafka:
    """Admin queries on a deployment's Kafka, through its DIRECT bootstrap."""

    def __init__(self, bootstrap: str, spec: SystemSpec, log_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.spec = spec
        self._log = quiet_logger(log_dir / "harness-kafka-client.log")
        self._admin: Any = None
        self._node_admins: dict[int, Any] = {}

    def _conf(self, bootstrap: str) -> dict[str, Any]:
        return {"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000, "logger": self._log}

    def admin(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(self._conf(self.bootstrap))
        return self._admin

    def brokers(self) -> set[int]:
        """Node ids the cluster's metadata lists (empty when nothing answers)."""
        try:
            return set(self.admin().list_topics(timeout=3).brokers)
        except Exception:
            return set()

    def in_metadata(self, broker_id: int) -> bool:
        return broker_id in self.brokers()

    def node_serving(self, address: str, broker_id: int) -> bool:
        """The broker answers metadata on its own listener ``address`` and lists itself."""
        host, _, port = address.rpartition(":")
        return node_serving(self._node_admins, broker_id, host, int(port), self._conf)

    def partitions(self, topic: str | None = None) -> int | None:
        """How many partitions the topic has (None: it does not exist or nothing answers)."""
        topic = topic or self.spec.topic
        try:
            t = self.admin().list_topics(topic=topic, timeout=5).topics.get(topic)
        except Exception:
            return None
        if t is None or t.error is not None or not t.partitions:
            return None
        return len(t.partitions)

    def topic_healthy(self) -> bool:
        """Every partition of the topic has a leader and all its replicas in sync."""
        topic = self.spec.topic
        try:
            t = self.admin().list_topics(topic=topic, timeout=3).topics.get(topic)
        except Exception:
            return False
        if t is None or t.error is not None or not t.partitions:
            return False
        return all(p.leader >= 0 and len(p.isrs) >= len(p.replicas) for p in t.partitions.values())

    def leader(self, partition: int, topic: str | None = None) -> int:
        topic = topic or self.spec.topic
        try:
            md = self.admin().list_topics(topic=topic, timeout=5)
            leader = int(md.topics[topic].partitions[partition].leader)
        except Exception as e:
            raise FaultError(f"cannot look up the leader of {topic}[{partition}] ({e})") from e
        if leader < 0:
            raise FaultError(f"{topic}[{partition}] has no leader right now")
        return leader

    def end_offsets(self, topic: str) -> dict[int, int] | None:
        """The end offset of every partition of ``topic`` (None: no such topic, or no answer)."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(
            {
                **self._conf(self.bootstrap),
                "group.id": f"wiber-harness-baseline-{uuid.uuid4().hex[:6]}",
            }
        )
        try:
            t = c.list_topics(topic, timeout=10).topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                return None
            return {
                p: int(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                for p in sorted(t.partitions)
            }
        except Exception:
            return None
        finally:
            c.close()

    def close(self) -> None:
        self._admin = None
        self._node_admins.clear()
        for h in list(self._log.handlers):
            self._log.removeHandler(h)
            h.close()


__all__ = ["DeploymentKafka", "parse_controller"]
