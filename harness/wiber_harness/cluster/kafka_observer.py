"""The harness's own view of Kafka, on every backend: the DIRECT listeners.

Every question the harness asks Kafka (how many brokers are up, is a broker
listed or serving, is the topic's ISR full, who leads a partition) and the
creation of the topic and its DLQ go to the brokers' DIRECT listeners on
127.0.0.1 (local processes, or ports published by compose), never through
Toxiproxy, so a link fault never blinds the harness. librdkafka's log goes
to ``harness-kafka-client.log`` in the run folder, not the console.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wiber_harness.cluster.common import HOST, quiet_logger
from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.errors import ClusterError, FaultError


class KafkaObserver:
    """Admin clients on the DIRECT listeners of brokers 1..N (``ports[i-1]`` is broker i)."""

    def __init__(self, ports: Sequence[int], spec: SystemSpec, log_dir: Path) -> None:
        self.ports = tuple(ports)
        self.spec = spec
        self._log = quiet_logger(log_dir / "harness-kafka-client.log")
        self._admin: Any = None
        self._node_admins: dict[int, Any] = {}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{p}" for p in self.ports)

    def _conf(self, bootstrap: str) -> dict[str, Any]:
        return {"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "logger": self._log}

    def admin(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(self._conf(self.bootstrap))
        return self._admin

    def node_serving(self, node_id: int) -> bool:
        """The node itself answers metadata on its own DIRECT listener and lists itself.

        Asking the node matters after a restart or a rejoin: the others'
        metadata lists a dead broker until its session times out. A client
        is made only once the port is really served (see :func:`port_served`)
        and is dropped after a failure: a librdkafka client whose first
        connection was cut by docker-proxy never recovers (its API version
        probe fails and it falls back to protocol versions Kafka 4 no
        longer speaks).
        """
        return node_serving(self._node_admins, node_id, HOST, self.ports[node_id - 1], self._conf)

    def brokers_up(self) -> int:
        """How many brokers the cluster's metadata lists (0 when none answers)."""
        try:
            return len(self.admin().list_topics(timeout=2).brokers)
        except Exception:
            return 0

    def in_metadata(self, node_id: int) -> bool:
        """The cluster's metadata lists the node (it may still list a dead one for a while)."""
        try:
            return node_id in self.admin().list_topics(timeout=3).brokers
        except Exception:
            return False

    def create_topics(self, partitions: int, timeout: float = 90) -> None:
        """The topic and its DLQ (RF 3, min ISR 2, no unclean election); retried."""
        from confluent_kafka.cimpl import NewTopic

        rf = min(3, len(self.ports))
        conf = {"min.insync.replicas": str(min(2, rf)), "unclean.leader.election.enable": "false"}
        wanted = {self.spec.topic: partitions, self.spec.dlq_topic: 1}
        deadline = time.monotonic() + timeout
        last = ""
        while wanted:
            topics = [NewTopic(t, n, rf, config=conf) for t, n in wanted.items()]
            for t, fut in self.admin().create_topics(topics, request_timeout=20).items():
                try:
                    fut.result(timeout=30)
                    wanted.pop(t, None)
                except Exception as e:
                    if "TOPIC_ALREADY_EXISTS" in str(e):
                        wanted.pop(t, None)
                    else:
                        last = str(e)
            if wanted and time.monotonic() > deadline:
                raise ClusterError(f"Kafka: creating topics {sorted(wanted)} failed ({last})")
            if wanted:
                time.sleep(1)

    def topic_healthy(self) -> bool:
        """Every partition of the topic has a leader and a full ISR."""
        topic = self.spec.topic
        try:
            md = self.admin().list_topics(topic=topic, timeout=3)
        except Exception:
            return False
        t = md.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            return False
        rf = min(3, len(self.ports))
        return all(p.leader >= 0 and len(p.isrs) >= rf for p in t.partitions.values())

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

    def close(self) -> None:
        self._admin = None
        self._node_admins.clear()
        for h in list(self._log.handlers):  # one file handle per run, not per process
            self._log.removeHandler(h)
            h.close()


def node_serving(
    clients: dict[Any, Any],
    broker_id: int,
    host: str,
    port: int,
    conf: Callable[[str], dict[str, Any]],
) -> bool:
    """The broker ``broker_id`` answers metadata on its own listener ``host:port`` and
    lists itself. ``clients`` caches one AdminClient per broker id between calls.

    A client is made only once the port is really served (:func:`port_served`)
    and is dropped after any failure, and when the answer came from another
    broker: librdkafka may ask any broker it has learned of, and only a fresh
    client's first request is sure to reach the node; a client whose first
    connection was cut (by docker-proxy) never recovers (its API version probe
    fails and it falls back to protocol versions Kafka 4 no longer speaks).
    """
    from confluent_kafka.admin import AdminClient

    if not port_served(port, host):
        clients.pop(broker_id, None)
        return False
    client = clients.get(broker_id)
    if client is None:
        client = AdminClient(conf(f"{host}:{port}"))
        clients[broker_id] = client
    try:
        md = client.list_topics(timeout=4)
    except Exception:
        clients.pop(broker_id, None)
        return False
    if md.orig_broker_id != broker_id:
        clients.pop(broker_id, None)
        return False
    return broker_id in md.brokers


def port_served(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Something behind a published port accepts connections.

    docker-proxy listens on a published port as soon as the container runs
    and closes a connection at once when nothing in the container listens
    yet; a Kafka broker instead keeps a fresh connection open and silent.
    So: connected and no EOF within ``timeout`` means served.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            try:
                return s.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False


__all__ = ["KafkaObserver", "node_serving", "port_served"]
