"""LocalCluster: the whole topology as local processes on 127.0.0.1.

Starts, each as its own process group with its own log file and data
directory under ``run_dir``: one toxiproxy-server, the store (mongod or
FerretDB), 3 Kafka nodes (KRaft, combined roles, static quorum, started in
parallel), the topic and its DLQ topic, then the API(s) and consumer(s) of
the system under test. Every client hop goes through a named Toxiproxy
proxy; the harness observes over direct addresses. Ports are chosen free at
run time.

Readiness is real: Toxiproxy answers its API; the store answers ping; Kafka
reports every broker in its metadata and every partition of the topic led
with a full ISR; the API answers its readiness route; a consumer's metrics
port answers. Nothing waits without a timeout, and a node that fails says
so in one sentence with its log file.

No orphans: a :class:`Watchdog` kills every process group if the harness
dies, and ``close()`` stops everything in reverse order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wiber_harness.cluster.base import Endpoints, NodeStatus, read_delivery_logs
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
from wiber_harness.cluster.process import ManagedProcess, ProcessSpec, stop_all
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.cluster.toxiproxy import ToxiproxyClient
from wiber_harness.cluster.watchdog import Watchdog
from wiber_harness.errors import ClusterError, FaultError
from wiber_harness.provision import Provisioned, provision_all

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"


@dataclass
class LocalClusterConfig:
    """What to start. ``settings`` are WIBER_* env overrides for API and consumers."""

    run_dir: Path
    brokers: int = 3
    partitions: int = 6
    consumers: int = 2
    apis: int = 1
    settings: dict[str, str] = field(default_factory=dict)
    system: SystemSpec | None = DEFAULT_SYSTEM
    start_timeout: float = 120.0
    install: bool = True
    kafka_overrides: dict[str, str] = field(default_factory=dict)
    # a throw-away cluster (a scenario run's): close() kills the data nodes
    disposable: bool = False


def _free_ports(n: int) -> list[int]:
    """n distinct free ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _diagnose(log_tail: str) -> str:
    """A fix hint from the last lines of a failed node's log."""
    low = log_tail.lower()
    if "address already in use" in low or "bindexception" in low:
        return "a port it needs is in use by another process (find it with 'ss -ltnp'), then start again"
    if "outofmemory" in low:
        return "the JVM ran out of memory; free memory or lower the heap in cluster/commands.py"
    if "unsupportedclassversion" in low:
        return "the Java on PATH is too old for Kafka 4.x; set JAVA_HOME to a JDK 17+"
    if "corrupt" in low or ("invalid" in low and "meta.properties" in low):
        return "its data directory is damaged; remove the run folder and start again"
    return "read the log for the cause; 'wiber-harness doctor' checks the installation"


class LocalCluster:
    """The topology as local processes; implements :class:`~wiber_harness.cluster.base.Cluster`."""

    backend = "local"

    def __init__(self, config: LocalClusterConfig, provisioned: Provisioned | None = None) -> None:
        self.config = config
        self.run_dir = config.run_dir.resolve()
        self.system = config.system
        self._prov = provisioned
        self._nodes: dict[str, ManagedProcess] = {}
        self._roles: dict[str, str] = {}
        self._watchdog: Watchdog | None = None
        self._tp: ToxiproxyClient | None = None
        self._ports: dict[str, int] = {}
        self._brokers: list[BrokerPorts] = []
        self._links: dict[str, tuple[int, str]] = {}  # name -> (listen port, upstream)
        self._node_env: dict[str, dict[str, str]] = {}
        self._rng = random.Random()
        self.settings: dict[str, str] = dict(config.settings)
        self.started = False
        self.start_seconds: float | None = None
        self._admin_client: Any = None

    # ------------------------------------------------------------------ plan
    def _plan(self) -> None:
        cfg = self.config
        if cfg.brokers < 1:
            raise ClusterError("LocalClusterConfig.brokers must be at least 1")
        need = 2 + cfg.brokers * (3 + 2 * len(CLIENT_ROLES)) + 1 + cfg.apis * 2 + cfg.consumers * 2
        ports = iter(_free_ports(need))
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
    def start(self) -> None:
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        prov = self._prov or provision_all(install=self.config.install)
        self._prov = prov
        self._plan()
        self._watchdog = Watchdog()
        try:
            self._start_toxiproxy()
            self._start_kafka_and_store()
            self._create_topics()
            if self.system is not None:
                self._start_system()
        except BaseException:
            self.close()
            raise
        self.started = True
        self.start_seconds = time.monotonic() - t0
        self.write_state()

    def _add(self, spec: ProcessSpec) -> ManagedProcess:
        assert self._watchdog is not None
        p = ManagedProcess(spec, self._watchdog)
        self._nodes[spec.name] = p
        self._roles[spec.name] = spec.role
        return p

    def _node_dir(self, name: str) -> Path:
        d = self.run_dir / "nodes" / name
        d.mkdir(parents=True, exist_ok=True)
        return d

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
        tp = self._tp
        self._wait({"toxiproxy": lambda: _ok(tp.version)}, 20)
        for name, (listen, upstream) in self._links.items():
            tp.create(name, f"{HOST}:{listen}", upstream)

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
                    f"{name}: storage format failed (exit {rc}); see {flog}; {_diagnose(flog.read_text()[-2000:])}"
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
        checks: dict[str, Callable[[], bool]] = {"store": self._store_ready}
        checks["kafka"] = lambda: self._kafka_brokers_up() == len(self._brokers)
        self._wait(
            checks, self.config.start_timeout, blame=[f"kafka-{b.node_id}" for b in self._brokers]
        )

    def _create_topics(self) -> None:
        """Create the topic and its DLQ; retried, since a just-formed quorum may time out."""
        from confluent_kafka.admin import NewTopic

        spec = self.system or DEFAULT_SYSTEM
        admin = self._admin()
        rf = min(3, len(self._brokers))
        conf = {"min.insync.replicas": str(min(2, rf)), "unclean.leader.election.enable": "false"}
        wanted = {spec.topic: self.config.partitions, spec.dlq_topic: 1}
        deadline = time.monotonic() + 90
        last = ""
        while wanted:
            topics = [NewTopic(t, n, rf, config=conf) for t, n in wanted.items()]
            for t, fut in admin.create_topics(topics, request_timeout=20).items():
                try:
                    fut.result(timeout=30)
                    wanted.pop(t, None)
                except Exception as e:
                    if "TOPIC_ALREADY_EXISTS" in str(e):
                        wanted.pop(t, None)
                    else:
                        last = str(e)
            if wanted and time.monotonic() > deadline:
                raise ClusterError(
                    f"Kafka: creating topics {sorted(wanted)} failed ({last}); "
                    f"see {self.run_dir}/nodes/kafka-*/kafka.log"
                )
            if wanted:
                time.sleep(1)
        self._wait({"topic": lambda: self._topic_healthy(spec.topic)}, 60)

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
        self._wait(checks, 60, blame=list(checks))

    def _system_values(self, name: str, role: str) -> dict[str, object]:
        spec = self.system or DEFAULT_SYSTEM
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
        spec = self.system or DEFAULT_SYSTEM
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

    # ------------------------------------------------------------- readiness
    def _wait(
        self,
        checks: Mapping[str, Callable[[], bool]],
        timeout: float,
        blame: list[str] | None = None,
    ) -> None:
        """Poll checks until all pass; fail fast when a node process exits."""
        pending = dict(checks)
        deadline = time.monotonic() + timeout
        while pending:
            for key, fn in list(pending.items()):
                if fn():
                    del pending[key]
            if not pending:
                return
            for name in list(pending) + (blame or []):
                node = self._nodes.get(name)
                if node is None:
                    continue
                if not node.alive():
                    raise ClusterError(
                        f"{name}: the process exited during start-up ({node.state()}); "
                        f"see {node.spec.log}; {_diagnose(node.log_tail())}"
                    )
                tail = node.log_tail(40).lower()
                if "address already in use" in tail or "bindexception" in tail:
                    # some servers (Toxiproxy) log the bind failure and keep running
                    raise ClusterError(
                        f"{name}: cannot listen on its port; see {node.spec.log}; {_diagnose(tail)}"
                    )
            if time.monotonic() > deadline:
                what = ", ".join(sorted(pending))
                logs = "; ".join(
                    str(self._nodes[n].spec.log)
                    for n in (list(pending) + (blame or []))
                    if n in self._nodes
                )
                raise ClusterError(
                    f"{what}: not ready after {timeout:.0f} s; see {logs or self.run_dir}; "
                    f"the machine may be overloaded, or read the log for the cause"
                )
            time.sleep(0.25)

    def _store_ready(self) -> bool:
        import pymongo

        try:
            c: pymongo.MongoClient[dict[str, Any]]
            with contextlib.closing(
                pymongo.MongoClient(
                    self.store_uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500
                )
            ) as c:
                c.admin.command("ping")
            return True
        except Exception:
            return False

    def _admin(self) -> Any:
        """One admin client on the direct listeners, its librdkafka log kept out of the console."""
        if self._admin_client is None:
            from confluent_kafka.admin import AdminClient

            self._admin_client = AdminClient(self._client_conf(self.kafka_direct))
        return self._admin_client

    def _client_conf(self, bootstrap: str) -> dict[str, Any]:
        return {
            "bootstrap.servers": bootstrap,
            "socket.timeout.ms": 2000,
            "logger": _quiet_logger(self.run_dir / "harness-kafka-client.log"),
        }

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
        if node is None or not node.running() or not _port_open(b.direct):
            return False
        if not node.logged_since_start("Kafka Server started"):
            return False
        return self._in_metadata(node_id)

    def _in_metadata(self, node_id: int) -> bool:
        try:
            return node_id in self._admin().list_topics(timeout=3).brokers
        except Exception:
            return False

    def _kafka_brokers_up(self) -> int:
        try:
            md = self._admin().list_topics(timeout=2)
            return len(md.brokers)
        except Exception:
            return 0

    def _topic_healthy(self, topic: str) -> bool:
        try:
            md = self._admin().list_topics(topic=topic, timeout=3)
        except Exception:
            return False
        t = md.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            return False
        rf = min(3, len(self._brokers))
        return all(p.leader >= 0 and len(p.isrs) >= rf for p in t.partitions.values())

    def _ready_check(self, name: str) -> Callable[[], bool]:
        role = self._roles.get(name) or name.split("-")[0]
        if role == "kafka":
            node_id = int(name.split("-")[1])
            return lambda: self._kafka_node_serving(node_id)
        if role == "store":
            return self._store_ready
        if role == "toxiproxy":
            assert self._tp is not None
            tp = self._tp
            return lambda: _ok(tp.version)
        if role == "api":
            url = (
                f"http://{HOST}:{self._ports[name]}{(self.system or DEFAULT_SYSTEM).api_ready_path}"
            )
            return lambda: _http_ok(url)
        port = self._ports.get(f"{name}-metrics", 0)
        if (self.system or DEFAULT_SYSTEM).consumer_ready == "none" or not port:
            return lambda: self._nodes[name].alive()
        return lambda: _port_open(port)

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        """Wait until one node is ready again; returns seconds waited."""
        t0 = time.monotonic()
        self._wait({name: self._ready_check(name)}, timeout)
        return time.monotonic() - t0

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
    def toxiproxy(self) -> ToxiproxyClient:
        if self._tp is None:
            raise ClusterError("the cluster is not started: Toxiproxy is not running")
        return self._tp

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

    def node_names(self, role: str) -> list[str]:
        return [n for n, r in self._roles.items() if r == role]

    def links(self) -> list[str]:
        return list(self._links)

    def node(self, name: str) -> ManagedProcess:
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
            if node.spec.role == "kafka":
                # cheap: listening, and the cluster's metadata lists it
                node_id = int(name.split("-")[1])
                healthy = (
                    node.running()
                    and _port_open(self._brokers[node_id - 1].direct)
                    and self._in_metadata(node_id)
                )
            else:
                healthy = node.running() and _safe(self._ready_check(name))
            out.append(NodeStatus(name, node.spec.role, node.pid, node.spec.address, healthy))
        return out

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        topic = topic or (self.system or DEFAULT_SYSTEM).topic
        try:
            md = self._admin().list_topics(topic=topic, timeout=5)
            leader = md.topics[topic].partitions[partition].leader
        except Exception as e:
            raise FaultError(f"cannot look up the leader of {topic}[{partition}] ({e})") from e
        if leader < 0:
            raise FaultError(f"{topic}[{partition}] has no leader right now")
        return f"kafka-{leader}"

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

    # ---------------------------------------------------------------- verbs
    def kill(self, name: str) -> dict[str, Any]:
        return self.node(name).kill()

    def stop_node(self, name: str) -> dict[str, Any]:
        return self.node(name).stop()

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
        if node.spec.role in ("api", "consumer"):
            self._start_system_node(name, node.spec.role)
            ev: dict[str, Any] = {"action": "start", "pid": node.pid}
        else:
            ev = node.start()
        if wait:
            ev["ready_s"] = round(self.wait_ready(name, timeout), 3)
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

    def set_node_env(self, name: str, env: Mapping[str, str]) -> None:
        """Extra env for one system node, applied at its next start."""
        self._node_env.setdefault(name, {}).update(env)

    def set_link_enabled(self, link: str, enabled: bool) -> dict[str, Any]:
        if link not in self._links:
            raise FaultError(f"no link named {link!r}; links are {', '.join(self._links)}")
        st = self.toxiproxy.set_enabled(link, enabled)
        return {
            "action": "link-enabled" if enabled else "link-disabled",
            "link": link,
            "enabled": st.enabled,
            "effective": st.enabled == enabled,
            "listening": _port_open(self._links[link][0]),
        }

    def node_links(self, name: str) -> list[str]:
        """Every client link that ends at a node (e.g. isolate a broker from clients)."""
        if name.startswith("kafka-"):
            i = name.split("-")[1]
            return [f"{r}-kafka-{i}" for r in CLIENT_ROLES]
        if name == "store":
            return [ln for ln in self._links if ln.endswith("-store")]
        return []

    def isolate(self, name: str) -> dict[str, Any]:
        """Local backend: cut every client link of the node (inter-broker traffic is not proxied)."""
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

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        """Arm or disarm failpoints of a system node at run time (its failpoints file)."""
        node = self.node(name)
        if node.spec.role not in ("api", "consumer"):
            raise FaultError(
                f"{name} is a {node.spec.role} node; failpoints exist only in API and consumer nodes"
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

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node is running and ready (the end phase, after the heals)."""
        t0 = time.monotonic()
        down = [n for n, p in self._nodes.items() if not p.running()]
        if down:
            raise ClusterError(f"{', '.join(down)} not running after every fault was healed")
        self._wait({n: self._ready_check(n) for n in self._nodes}, timeout, blame=list(self._nodes))
        self.wait_topic_healthy(timeout)
        return time.monotonic() - t0

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        """Wait until every partition of the topic has a leader and a full ISR."""
        t0 = time.monotonic()
        spec = self.system or DEFAULT_SYSTEM
        self._wait({"topic": lambda: self._topic_healthy(spec.topic)}, timeout)
        return time.monotonic() - t0

    def delivery_logs(self) -> list[dict[str, Any]]:
        """Every line of every consumer's delivery log (JSON lines; a torn last line is skipped)."""
        return read_delivery_logs(
            (n, self._node_dir(n) / "delivery.jsonl") for n in self.node_names("consumer")
        )

    @property
    def spec(self) -> SystemSpec:
        return self.system or DEFAULT_SYSTEM

    # ---------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "run_dir": str(self.run_dir),
            "pid": os.getpid(),
            "start_seconds": self.start_seconds,
            "nodes": [s.to_dict() for s in self.status()],
            "endpoints": self.endpoints().to_dict(),
            "links": self.links(),
        }

    def write_state(self) -> None:
        (self.run_dir / STATE_FILE).write_text(json.dumps(self.state(), indent=2))

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
        self._admin_client = None
        if self._tp is not None:
            self._tp.close()
            self._tp = None
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        self.started = False

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def processes(self) -> Iterator[ManagedProcess]:
        return iter(self._nodes.values())


def _quiet_logger(path: Path) -> logging.Logger:
    """A logger for librdkafka that writes to a file instead of stderr."""
    log = logging.getLogger(f"wiber_harness.rdkafka.{path}")
    if not log.handlers:
        path.parent.mkdir(parents=True, exist_ok=True)
        h = logging.FileHandler(path)
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(h)
        log.propagate = False
        log.setLevel(logging.INFO)
    return log


def _ok(fn: Callable[[], object]) -> bool:
    try:
        fn()
        return True
    except Exception:
        return False


def _safe(fn: Callable[[], bool]) -> bool:
    try:
        return bool(fn())
    except Exception:
        return False


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


__all__ = ["LocalCluster", "LocalClusterConfig"]
