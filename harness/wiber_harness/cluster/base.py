"""The Cluster interface every backend implements (local processes, compose).

A cluster is the whole Wiber topology: 3 Kafka nodes, the store, Toxiproxy,
the API(s) and the consumer(s), with every client hop behind a named
Toxiproxy proxy. Scenarios and faults talk only to this interface, so every
scenario runs on either backend.

Node names: ``kafka-1`` .. ``kafka-N``, ``store``, ``toxiproxy``,
``api-1`` .., ``consumer-1`` ... Roles: ``kafka``, ``store``, ``toxiproxy``,
``api``, ``consumer``.

Link (proxy) names: ``api-kafka-N`` and ``consumer-kafka-N`` (each client
role's hop to broker N; all consumers share the consumer links),
``api-store`` and ``consumer-N-store`` (each consumer's own hop to the store).

Process verbs: ``kill`` (SIGKILL), ``stop`` (SIGTERM, then SIGKILL after a
grace period), ``pause`` (SIGSTOP), ``resume`` (SIGCONT), ``start`` (start a
stopped node again with its data intact), ``restart`` (stop + start). Each
returns evidence (a dict) that the action took effect, e.g. the process's
state after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["kafka", "store", "toxiproxy", "api", "consumer"]


@dataclass(frozen=True)
class NodeStatus:
    """What ``status --json`` prints for one node."""

    name: str
    role: str
    pid: int | None
    address: str
    healthy: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "pid": self.pid,
            "address": self.address,
            "healthy": self.healthy,
        }


@dataclass(frozen=True)
class Endpoints:
    """Where clients and the harness reach the cluster.

    ``kafka`` is the clients' bootstrap through Toxiproxy (the API role's
    proxies); ``kafka_direct`` the harness's own direct listeners; ``store``
    a direct MongoDB URI; ``toxiproxy`` the Toxiproxy API URL; ``api`` the
    base URL of the first API (``apis`` lists all).
    """

    api: str
    apis: tuple[str, ...]
    kafka: str
    kafka_direct: str
    store: str
    toxiproxy: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "apis": list(self.apis),
            "kafka": self.kafka,
            "kafka_direct": self.kafka_direct,
            "store": self.store,
            "toxiproxy": self.toxiproxy,
        }


@runtime_checkable
class Cluster(Protocol):
    """Lifecycle and fault verbs of a running topology."""

    backend: str
    run_dir: Path

    def start(self) -> None:
        """Start every node and return when all are ready (or raise ClusterError)."""

    def close(self) -> None:
        """Stop every node; leaves no process behind. Idempotent."""

    def status(self) -> list[NodeStatus]: ...

    def endpoints(self) -> Endpoints: ...

    def node_names(self, role: str) -> list[str]:
        """Names of the nodes of one role, in order."""

    def links(self) -> list[str]:
        """Names of every Toxiproxy proxy."""

    def kill(self, name: str) -> dict[str, Any]: ...

    def stop_node(self, name: str) -> dict[str, Any]: ...

    def pause(self, name: str) -> dict[str, Any]: ...

    def resume(self, name: str) -> dict[str, Any]: ...

    def start_node(self, name: str) -> dict[str, Any]: ...

    def restart(self, name: str) -> dict[str, Any]: ...

    def is_running(self, name: str) -> bool:
        """True if the node's process exists and is not stopped/paused."""

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        """Node name of the current leader of a partition (asked directly)."""

    def kafka_controller(self) -> str:
        """Node name of the active KRaft controller."""

    def isolate(self, name: str) -> dict[str, Any]:
        """Cut a node off from every peer (backend-specific real partition)."""

    def rejoin(self, name: str) -> dict[str, Any]: ...


def read_delivery_logs(logs: Iterable[tuple[str, Path]]) -> list[dict[str, Any]]:
    """Every line of every consumer's delivery log, given as (consumer name, file).

    JSON lines; a missing file (the consumer never stored anything) and a torn
    or unparsable line (a consumer killed mid-write) are skipped; each line
    gets ``consumer`` set to its consumer's name unless it names one itself.
    """
    out: list[dict[str, Any]] = []
    for name, f in logs:
        if not f.exists():
            continue
        for line in f.read_bytes().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            d.setdefault("consumer", name)
            out.append(d)
    return out


__all__ = [
    "Cluster",
    "Endpoints",
    "NodeStatus",
    "Role",
    "read_delivery_logs",
]
