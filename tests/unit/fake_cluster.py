"""A small in-memory cluster that satisfies the ``Cluster`` protocol, for fault-kind unit tests.

No process, no socket: nodes are states (``running``, ``paused``, ``dead``),
links are Toxiproxy proxies held by :class:`FakeToxiproxy` (the real
:class:`~wiber_harness.cluster.toxiproxy.ToxiproxyClient` with its HTTP
call answered from a dict, so the client's own checks still run). Every
verb appends ``(verb, name, ...)`` to :attr:`FakeCluster.calls` and returns
evidence shaped like the real backends' (``effective`` says whether the
action changed anything). Switches make a fault miss on purpose:
``drop_toxics`` (Toxiproxy accepts a toxic but never shows it) and
``stuck_links`` (a proxy ignores enable/disable, so the client raises).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wiber_harness.cluster.base import Cluster, Endpoints, Node, NodeStatus
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.cluster.toxiproxy import ToxiproxyClient


class FakeNode:
    """One node's state; ``alive`` unless killed or stopped."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.role = name.split("-")[0]
        self.state = "running"
        self.code: int | None = None
        self._pid = pid

    @property
    def pid(self) -> int | None:
        return self._pid if self.state != "dead" else None

    def alive(self) -> bool:
        return self.state != "dead"

    def running(self) -> bool:
        return self.state == "running"

    def returncode(self) -> int | None:
        return self.code


class FakeToxiproxy(ToxiproxyClient):
    """The real client over an in-memory Toxiproxy (proxies, their toxics, enabled flags)."""

    def __init__(self, links: list[str]) -> None:
        super().__init__("http://fake-toxiproxy:8474")
        self.proxies_: dict[str, dict[str, Any]] = {
            ln: {"name": ln, "listen": "127.0.0.1:0", "upstream": "x:1", "enabled": True}
            for ln in links
        }
        self.toxics_: dict[str, list[dict[str, Any]]] = {ln: [] for ln in links}
        self.drop_toxics = False
        self.stuck_links: set[str] = set()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        parts = path.strip("/").split("/")
        body = kw.get("json") or {}
        if parts[0] != "proxies" or len(parts) < 2 or parts[1] not in self.proxies_:
            raise AssertionError(f"the fake Toxiproxy does not answer {method} {path}")
        name = parts[1]
        if len(parts) == 2 and method == "GET":
            return {**self.proxies_[name], "toxics": list(self.toxics_[name])}
        if len(parts) == 2 and method == "POST":
            if name not in self.stuck_links:
                self.proxies_[name]["enabled"] = bool(body["enabled"])
            return dict(self.proxies_[name])
        if parts[2:3] == ["toxics"] and method == "POST":
            if not self.drop_toxics:
                self.toxics_[name].append(dict(body))
            return dict(body)
        if parts[2:3] == ["toxics"] and method == "DELETE":
            self.toxics_[name] = [t for t in self.toxics_[name] if t["name"] != parts[3]]
            return None
        raise AssertionError(f"the fake Toxiproxy does not answer {method} {path}")


class FakeCluster:
    """3 brokers, the store, ``consumers`` consumers and ``apis`` APIs, with the backends' links."""

    backend = "fake"

    def __init__(self, consumers: int = 2, apis: int = 1, run_dir: Path = Path("/nonexistent")):
        self.run_dir = run_dir
        self.calls: list[tuple[Any, ...]] = []
        self.leader = "kafka-1"
        names = [
            *(f"kafka-{i}" for i in (1, 2, 3)),
            "store",
            "toxiproxy",
            *(f"api-{i}" for i in range(1, apis + 1)),
            *(f"consumer-{i}" for i in range(1, consumers + 1)),
        ]
        self.nodes = {n: FakeNode(n, 1000 + i) for i, n in enumerate(names)}
        self._links = [
            *(f"api-kafka-{i}" for i in (1, 2, 3)),
            *(f"consumer-kafka-{i}" for i in (1, 2, 3)),
            "api-store",
            *(f"consumer-{i}-store" for i in range(1, consumers + 1)),
        ]
        self._toxiproxy = FakeToxiproxy(self._links)
        self.failpoints: dict[str, list[str]] = {}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.calls.append(("start",))

    def close(self) -> None:
        self.calls.append(("close",))

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        return 0.0

    def wait_all_ready(self, timeout: float = 120) -> float:
        return 0.0

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        self.calls.append(("wait_topic_healthy",))
        return 0.25

    # -------------------------------------------------------------- queries
    @property
    def spec(self) -> SystemSpec:
        return DEFAULT_SYSTEM

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        return self._toxiproxy

    @property
    def kafka_direct(self) -> str:
        return "127.0.0.1:19092"

    @property
    def store_uri(self) -> str:
        return "mongodb://127.0.0.1:27017"

    def status(self) -> list[NodeStatus]:
        return [
            NodeStatus(n, n.split("-")[0], x.pid, "", x.running()) for n, x in self.nodes.items()
        ]

    def state(self) -> dict[str, Any]:
        return {"nodes": [s.to_dict() for s in self.status()]}

    def write_state(self) -> None:
        pass

    def endpoints(self) -> Endpoints:
        return Endpoints(
            "http://api-1",
            ("http://api-1",),
            "127.0.0.1:9092",
            self.kafka_direct,
            self.store_uri,
            self._toxiproxy.url,
        )

    def node_names(self, role: str) -> list[str]:
        return [n for n in self.nodes if n == role or n.startswith(f"{role}-")]

    def node(self, name: str) -> FakeNode:
        return self.nodes[name]

    def links(self) -> list[str]:
        return list(self._links)

    def is_running(self, name: str) -> bool:
        return self.nodes[name].running()

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        return self.leader

    def kafka_controller(self) -> str:
        return "kafka-2"

    def delivery_logs(self) -> list[dict[str, Any]]:
        return []

    # ---------------------------------------------------------------- verbs
    def _to(self, verb: str, name: str, want: str, *, need: str | None = None) -> dict[str, Any]:
        self.calls.append((verb, name))
        node = self.nodes[name]
        ok = need is None or node.state == need
        if ok:
            node.state = want
            node.code = 137 if want == "dead" else None
        ev: dict[str, Any] = {"action": verb, "node": name, "state": node.state, "effective": ok}
        if not ok:
            ev["reason"] = f"{name} was {node.state}"
        return ev

    def kill(self, name: str) -> dict[str, Any]:
        return self._to("kill", name, "dead", need="running")

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        return self._to("stop", name, "dead", need="running")

    def pause(self, name: str) -> dict[str, Any]:
        return self._to("pause", name, "paused", need="running")

    def resume(self, name: str) -> dict[str, Any]:
        return self._to("resume", name, "running", need="paused")

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        ev = self._to("start", name, "running", need="dead")
        ev["waited"] = wait
        return ev

    def restart(self, name: str, wait: bool = True) -> dict[str, Any]:
        self.calls.append(("restart", name))
        self.nodes[name].state = "running"
        return {"action": "restart", "node": name, "effective": True}

    def set_link_enabled(self, link: str, enabled: bool) -> dict[str, Any]:
        self.calls.append(("set_link_enabled", link, enabled))
        st = self._toxiproxy.set_enabled(link, enabled)  # FaultError for a stuck link
        return {
            "action": "link-enabled" if enabled else "link-disabled",
            "link": link,
            "enabled": st.enabled,
            "effective": st.enabled == enabled,
        }

    def isolate(self, name: str) -> dict[str, Any]:
        self.calls.append(("isolate", name))
        return {"action": "isolate", "node": name, "effective": True}

    def rejoin(self, name: str) -> dict[str, Any]:
        self.calls.append(("rejoin", name))
        return {"action": "rejoin", "node": name, "effective": True}

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        self.calls.append(("set_failpoints", name, spec))
        self.failpoints.setdefault(name, []).append(spec)
        return {"action": "failpoints", "node": name, "spec": spec, "effective": True}


class FakeWorkload:
    """The workload's duplicate verb: re-sends ``count`` of ``acknowledged`` keys."""

    def __init__(self, acknowledged: int = 50) -> None:
        self.acknowledged = acknowledged
        self.calls: list[int] = []

    async def retry_acknowledged(self, count: int) -> dict[str, Any]:
        self.calls.append(count)
        sent = min(count, self.acknowledged)
        return {"requested": count, "sent": sent, "same_response": sent}


if TYPE_CHECKING:  # the fakes satisfy the protocols, so drift is a type error
    _fake_node_is_a_node: type[Node] = FakeNode
    _fake_cluster_is_a_cluster: type[Cluster] = FakeCluster


__all__ = ["FakeCluster", "FakeNode", "FakeToxiproxy", "FakeWorkload"]
