"""Pure builders of node configuration and command lines (unit-tested).

Kafka: every node is a combined broker+controller in a static KRaft quorum.
Each broker has one listener per client role, advertised as that role's
Toxiproxy address (Kafka clients reconnect to the advertised address of the
listener they bootstrapped on, so a proxy must sit on the advertised
address, toxiproxy#171), a DIRECT listener advertised as itself for the
harness's own observation, an INTERNAL listener for replication and a
CONTROLLER listener for the quorum.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLIENT_ROLES = ("api", "consumer")
# how long a silent broker stays registered with the controller (a fault on a
# broker must outlast it to be noticed: wiber_harness.scenario.quick)
BROKER_SESSION_TIMEOUT_MS = 6000

JVM_FLAGS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    # C1 only: three brokers on a 2-core machine spent the first minute of
    # every fresh stack in C2 compilation (~125% CPU at 150 msg/s); a 15 s
    # quick baseline saw 3.6-9.2 s ack p99 in five runs with C2 and 2.4 and
    # 1.9 s in two with C1 only, the per-second median settling near 100 ms
    # after 6-10 s instead of staying near 1 s for the whole run.
    "-XX:TieredStopAtLevel=1",
)


@dataclass(frozen=True)
class BrokerPorts:
    """Ports of one broker. ``client`` maps a client role to (listen port, proxy port)."""

    node_id: int
    controller: int
    internal: int
    direct: int
    client: Mapping[str, tuple[int, int]]


def quorum_voters(brokers: Sequence[BrokerPorts], host: str = "127.0.0.1") -> str:
    return ",".join(f"{b.node_id}@{host}:{b.controller}" for b in brokers)


def broker_properties(
    b: BrokerPorts,
    voters: str,
    log_dir: Path,
    *,
    host: str = "127.0.0.1",
    partitions: int = 6,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """The server.properties of one node."""
    listeners = [
        f"CONTROLLER://{host}:{b.controller}",
        f"INTERNAL://{host}:{b.internal}",
        f"DIRECT://{host}:{b.direct}",
    ]
    advertised = [f"INTERNAL://{host}:{b.internal}", f"DIRECT://{host}:{b.direct}"]
    protocols = ["CONTROLLER:PLAINTEXT", "INTERNAL:PLAINTEXT", "DIRECT:PLAINTEXT"]
    for role, (listen, proxy) in b.client.items():
        lname = role.upper()
        listeners.append(f"{lname}://{host}:{listen}")
        advertised.append(f"{lname}://{host}:{proxy}")
        protocols.append(f"{lname}:PLAINTEXT")
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(b.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "INTERNAL",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(log_dir),
        "num.partitions": str(partitions),
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "3",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": "3",
        "share.coordinator.state.topic.min.isr": "2",
        "group.initial.rebalance.delay.ms": "0",
        # Faster failure detection than the defaults, so a scenario's fault
        # window shows recovery within seconds on a small machine.
        "broker.session.timeout.ms": str(BROKER_SESSION_TIMEOUT_MS),
        "broker.heartbeat.interval.ms": "1000",
        "replica.lag.time.max.ms": "10000",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "24",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    if overrides:
        props.update(overrides)
    return "".join(f"{k}={v}\n" for k, v in props.items())


def kafka_argv(java: Path, classpath: str, log4j: Path, main: str, *args: str) -> list[str]:
    return [
        str(java),
        *JVM_FLAGS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
        main,
        *args,
    ]


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A fresh KRaft cluster id: 16 random bytes, URL-safe base64, never starting with '-'.

    kafka-storage (argparse) takes a value that starts with '-' for an option
    ("--cluster-id/-t: expected one argument"), and 1 id in 64 would.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def format_argv(java: Path, classpath: str, log4j: Path, cluster_id: str, props: Path) -> list[str]:
    """StorageTool format for one node of a static quorum (-g: skip if already formatted)."""
    return [
        str(java),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(props),
        "-g",
    ]


def store_argv(
    kind: str, binary: Path, port: int, data_dir: Path, host: str = "127.0.0.1"
) -> list[str]:
    """Command line of the store: a real mongod, or FerretDB on SQLite."""
    if kind == "MongoDB":
        return [
            str(binary),
            "--bind_ip",
            host,
            "--port",
            str(port),
            "--dbpath",
            str(data_dir),
            "--nounixsocket",
            "--quiet",
            "--setParameter",
            "diagnosticDataCollectionEnabled=false",
        ]
    if kind == "FerretDB":
        return [
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{data_dir}/",
            f"--listen-addr={host}:{port}",
            f"--state-dir={data_dir}",
            "--telemetry=disable",
            "--debug-addr=-",
        ]
    raise ValueError(f"unknown store kind {kind!r}")


def toxiproxy_argv(binary: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    return [str(binary), "-host", host, "-port", str(port)]


def controller_from_quorum_states(texts: Iterable[str]) -> int | None:
    """The active KRaft controller's node id from the voters' ``quorum-state`` files.

    Each voter persists the leader it knows (``leaderId``, ``leaderEpoch``) in
    ``<log dir>/__cluster_metadata-0/quorum-state``; the highest epoch is the
    newest election any voter saw. Returns None when no text names a leader
    (missing, torn or unparsable files are skipped).
    """
    best: tuple[int, int] | None = None
    for t in texts:
        try:
            d = json.loads(t)
            epoch, leader = int(d["leaderEpoch"]), int(d["leaderId"])
        except (ValueError, KeyError, TypeError):
            continue
        if leader >= 0 and (best is None or epoch > best[0]):
            best = (epoch, leader)
    return best[1] if best is not None else None


__all__ = [
    "CLIENT_ROLES",
    "JVM_FLAGS",
    "BrokerPorts",
    "broker_properties",
    "controller_from_quorum_states",
    "format_argv",
    "kafka_argv",
    "quorum_voters",
    "store_argv",
    "toxiproxy_argv",
]
