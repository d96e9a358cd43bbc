"""ClusterBackend: the parts of a :class:`~wiber_harness.cluster.base.Cluster` every backend shares.

A backend subclasses ``ClusterBackend[its node type]`` and supplies what
differs: ``start``/``close``, addresses and endpoints, readiness checks and
why a node failed to start, ``kafka_controller``, ``isolate``/``rejoin``,
and how a stopped node starts again. The base gives, written once: node and
link lookup, ``status``, Kafka queries through
:class:`~wiber_harness.cluster.kafka_observer.KafkaObserver`, the readiness
waits, the process verbs (delegated to the node: kill, stop, pause,
resume), ``start_node``/``restart``, link toggles, failpoints, delivery
logs and the state file. A third backend (e.g. one that attaches to a
deployment the harness did not start) fits the same way: a node type with
the verbs, and the hooks below.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar

from wiber_harness.cluster import identity
from wiber_harness.cluster.base import (
    STATE_FILE,
    ClusterConfig,
    Endpoints,
    Node,
    NodeStatus,
    read_delivery_logs,
)
from wiber_harness.cluster.common import safe, wait_until_ready
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.errors import ClusterError, FaultError

if TYPE_CHECKING:
    from wiber_harness.cluster.kafka_observer import KafkaObserver
    from wiber_harness.cluster.toxiproxy import ToxiproxyClient
    from wiber_harness.scenario import Scenario


class VerbNode(Node, Protocol):
    """A node that carries out the process verbs itself (each returns evidence)."""

    def kill(self) -> dict[str, Any]: ...

    def stop(self, grace: float = 15.0) -> dict[str, Any]: ...

    def pause(self) -> dict[str, Any]: ...

    def resume(self) -> dict[str, Any]: ...


N = TypeVar("N", bound=VerbNode)


class ClusterBackend(ABC, Generic[N]):
    """Shared state and behaviour of the backends; see the module docstring."""

    backend: str
    default_start_timeout: ClassVar[float]

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.run_dir = config.run_dir.resolve()
        self.system = config.system
        self.settings: dict[str, str] = dict(config.settings)
        self.start_timeout = (
            self.default_start_timeout if config.start_timeout is None else config.start_timeout
        )
        self.started = False
        self.start_seconds: float | None = None
        self._nodes: dict[str, N] = {}
        self._roles: dict[str, str] = {}
        self._links: Collection[str] = ()
        self._tp: ToxiproxyClient | None = None
        self._kafka: KafkaObserver | None = None

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        run_dir: Path,
        *,
        settings: dict[str, str] | None = None,
        system: SystemSpec | None = DEFAULT_SYSTEM,
    ) -> Self:
        """A scenario run's own cluster, in ``run_dir/cluster`` (``ClusterConfig.for_scenario``)."""
        return cls(ClusterConfig.for_scenario(scenario, run_dir, settings=settings, system=system))

    # ------------------------------------------------- what a backend supplies
    @abstractmethod
    def _bring_up(self) -> None:
        """Start every node and wait until all are ready (``start`` closes on failure)."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def kafka_direct(self) -> str: ...

    @property
    @abstractmethod
    def store_uri(self) -> str: ...

    @abstractmethod
    def endpoints(self) -> Endpoints: ...

    @abstractmethod
    def kafka_controller(self) -> str: ...

    @abstractmethod
    def isolate(self, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def rejoin(self, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def _address(self, name: str) -> str:
        """Where the node answers (``status``)."""

    @abstractmethod
    def _ready_check(self, name: str) -> Callable[[], bool]:
        """A probe that is True once the node is ready."""

    @abstractmethod
    def _start_failure(self, name: str) -> str | None:
        """Why the node can no longer become ready (one sentence with its log), else None."""

    @abstractmethod
    def _not_ready_hint(self, names: list[str]) -> str:
        """The end of the not-ready sentence: where the logs of ``names`` are, and a hint."""

    @abstractmethod
    def _start_stopped(self, name: str) -> dict[str, Any]:
        """Start a node that is not alive, without waiting; evidence."""

    def _started_evidence(self, name: str) -> dict[str, Any]:
        """More evidence of ``start_node`` once the node is started (and ready)."""
        return {}

    def _link_evidence(self, link: str) -> dict[str, Any]:
        """More evidence of ``set_link_enabled``."""
        return {}

    def _backend_state(self) -> dict[str, Any]:
        """The backend's own entries of :meth:`state`."""
        return {}

    def _healthy(self, name: str) -> bool:
        """Whether a running node is healthy (``status``); Kafka: the cluster lists it."""
        if self._roles[name] == "kafka":
            return self.kafka.in_metadata(int(name.rsplit("-", 1)[1]))
        return safe(self._ready_check(name))

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start every node and return when all are ready; on any failure close and re-raise."""
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._bring_up()
        except BaseException:
            self.close()
            raise
        self.started = True
        self.start_seconds = time.monotonic() - t0
        self.write_state()

    # ------------------------------------------------------------- queries
    @property
    def spec(self) -> SystemSpec:
        return self.system or DEFAULT_SYSTEM

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._tp is None:
            raise ClusterError("the cluster is not started: Toxiproxy is not running")
        return self._tp

    @property
    def kafka(self) -> KafkaObserver:
        """The harness's admin view of Kafka (direct listeners)."""
        if self._kafka is None:
            raise ClusterError("the cluster is not started: Kafka is not running")
        return self._kafka

    def node_names(self, role: str) -> list[str]:
        return [n for n, r in self._roles.items() if r == role]

    def links(self) -> list[str]:
        return list(self._links)

    def node(self, name: str) -> N:
        try:
            return self._nodes[name]
        except KeyError:
            raise FaultError(
                f"no node named {name!r}; nodes are {', '.join(self._nodes)}"
            ) from None

    def is_running(self, name: str) -> bool:
        return self.node(name).running()

    def status(self) -> list[NodeStatus]:
        out = []
        for name, node in self._nodes.items():
            healthy = node.running() and self._healthy(name)
            out.append(NodeStatus(name, node.role, node.pid, self._address(name), healthy))
        return out

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        return f"kafka-{self.kafka.leader(partition, topic)}"

    def delivery_logs(self) -> list[dict[str, Any]]:
        """Every line of every consumer's delivery log (JSON lines; a torn last line is skipped)."""
        return read_delivery_logs(
            (n, self._node_dir(n) / "delivery.jsonl") for n in self.node_names("consumer")
        )

    def _node_dir(self, name: str) -> Path:
        d = self.run_dir / "nodes" / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ----------------------------------------------------------- readiness
    def _wait(
        self,
        checks: Mapping[str, Callable[[], bool]],
        timeout: float,
        watch: Sequence[str] = (),
    ) -> None:
        """Poll checks until all pass; fail fast when a pending or watched node failed."""
        wait_until_ready(
            checks,
            timeout,
            failed=self._start_failure,
            not_ready=self._not_ready_hint,
            watch=watch,
        )

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        """Wait until one node is ready again; returns seconds waited."""
        t0 = time.monotonic()
        self.node(name)
        self._wait({name: self._ready_check(name)}, timeout)
        return time.monotonic() - t0

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node is running and ready and the topic healthy (after the heals)."""
        return self._wait_all_ready(timeout)

    def _wait_all_ready(self, timeout: float, watch: Sequence[str] = ()) -> float:
        t0 = time.monotonic()
        down = [n for n, node in self._nodes.items() if not node.running()]
        if down:
            raise ClusterError(f"{', '.join(down)} not running after every fault was healed")
        self._wait({n: self._ready_check(n) for n in self._nodes}, timeout, watch)
        self.wait_topic_healthy(timeout)
        return time.monotonic() - t0

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        """Wait until every partition of the topic has a leader and a full ISR."""
        t0 = time.monotonic()
        self._wait({"topic": self.kafka.topic_healthy}, timeout)
        return time.monotonic() - t0

    # --------------------------------------------------------------- verbs
    def kill(self, name: str) -> dict[str, Any]:
        return self.node(name).kill()

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        return self.node(name).stop(grace)

    def pause(self, name: str) -> dict[str, Any]:
        return self.node(name).pause()

    def resume(self, name: str) -> dict[str, Any]:
        return self.node(name).resume()

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        node = self.node(name)
        if node.alive():
            return {
                "action": "start",
                "effective": False,
                "reason": "already running",
                "pid": node.pid,
            }
        ev = self._start_stopped(name)
        if wait:
            ev["ready_s"] = round(self.wait_ready(name, timeout), 3)
        ev.update(self._started_evidence(name))
        ev["effective"] = node.alive()
        return ev

    def restart(self, name: str, wait: bool = True) -> dict[str, Any]:
        stop = self.stop_node(name)
        start = self.start_node(name, wait=wait)
        return {
            "action": "restart",
            "stop": stop,
            "start": start,
            "effective": bool(start.get("effective")),
        }

    def set_link_enabled(self, link: str, enabled: bool) -> dict[str, Any]:
        if link not in self._links:
            raise FaultError(f"no link named {link!r}; links are {', '.join(self._links)}")
        st = self.toxiproxy.set_enabled(link, enabled)
        return {
            "action": "link-enabled" if enabled else "link-disabled",
            "link": link,
            "enabled": st.enabled,
            "effective": st.enabled == enabled,
            **self._link_evidence(link),
        }

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        """Arm or disarm failpoints of a system node at run time (its failpoints file)."""
        node = self.node(name)
        if node.role not in ("api", "consumer"):
            raise FaultError(
                f"{name} is a {node.role} node; failpoints exist only in API and consumer nodes"
            )
        f = self._node_dir(name) / "failpoints"
        f.write_text(spec + "\n")
        return {
            "action": "failpoints",
            "node": name,
            "spec": spec,
            "file": str(f),
            "effective": f.read_text().strip() == spec,
        }

    # --------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """What ``cluster.json`` holds; every PID comes with its identity
        (start time and command line, :func:`wiber_harness.cluster.identity.record`),
        so whoever reads the file later signals only the process it names."""
        nodes = [s.to_dict() for s in self.status()]
        for n in nodes:
            n["identity"] = identity.record(n["pid"])
        return {
            "backend": self.backend,
            "run_dir": str(self.run_dir),
            "pid": os.getpid(),
            "process": identity.record(os.getpid()),
            **self._backend_state(),
            "start_seconds": self.start_seconds,
            "nodes": nodes,
            "endpoints": self.endpoints().to_dict(),
            "links": self.links(),
        }

    def write_state(self) -> None:
        (self.run_dir / STATE_FILE).write_text(json.dumps(self.state(), indent=2))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ClusterBackend", "VerbNode"]
