"""LocalCluster: the whole topology as local processes on 127.0.0.1.
It is over 500 lines because starting a topology from plain processes is one
sequence that reads best in one place: choosing the ports, formatting and
starting three KRaft nodes beside the store, wiring every Toxiproxy link,
rendering each system node's command line and environment, and the local
side of the fault verbs (``isolate`` cuts client links; the controller is
read from the voters' quorum-state files). What both backends share lives
in :mod:`wiber_harness.cluster.backend` and :mod:`wiber_harness.cluster.common`.

Starts, each as its own process group with its own log file and data
directory under ``run_dir``: one toxiproxy-server, the store (mongod or
FerretDB), 3 Kafka nodes (KRaft, combined roles, static quorum, started in
parallel), the topic and its DLQ topic, then the API(s) and consumer(s) of
the system under test. Every client hop goes through a named Toxiproxy
proxy; the harness observes over direct addresses (Kafka through
:class:`~wiber_harness.cluster.kafka_observer.KafkaObserver`). Ports are
chosen free at run time.

Readiness is real: Toxiproxy answers its API; the store answers ping; Kafka
reports every broker in its metadata and every partition of the topic led
with a full ISR; the API answers its readiness route; a consumer's metrics
port answers. Nothing waits without a timeout, and a node that fails says
so in one sentence with its log file.

No orphans: a :class:`~wiber_harness.cluster.guards.Watchdog` kills every
process group if the harness dies, and ``close()`` stops everything in
reverse order.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wiber_harness.cluster.backend import ClusterBackend
from wiber_harness.cluster.base import ClusterConfig, Endpoints
from wiber_harness.cluster.commands import (
    CLIENT_ROLES,
    BrokerPorts,
    broker_properties,
    controller_from_quorum_states,
    format_argv,
    kafka_argv,
    new_cluster_id,
    quorum_voters,
    store_argv,
    toxiproxy_argv,
)
from wiber_harness.cluster.common import HOST, free_ports, http_ok, port_open, safe, store_pings
from wiber_harness.cluster.guards import Watchdog
from wiber_harness.cluster.kafka_observer import KafkaObserver
from wiber_harness.cluster.process import ManagedProcess, ProcessSpec, stop_all
from wiber_harness.cluster.toxiproxy import ToxiproxyClient
from wiber_harness.errors import ClusterError, FaultError
from wiber_harness.provision import Provisioned, provision_all


def _diagnose(log_tail: str) -> str:
    """A fix hint from the last lines of a failed node's log."""
    low = log_tail.lower()
    if "address already in use" in low or "bindexception" in low:
        return (
            "a port it needs is in use by another process (find it with 'ss -ltnp'), "
            "then start again"
        )
    if "outofmemory" in low:
        return "the JVM ran out of memory; free memory or lower the heap in cluster/commands.py"
    if "unsupportedclassversion" in low:
        return "the Java on PATH is too old for Kafka 4.x; set JAVA_HOME to a JDK 17+"
    if "corrupt" in low or ("invalid" in low and "meta.properties" in low):
        return "its data directory is damaged; remove the run folder and start again"
    return "read the log for the cause; 'wiber-harness doctor' checks the installation"


class LocalCluster(ClusterBackend[ManagedProcess]):
    """The topology as local processes; implements :class:`~wiber_harness.cluster.base.Cluster`."""

    backend = "local"
    default_start_timeout = 120.0

    def __init__(self, config: ClusterConfig, provisioned: Provisioned | None = None) -> None:
        super().__init__(config)
        self._prov = provisioned
        self._watchdog: Watchdog | None = None
        self._ports: dict[str, int] = {}
        self._brokers: list[BrokerPorts] = []
        self._links: dict[str, tuple[int, str]] = {}  # name -> (listen port, upstream)
        self._node_env: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ plan
    def _plan(self) -> None:
        cfg = self.config
        if cfg.brokers < 1:
            raise ClusterError("ClusterConfig.brokers must be at least 1")
        need = 2 + cfg.brokers * (3 + 2 * len(CLIENT_ROLES)) + 1 + cfg.apis * 2 + cfg.consumers * 2
        ports = iter(free_ports(need))
        self._ports["toxiproxy"] = next(ports)
        self._ports["store"] = next(ports)
        for i in range(1, cfg.brokers + 1):
            client = {role: (next(ports), next(ports)) for role in CLIENT_ROLES}
            self._brokers.append(BrokerPorts(i, next(ports), next(ports), next(ports), client))
            for role, (listen, proxy) in client.items():
                self._links[f"{role}-kafka-{i}"] = (proxy, f"{HOST}:{listen}")
        self._links["api-store"] = (next(ports), f"{HOST}:{self._ports['store']}")
        for a in range(1, cfg.apis + 1):
            self._ports[f"api-{a}"] = next(ports)
            next(ports)
        for c in range(1, cfg.consumers + 1):
            self._links[f"consumer-{c}-store"] = (next(ports), f"{HOST}:{self._ports['store']}")
            self._ports[f"consumer-{c}-metrics"] = next(ports)

    # ----------------------------------------------------------------- start
    def _bring_up(self) -> None:
        self._prov = self._prov or provision_all(install=self.config.install)
        self._plan()
        self._watchdog = Watchdog()
        self._start_toxiproxy()
        self._kafka = KafkaObserver([b.direct for b in self._brokers], self.spec, self.run_dir)
        self._start_kafka_and_store()
        self._create_topics()
        if self.system is not None:
            self._start_system()

    def _add(self, spec: ProcessSpec) -> ManagedProcess:
        assert self._watchdog is not None
        p = ManagedProcess(spec, self._watchdog)
        self._nodes[spec.name] = p
        self._roles[spec.name] = spec.role
        return p

    def _start_toxiproxy(self) -> None:
        assert self._prov is not None
        port = self._ports["toxiproxy"]
        d = self._node_dir("toxiproxy")
        p = self._add(
            ProcessSpec(
                "toxiproxy",
                "toxiproxy",
                toxiproxy_argv(self._prov.toxiproxy.path, port),
                d / "toxiproxy.log",
                address=f"{HOST}:{port}",
            )
        )
        p.start()
        self._tp = ToxiproxyClient(f"http://{HOST}:{port}")
        self._wait({"toxiproxy": self._ready_check("toxiproxy")}, 20)
        for name, (listen, upstream) in self._links.items():
            self._tp.create(name, f"{HOST}:{listen}", upstream)

    def _start_kafka_and_store(self) -> None:
        assert self._prov is not None
        prov = self._prov
        log4j = prov.kafka.log4j_config()
        voters = quorum_voters(self._brokers)
        cluster_id = new_cluster_id()
        formats: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        for b in self._brokers:
            name = f"kafka-{b.node_id}"
            d = self._node_dir(name)
            props = d / "server.properties"
            props.write_text(
                broker_properties(
                    b,
                    voters,
                    d / "data",
                    partitions=self.config.partitions,
                    overrides=self.config.kafka_overrides,
                )
            )
            flog = d / "format.log"
            with flog.open("wb") as fh:
                formats.append(
                    (
                        name,
                        subprocess.Popen(
                            format_argv(
                                prov.kafka.java, prov.kafka.classpath, log4j, cluster_id, props
                            ),
                            stdout=fh,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                        ),
                        flog,
                    )
                )
        # The store starts while the storage tools run: both are slow on 2 cores.
        sdir = self._node_dir("store")
        sport = self._ports["store"]
        (sdir / "data").mkdir(exist_ok=True)
        store = self._add(
            ProcessSpec(
                "store",
                "store",
                store_argv(prov.store.component, prov.store.path, sport, sdir / "data"),
                sdir / "store.log",
                address=f"{HOST}:{sport}",
            )
        )
        store.start()
        for name, proc, flog in formats:
            try:
                rc = proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise ClusterError(
                    f"{name}: storage format did not finish in 90 s; see {flog}"
                ) from None
            if rc != 0:
                raise ClusterError(
                    f"{name}: storage format failed (exit {rc}); see {flog}; "
                    f"{_diagnose(flog.read_text()[-2000:])}"
                )
        for b in self._brokers:
            name = f"kafka-{b.node_id}"
            d = self._node_dir(name)
            self._add(
                ProcessSpec(
                    name,
                    "kafka",
                    kafka_argv(
                        prov.kafka.java,
                        prov.kafka.classpath,
                        log4j,
                        "kafka.Kafka",
                        str(d / "server.properties"),
                    ),
                    d / "kafka.log",
                    address=f"{HOST}:{b.direct}",
                )
            ).start()
        kafka = self.kafka
        checks: dict[str, Callable[[], bool]] = {"store": self._store_ready}
        checks["kafka"] = lambda: kafka.brokers_up() == len(self._brokers)
        self._wait(checks, self.start_timeout, watch=[f"kafka-{b.node_id}" for b in self._brokers])

    def _create_topics(self) -> None:
        """Create the topic and its DLQ; retried, since a just-formed quorum may time out."""
        try:
            self.kafka.create_topics(self.config.partitions)
        except ClusterError as e:
            raise ClusterError(f"{e}; see {self.run_dir}/nodes/kafka-*/kafka.log") from None
        self.wait_topic_healthy(60)

    def _start_system(self) -> None:
        assert self.system is not None
        checks: dict[str, Callable[[], bool]] = {}
        for a in range(1, self.config.apis + 1):
            name = f"api-{a}"
            self._start_system_node(name, "api")
            checks[name] = self._ready_check(name)
        for c in range(1, self.config.consumers + 1):
            name = f"consumer-{c}"
            self._start_system_node(name, "consumer")
            checks[name] = self._ready_check(name)
        self._wait(checks, 60, watch=list(checks))

    def _system_values(self, name: str, role: str) -> dict[str, object]:
        spec = self.spec
        d = self._node_dir(name)
        v: dict[str, object] = {
            "host": HOST,
            "port": self._ports.get(name, 0),
            "topic": spec.topic,
            "dlq_topic": spec.dlq_topic,
            "group": spec.group,
            "db": spec.db,
            "collection": spec.collection,
            "node_dir": d,
            "failpoints_file": d / "failpoints",
            "delivery_log": d / "delivery.jsonl",
            "consumer_id": name,
            "metrics_port": self._ports.get(f"{name}-metrics", 0),
        }
        if role == "api":
            v["kafka_bootstrap"] = self.kafka_bootstrap("api")
            v["store_uri"] = self._store_uri(self._links["api-store"][0])
        else:
            v["kafka_bootstrap"] = self.kafka_bootstrap("consumer")
            v["store_uri"] = self._store_uri(self._links[f"{name}-store"][0])
        return v

    def _start_system_node(self, name: str, role: str) -> ManagedProcess:
        spec = self.spec
        values = self._system_values(name, role)
        argv = spec.render_argv(spec.api_argv if role == "api" else spec.consumer_argv, values)
        env = {**spec.render_env(values), **self.settings, **self._node_env.get(name, {})}
        addr = (
            f"http://{HOST}:{values['port']}"
            if role == "api"
            else f"{HOST}:{values['metrics_port']}"
        )
        d = self._node_dir(name)
        (d / "failpoints").touch()
        if name in self._nodes:
            node = self._nodes[name]
            node.spec.env = env
            node.spec.argv = argv
        else:
            node = self._add(
                ProcessSpec(name, role, argv, d / f"{role}.log", env=env, address=addr)
            )
        node.start()
        return node

    def _start_stopped(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        if node.role in ("api", "consumer"):
            self._start_system_node(name, node.role)
            return {"action": "start", "pid": node.pid}
        return node.start()

    # ------------------------------------------------------------- readiness
    def _start_failure(self, name: str) -> str | None:
        node = self._nodes.get(name)
        if node is None:
            return None
        if not node.alive():
            return (
                f"{name}: the process exited during start-up ({node.state()}); "
                f"see {node.spec.log}; {_diagnose(node.log_tail())}"
            )
        tail = node.log_tail(40).lower()
        if "address already in use" in tail or "bindexception" in tail:
            # some servers (Toxiproxy) log the bind failure and keep running
            return f"{name}: cannot listen on its port; see {node.spec.log}; {_diagnose(tail)}"
        return None

    def _not_ready_hint(self, names: list[str]) -> str:
        logs = "; ".join(str(self._nodes[n].spec.log) for n in names if n in self._nodes)
        return (
            f"see {logs or self.run_dir}; the machine may be overloaded, "
            "or read the log for the cause"
        )

    def _store_ready(self) -> bool:
        return store_pings(self.store_uri, 500)

    def _kafka_node_serving(self, node_id: int) -> bool:
        """The node's current process finished start-up and the cluster lists it.

        Asking "does the metadata list it" alone is not enough after a kill:
        the controller keeps listing a dead broker until its session times
        out, and librdkafka answers metadata from any broker it knows. The
        start-up banner of *this* process (the log since its start) closes
        that gap; the broker logs it only after it registered and was
        unfenced.
        """
        b = self._brokers[node_id - 1]
        node = self._nodes.get(f"kafka-{node_id}")
        if node is None or not node.running() or not port_open(b.direct):
            return False
        if not node.logged_since_start("Kafka Server started"):
            return False
        return self.kafka.in_metadata(node_id)

    def _ready_check(self, name: str) -> Callable[[], bool]:
        role = self._roles[name]
        if role == "kafka":
            node_id = int(name.split("-")[1])
            return lambda: self._kafka_node_serving(node_id)
        if role == "store":
            return self._store_ready
        if role == "toxiproxy":
            tp = self.toxiproxy
            return lambda: safe(tp.version)
        if role == "api":
            url = f"http://{HOST}:{self._ports[name]}{self.spec.api_ready_path}"
            return lambda: http_ok(url)
        port = self._ports.get(f"{name}-metrics", 0)
        if self.spec.consumer_ready == "none" or not port:
            return lambda: self._nodes[name].alive()
        return lambda: port_open(port)

    def _healthy(self, name: str) -> bool:
        if self._roles[name] == "kafka":
            # cheap: listening, and the cluster's metadata lists it
            node_id = int(name.split("-")[1])
            return port_open(self._brokers[node_id - 1].direct) and self.kafka.in_metadata(node_id)
        return super()._healthy(name)

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node is running and ready and the topic healthy (after the heals).

        Every node is watched, so one that was ready and then died fails the
        wait at once.
        """
        return self._wait_all_ready(timeout, watch=list(self._nodes))

    # -------------------------------------------------------------- queries
    @property
    def kafka_direct(self) -> str:
        return ",".join(f"{HOST}:{b.direct}" for b in self._brokers)

    def kafka_bootstrap(self, role: str = "api") -> str:
        return ",".join(
            f"{HOST}:{self._links[f'{role}-kafka-{b.node_id}'][0]}" for b in self._brokers
        )

    def _store_uri(self, port: int) -> str:
        return f"mongodb://{HOST}:{port}/"

    @property
    def store_uri(self) -> str:
        return self._store_uri(self._ports["store"])

    @property
    def prov(self) -> Provisioned:
        assert self._prov is not None
        return self._prov

    def endpoints(self) -> Endpoints:
        apis = tuple(
            f"http://{HOST}:{self._ports[f'api-{a}']}"
            for a in range(1, self.config.apis + 1)
            if self.system is not None
        )
        return Endpoints(
            api=apis[0] if apis else "",
            apis=apis,
            kafka=self.kafka_bootstrap("api"),
            kafka_direct=self.kafka_direct,
            store=self.store_uri,
            toxiproxy=f"http://{HOST}:{self._ports['toxiproxy']}",
        )

    def _address(self, name: str) -> str:
        return self._nodes[name].spec.address

    def kafka_controller(self) -> str:
        """The active KRaft controller: read from the voters' quorum-state files
        (instant), else asked with Kafka's MetadataQuorumCommand (a JVM start,
        9-12 s on a loaded 2-core machine, which delayed a controller kill by
        as much).
        """
        texts = []
        for b in self._brokers:
            f = (
                self._node_dir(f"kafka-{b.node_id}")
                / "data"
                / "__cluster_metadata-0"
                / "quorum-state"
            )
            with contextlib.suppress(OSError):
                texts.append(f.read_text())
        leader = controller_from_quorum_states(texts)
        if leader is not None and self.is_running(f"kafka-{leader}"):
            return f"kafka-{leader}"
        k = self.prov.kafka
        argv = [
            str(k.java),
            "-Xmx128m",
            f"-Dlog4j2.configurationFile={k.log4j_config()}",
            "-cp",
            k.classpath,
            "org.apache.kafka.tools.MetadataQuorumCommand",
            "--bootstrap-server",
            self.kafka_direct,
            "describe",
            "--status",
        ]
        try:
            r = subprocess.run(
                argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            raise FaultError("MetadataQuorumCommand did not answer within 30 s") from e
        for line in r.stdout.splitlines():
            if line.strip().startswith("LeaderId:"):
                return f"kafka-{int(line.split(':', 1)[1])}"
        raise FaultError(f"cannot find the KRaft controller: {r.stdout[-300:]} {r.stderr[-300:]}")

    def processes(self) -> Iterator[ManagedProcess]:
        return iter(self._nodes.values())

    # ---------------------------------------------------------------- verbs
    def set_node_env(self, name: str, env: Mapping[str, str]) -> None:
        """Extra env for one system node, applied at its next start."""
        self._node_env.setdefault(name, {}).update(env)

    def _link_evidence(self, link: str) -> dict[str, Any]:
        return {"listening": port_open(self._links[link][0])}

    def node_links(self, name: str) -> list[str]:
        """Every client link that ends at a node (e.g. isolate a broker from clients)."""
        if name.startswith("kafka-"):
            i = name.split("-")[1]
            return [f"{r}-kafka-{i}" for r in CLIENT_ROLES]
        if name == "store":
            return [ln for ln in self._links if ln.endswith("-store")]
        return []

    def isolate(self, name: str) -> dict[str, Any]:
        """Cut every client link of the node (inter-broker traffic is not proxied locally)."""
        evs = [self.set_link_enabled(ln, False) for ln in self.node_links(name)]
        return {
            "action": "isolate",
            "links": evs,
            "effective": bool(evs) and all(e["effective"] for e in evs),
            "scope": "client links only (local backend)",
        }

    def rejoin(self, name: str) -> dict[str, Any]:
        evs = [self.set_link_enabled(ln, True) for ln in self.node_links(name)]
        return {"action": "rejoin", "links": evs, "effective": all(e["effective"] for e in evs)}

    # ----------------------------------------------------------------- stop
    def close(self, fast: bool | None = None) -> None:
        """Stop everything in reverse start order; idempotent; leaves no process.

        ``fast`` (default: ``config.disposable``) kills the data nodes
        instead of shutting them down cleanly: a run's cluster is thrown
        away after its final reads, and a clean Kafka shutdown costs ~8 s.
        """
        fast = self.config.disposable if fast is None else fast
        # System first (consumers commit what they stored), then Kafka in
        # parallel, then the store and Toxiproxy.
        for roles in (("api", "consumer"), ("kafka",), ("store",), ("toxiproxy",)):
            group = [p for n, p in self._nodes.items() if self._roles[n] in roles]
            with contextlib.suppress(Exception):
                if fast and roles != ("api", "consumer"):
                    for p in group:
                        p.kill()
                else:
                    stop_all(group, grace=10.0)
        for p in self._nodes.values():
            with contextlib.suppress(Exception):
                p.close()
        if self._kafka is not None:
            self._kafka.close()
            self._kafka = None
        if self._tp is not None:
            self._tp.close()
            self._tp = None
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        self.started = False


__all__ = ["LocalCluster"]
