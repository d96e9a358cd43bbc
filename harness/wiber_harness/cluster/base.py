"""The Cluster interface every backend implements (local processes, compose), and its config.

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

Backends: :func:`wiber_harness.cluster.factory.make_cluster` builds one by
name from one :class:`ClusterConfig`; both share their common parts through
:class:`wiber_harness.cluster.backend.ClusterBackend`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec

if TYPE_CHECKING:
    from wiber_harness.cluster.deployment import Deployment
    from wiber_harness.cluster.toxiproxy import ToxiproxyClient
    from wiber_harness.scenario import Scenario

Role = Literal["kafka", "store", "toxiproxy", "api", "consumer"]

STATE_FILE = "cluster.json"  # what write_state writes into run_dir


@dataclass
class ClusterConfig:
    """What to start, for every backend.

    ``settings`` are WIBER_* env overrides for the API and consumers. A
    backend ignores the knobs of the others (the CLI sets ``akhq`` for
    both); a value a backend cannot honour (compose: ``brokers`` other than
    3) raises ClusterError when the cluster is made.
    """

    run_dir: Path
    partitions: int = 6
    consumers: int = 2
    apis: int = 1
    settings: dict[str, str] = field(default_factory=dict)
    system: SystemSpec | None = DEFAULT_SYSTEM  # None: only Kafka, the store and Toxiproxy
    start_timeout: float | None = None  # None: the backend's (local 120 s, compose 300 s)
    # a throw-away cluster (a scenario run's): close() may take shortcuts
    # (local: kills the data nodes instead of a clean shutdown)
    disposable: bool = False
    # local backend
    brokers: int = 3  # the compose file has exactly 3
    install: bool = True  # provision what is missing into the cache
    kafka_overrides: dict[str, str] = field(default_factory=dict)  # server.properties
    # compose backend
    offline: bool | None = None  # offline images; None: auto (see cluster/compose.py)
    compose_dir: Path | None = None  # default: the repository's docker/
    project: str | None = None  # default: wiber-<random>
    akhq: bool = False  # also start AKHQ (official images only)
    # attach backend: the deployment a target file describes (cluster/deployment.py)
    deployment: Deployment | None = None

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        run_dir: Path,
        *,
        settings: dict[str, str] | None = None,
        system: SystemSpec | None = DEFAULT_SYSTEM,
        deployment: Deployment | None = None,
    ) -> ClusterConfig:
        """A scenario run's own throw-away cluster, as its topology asks, in ``run_dir/cluster``.

        With ``deployment`` (attach backend) nothing is thrown away: the
        cluster is the deployment, and the topology only shapes the workload.
        """
        topo = scenario.topology
        return cls(
            run_dir=Path(run_dir) / "cluster",
            partitions=topo.partitions,
            consumers=topo.consumers,
            apis=topo.apis,
            settings=dict(settings or {}),
            system=system,
            disposable=deployment is None,
            deployment=deployment,
        )


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


class Node(Protocol):
    """One node as the nemesis sees it: a local process group or a container."""

    @property
    def name(self) -> str:
        """The node's name (``kafka-1``, ``store``, ``api-1`` ...)."""

    @property
    def role(self) -> str:
        """The node's role (see :data:`Role`)."""

    @property
    def pid(self) -> int | None:
        """The node's main process id (on the host), None when it has none."""

    def alive(self) -> bool:
        """The node's process exists (running, stopped or paused)."""

    def running(self) -> bool:
        """The node's process exists and is not stopped or paused."""

    def returncode(self) -> int | None:
        """The exit status once the process has ended, else None."""


@runtime_checkable
class Cluster(Protocol):
    """Lifecycle, queries and fault verbs of a running topology.

    Every caller (runner, nemesis, end phase, bench, CLI) types its cluster
    as this protocol; both backends satisfy it (``cluster/factory.py``
    checks that with mypy-visible assignments), so drift between them is a
    type error.
    Verbs return an evidence dict whose ``effective`` says whether the
    action took effect (see the module docstring).
    """

    backend: str
    run_dir: Path

    # ---------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start every node and return when all are ready (or raise ClusterError)."""

    def close(self) -> None:
        """Stop every node; leaves no process behind. Idempotent.

        (The local backend also takes ``fast``; ``ClusterConfig.disposable``
        is its default, which is how callers choose it.)
        """

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        """Wait until one node is ready; seconds waited (ClusterError on timeout)."""

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node is running and ready and the topic healthy; seconds waited."""

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        """Wait until every partition of the topic has a leader and a full ISR; seconds waited."""

    # ------------------------------------------------------------ queries
    @property
    def spec(self) -> SystemSpec:
        """The system under test (topic, group, field names, commands)."""

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """The client of the Toxiproxy that carries every link."""

    @property
    def kafka_direct(self) -> str:
        """The harness's own bootstrap (direct listeners, never proxied)."""

    @property
    def store_uri(self) -> str:
        """A direct (never proxied) MongoDB URI of the store."""

    def status(self) -> list[NodeStatus]: ...

    def state(self) -> dict[str, Any]:
        """What ``status --json`` and ``cluster.json`` hold."""

    def write_state(self) -> None:
        """Write :meth:`state` to ``run_dir/cluster.json``."""

    def endpoints(self) -> Endpoints: ...

    def node_names(self, role: str) -> list[str]:
        """Names of the nodes of one role, in order."""

    def node(self, name: str) -> Node:
        """The node called ``name`` (FaultError naming the nodes when there is none)."""

    def links(self) -> list[str]:
        """Names of every Toxiproxy proxy."""

    def is_running(self, name: str) -> bool:
        """True if the node's process exists and is not stopped/paused."""

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        """Node name of the current leader of a partition (asked directly)."""

    def kafka_controller(self) -> str:
        """Node name of the active KRaft controller."""

    def delivery_logs(self) -> list[dict[str, Any]]:
        """Every line of every consumer's delivery log (see :func:`read_delivery_logs`)."""

    # -------------------------------------------------------------- verbs
    def kill(self, name: str) -> dict[str, Any]: ...

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""

    def pause(self, name: str) -> dict[str, Any]: ...

    def resume(self, name: str) -> dict[str, Any]: ...

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        """Start a stopped node again with its data intact; ``wait`` for its readiness."""

    def restart(self, name: str, wait: bool = True) -> dict[str, Any]: ...

    def set_link_enabled(self, link: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable one Toxiproxy proxy (disabled: a partition of that hop)."""

    def isolate(self, name: str) -> dict[str, Any]:
        """Cut a node off from every peer (backend-specific real partition)."""

    def rejoin(self, name: str) -> dict[str, Any]: ...

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        """Arm or disarm failpoints of a system node (``name=action[@hit|%p]``)."""


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
    "STATE_FILE",
    "Cluster",
    "ClusterConfig",
    "Endpoints",
    "Node",
    "NodeStatus",
    "Role",
    "read_delivery_logs",
]
