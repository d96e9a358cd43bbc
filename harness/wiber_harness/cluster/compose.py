"""ComposeCluster: the whole topology as Docker containers, from docker/docker-compose.yml.

Shared with the local backend: :mod:`~wiber_harness.cluster.backend`;
containers as nodes: :mod:`~wiber_harness.cluster.container`; which images
and whether they are current: :mod:`~wiber_harness.cluster.compose_images`.

Implements :class:`~wiber_harness.cluster.base.Cluster` like
:class:`~wiber_harness.cluster.local.LocalCluster`, with the same node names
(``kafka-1..3``, ``store``, ``toxiproxy``, ``api-N``, ``consumer-N``) and
link names (``api-kafka-N``, ``consumer-kafka-N``, ``api-store``,
``consumer-N-store``), so every scenario runs unchanged on either backend.

How it runs:

* ``compose`` (``docker compose`` v2 when present, else ``docker-compose``
  v1.29; see :func:`compose_files.compose_command`) brings the stack up and
  down as one project named ``wiber-<random>``, with the official images, or
  with the offline images of ``docker/offline/build.sh`` plus its override
  (``ClusterConfig.offline``; ``compose_images`` says how it is chosen).
  The harness writes one more override into the run folder: each system
  node's env and command and its node folder bind-mounted (failpoints file,
  delivery log). Published ports are chosen free and bound to 127.0.0.1.
* Start order: Kafka, the store and Toxiproxy; then the harness waits for
  real readiness (each broker answers metadata on its DIRECT listener, the
  store is a writable primary, Toxiproxy answers), creates the topic and
  its DLQ (RF 3, min ISR 2), and only then starts the API(s) and consumers
  (``--no-deps``: the harness has checked their dependencies itself) and
  waits until each answers its readiness route or metrics port.
* Verbs go through the Docker SDK (API 1.41 negotiated), carried out by
  each node's :class:`ContainerNode`; evidence is the container's state.
* ``isolate`` is a real partition: the container is disconnected from the
  compose network, so it loses its brokers, Toxiproxy and the harness at
  once (inter-broker and controller traffic included); ``rejoin`` connects
  it again under its service alias.
* The harness observes only through published direct ports (admin and
  leader lookups on the DIRECT listeners, the store's own port), so no fault
  blinds it. ``Endpoints.kafka`` is the API role's proxied bootstrap *inside*
  the compose network (``toxiproxy:2909N``); host clients use ``kafka_direct``.
* ``close()`` saves every container's log under ``nodes/<name>/``, then
  ``compose down -v``; a guard process does the same if the harness dies.

Limits: another system implementation runs from the same app image
(``WIBER_APP_IMAGE``) with its spec's commands and env; the offline store is
one FerretDB node where the official stack has a 3-member replica set (the
``store`` node is its preferred primary; clients connect to it directly
through Toxiproxy, so killing it makes the store unavailable on both stacks).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from wiber_harness.cluster.backend import ClusterBackend
from wiber_harness.cluster.base import ClusterConfig, Endpoints
from wiber_harness.cluster.commands import new_cluster_id
from wiber_harness.cluster.common import HOST, free_ports, http_ok, safe
from wiber_harness.cluster.compose_files import (
    API_PORT,
    FILE_CONSUMERS,
    METRICS_PORT,
    NODE_DIR,
    OFFICIAL_IMAGES,
    PublishedPorts,
    compose_command,
    compose_files,
    default_compose_dir,
    harness_override,
    image,
    proxied_bootstrap,
    proxied_store_uri,
    store_proxy_port,
)
from wiber_harness.cluster.compose_images import check_images, choose_offline
from wiber_harness.cluster.container import ContainerNode, docker_client
from wiber_harness.cluster.guards import ComposeGuard
from wiber_harness.cluster.kafka_observer import KafkaObserver
from wiber_harness.cluster.toxiproxy import ToxiproxyClient
from wiber_harness.errors import ClusterError, FaultError

BROKERS = 3
INFRA = ("kafka-1", "kafka-2", "kafka-3", "store", "toxiproxy")


class ComposeCluster(ClusterBackend[ContainerNode]):
    """The topology as compose containers (a :class:`~wiber_harness.cluster.base.Cluster`)."""

    backend = "compose"
    default_start_timeout = 300.0  # images start slowly on a busy 2-core machine

    def __init__(self, config: ClusterConfig) -> None:
        if config.consumers < 1 or config.apis < 1:
            raise ClusterError("ClusterConfig: consumers and apis must be at least 1 on compose")
        if config.brokers != BROKERS:
            raise ClusterError(
                f"ClusterConfig: the compose file has {BROKERS} brokers, not {config.brokers}"
            )
        super().__init__(config)
        self.compose_dir = (config.compose_dir or default_compose_dir()).resolve()
        self.project = config.project or f"wiber-{uuid.uuid4().hex[:8]}"
        self.offline = config.offline
        self._docker: Any = None
        self._compose: list[str] = []
        self._files: list[Path] = []
        self._override: Path | None = None
        self._env: dict[str, str] = {}
        self._ports: PublishedPorts | None = None
        self._links: list[str] = []
        self._guard: ComposeGuard | None = None
        self._isolated: dict[str, list[tuple[str, list[str]]]] = {}
        self._brought_up = False
        self.akhq_note: str | None = None  # where AKHQ answers, or why it was left out

    # ------------------------------------------------------------------ plan
    def _plan(self) -> None:
        cfg = self.config
        apis = cfg.apis if self.system is not None else 0
        consumers = cfg.consumers if self.system is not None else 0
        free = iter(free_ports(BROKERS + 2 + apis + consumers))
        self._ports = PublishedPorts(
            kafka_direct=tuple(next(free) for _ in range(BROKERS)),
            store=next(free),
            toxiproxy=next(free),
            apis=tuple(next(free) for _ in range(apis)),
            consumer_metrics=tuple(next(free) for _ in range(consumers)),
        )
        self._roles = {f"kafka-{i}": "kafka" for i in range(1, BROKERS + 1)}
        self._roles.update({"store": "store", "toxiproxy": "toxiproxy"})
        self._roles.update({f"api-{i}": "api" for i in range(1, apis + 1)})
        self._roles.update({f"consumer-{i}": "consumer" for i in range(1, consumers + 1)})
        self._links = [f"{r}-kafka-{i}" for r in ("api", "consumer") for i in range(1, BROKERS + 1)]
        if self.system is not None:
            self._links += ["api-store"] + [f"consumer-{i}-store" for i in range(1, consumers + 1)]

    # ----------------------------------------------------------------- files
    def _system_values(self, name: str, role: str) -> dict[str, object]:
        spec = self.spec
        index = int(name.rsplit("-", 1)[1])
        return {
            "python": "python",
            "host": "0.0.0.0",
            "port": API_PORT,
            "topic": spec.topic,
            "dlq_topic": spec.dlq_topic,
            "group": spec.group,
            "db": spec.db,
            "collection": spec.collection,
            "node_dir": NODE_DIR,
            "failpoints_file": f"{NODE_DIR}/failpoints",
            "delivery_log": f"{NODE_DIR}/delivery.jsonl",
            "consumer_id": name,
            "metrics_port": METRICS_PORT,
            "kafka_bootstrap": proxied_bootstrap(role, BROKERS),
            "store_uri": proxied_store_uri(None if role == "api" else index),
        }

    def _write_override(self) -> Path:
        assert self._ports is not None
        base = yaml.safe_load((self.compose_dir / "docker-compose.yml").read_text())
        envs: dict[str, dict[str, str]] = {}
        commands: dict[str, list[str]] = {}
        dirs: dict[str, Path] = {}
        spec = self.spec
        for name in self.node_names("api") + self.node_names("consumer"):
            role = self._roles[name]
            values = self._system_values(name, role)
            envs[name] = {**spec.render_env(values), **self.settings}
            commands[name] = spec.render_argv(
                spec.api_argv if role == "api" else spec.consumer_argv, values
            )
            d = self._node_dir(name)
            d.chmod(0o777)  # the container's non-root user writes its delivery log here
            fp = d / "failpoints"
            fp.touch()
            fp.chmod(0o666)
            dirs[name] = d
        # The official store's healthcheck initiates its replica set: that one keeps its pace.
        quiet = [n for n in INFRA if n != "store" or self.offline]
        doc = harness_override(
            base,
            apis=len(self.node_names("api")),
            consumers=len(self.node_names("consumer")),
            ports=self._ports,
            node_dirs=dirs,
            env=envs,
            commands=commands,
            quiet=quiet,
        )
        path = self.run_dir / "compose.harness.yml"
        path.write_text(
            "# written by the harness for this run (ComposeCluster)\n"
            + yaml.safe_dump(doc, sort_keys=False)
        )
        return path

    def _compose_argv(self, *args: str) -> list[str]:
        argv = [*self._compose, "-p", self.project]
        for f in [*self._files, *([self._override] if self._override else [])]:
            argv += ["-f", str(f)]
        return [*argv, *args]

    def _compose_run(self, *args: str, timeout: float = 600) -> None:
        argv = self._compose_argv(*args)
        log = self.run_dir / "compose.log"
        with log.open("ab") as fh:
            fh.write(f"\n$ {' '.join(argv)}\n".encode())
            try:
                r = subprocess.run(
                    argv,
                    cwd=self.compose_dir,
                    env=self._env,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                raise ClusterError(
                    f"compose {args[0]} did not finish in {timeout:.0f} s; see {log}"
                ) from None
        if r.returncode != 0:
            tail = " ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise ClusterError(f"compose {args[0]} failed (exit {r.returncode}): {tail}; see {log}")

    # ----------------------------------------------------------------- start
    def _bring_up(self) -> None:
        self._docker = docker_client()
        self._compose = compose_command()
        self.offline = choose_offline(self._docker, self.offline)
        self._files = compose_files(self.compose_dir, self.offline)
        self._plan()
        check_images(self._docker, self.compose_dir, self.offline, self.system is not None)
        self._override = self._write_override()
        assert self._ports is not None
        self._env = {**os.environ, **self._ports.env(), "KAFKA_CLUSTER_ID": new_cluster_id()}
        self._guard = ComposeGuard(
            self._compose_argv("down", "-v", "--remove-orphans", "-t", "5"),
            str(self.compose_dir),
            self._env,
        )
        self._brought_up = True
        akhq = self.config.akhq and not self.offline
        if self.config.akhq:
            self.akhq_note = (
                f"AKHQ on http://{HOST}:{os.environ.get('AKHQ_PORT', '8080')}"
                if akhq
                else "AKHQ left out: the offline images have no AKHQ (it needs "
                f"{image(OFFICIAL_IMAGES['akhq'])} from a registry)"
            )
        infra = [*INFRA, *(["akhq"] if akhq else [])]
        self._compose_run("up", "-d", "--no-build", *infra)
        self._bind(INFRA)
        self._tp = ToxiproxyClient(f"http://{HOST}:{self._ports.toxiproxy}")
        self._kafka = KafkaObserver(self._ports.kafka_direct, self.spec, self.run_dir)
        self._wait({n: self._ready_check(n) for n in INFRA}, self.start_timeout)
        self._create_extra_proxies()
        self._kafka.create_topics(self.config.partitions)
        self.wait_topic_healthy(60)
        if self.system is not None:
            system = self.node_names("api") + self.node_names("consumer")
            self._compose_run("up", "-d", "--no-build", "--no-deps", *system)
            self._bind(system)
            self._wait({n: self._ready_check(n) for n in system}, self.start_timeout)

    def _bind(self, names: tuple[str, ...] | list[str]) -> None:
        for name in names:
            found = self._docker.containers.list(
                all=True,
                filters={
                    "label": [
                        f"com.docker.compose.project={self.project}",
                        f"com.docker.compose.service={name}",
                    ]
                },
            )
            if not found:
                raise ClusterError(
                    f"{name}: compose created no container; see {self.run_dir / 'compose.log'}"
                )
            self._nodes[name] = ContainerNode(name, self._roles[name], found[0])

    def _create_extra_proxies(self) -> None:
        """Store proxies of consumers beyond the compose file's two (listening inside Toxiproxy)."""
        for name in self.node_names("consumer")[FILE_CONSUMERS:]:
            i = int(name.rsplit("-", 1)[1])
            self.toxiproxy.create(f"{name}-store", f"0.0.0.0:{store_proxy_port(i)}", "store:27017")

    def _start_stopped(self, name: str) -> dict[str, Any]:
        return self.node(name).start()

    def _started_evidence(self, name: str) -> dict[str, Any]:
        return {"state": self.node(name).state()}

    # ------------------------------------------------------------- readiness
    def _ready_check(self, name: str) -> Callable[[], bool]:
        assert self._ports is not None
        role = self._roles[name]
        if role == "kafka":
            node_id = int(name.rsplit("-", 1)[1])
            kafka = self.kafka
            return lambda: kafka.node_serving(node_id)
        if role == "store":
            return self._store_ready
        if role == "toxiproxy":
            tp = self.toxiproxy
            return lambda: safe(tp.version)
        index = int(name.rsplit("-", 1)[1])
        if role == "api":
            url = f"http://{HOST}:{self._ports.apis[index - 1]}{self.spec.api_ready_path}"
            return lambda: http_ok(url)
        if self.spec.consumer_ready == "none":
            return lambda: self.node(name).running()
        url = f"http://{HOST}:{self._ports.consumer_metrics[index - 1]}/metrics"
        return lambda: http_ok(url)

    def _store_ready(self) -> bool:
        import pymongo

        c: pymongo.MongoClient[dict[str, Any]]
        try:
            with contextlib.closing(
                pymongo.MongoClient(
                    self.store_uri, serverSelectionTimeoutMS=800, connectTimeoutMS=800
                )
            ) as c:
                return bool(c.admin.command("hello").get("isWritablePrimary"))
        except Exception:
            return False

    def _start_failure(self, name: str) -> str | None:
        node = self._nodes.get(name)
        if node is not None and node.status() in ("exited", "dead", "gone"):
            return (
                f"{name}: its container stopped during start-up ({node.state()}); "
                f"last log lines: {node.log_tail()}"
            )
        return None

    def _not_ready_hint(self, names: list[str]) -> str:
        return (
            f"'docker logs' of the container, or {self.run_dir}/nodes/*/ after close, "
            "say why; the machine may be overloaded"
        )

    # -------------------------------------------------------------- queries
    @property
    def kafka_direct(self) -> str:
        assert self._ports is not None
        return ",".join(f"{HOST}:{p}" for p in self._ports.kafka_direct)

    @property
    def store_uri(self) -> str:
        assert self._ports is not None
        return f"mongodb://{HOST}:{self._ports.store}/?directConnection=true"

    def endpoints(self) -> Endpoints:
        assert self._ports is not None
        apis = tuple(f"http://{HOST}:{p}" for p in self._ports.apis)
        return Endpoints(
            api=apis[0] if apis else "",
            apis=apis,
            kafka=proxied_bootstrap("api", BROKERS),
            kafka_direct=self.kafka_direct,
            store=self.store_uri,
            toxiproxy=f"http://{HOST}:{self._ports.toxiproxy}",
        )

    def _address(self, name: str) -> str:
        assert self._ports is not None
        role = self._roles[name]
        if role == "kafka":
            return f"{HOST}:{self._ports.kafka_direct[int(name.rsplit('-', 1)[1]) - 1]}"
        if role == "store":
            return f"{HOST}:{self._ports.store}"
        if role == "toxiproxy":
            return f"{HOST}:{self._ports.toxiproxy}"
        i = int(name.rsplit("-", 1)[1])
        return (
            f"http://{HOST}:{self._ports.apis[i - 1]}"
            if role == "api"
            else f"{HOST}:{self._ports.consumer_metrics[i - 1]}"
        )

    def kafka_controller(self) -> str:
        """The active KRaft controller, asked with kafka-metadata-quorum.sh inside a broker."""
        last = "no broker container is running and connected"
        for name in self.node_names("kafka"):
            node = self._nodes[name]
            if not node.running() or name in self._isolated:
                continue
            r = node.container.exec_run(
                [
                    "/opt/kafka/bin/kafka-metadata-quorum.sh",
                    "--bootstrap-server",
                    "localhost:9092",
                    "describe",
                    "--status",
                ],
                environment={"KAFKA_HEAP_OPTS": "-Xmx128m"},
                demux=False,
            )
            out = (r.output or b"").decode(errors="replace")
            for line in out.splitlines():
                if line.strip().startswith("LeaderId:"):
                    return f"kafka-{int(line.split(':', 1)[1])}"
            last = f"{name}: exit {r.exit_code}: {out[-300:]}"
        raise FaultError(f"cannot find the KRaft controller ({last})")

    # ---------------------------------------------------------------- verbs
    def isolate(self, name: str) -> dict[str, Any]:
        """Disconnect the node's container from every network: a real partition from every peer."""
        node = self.node(name)
        if name in self._isolated:
            return {
                "action": "isolate",
                "effective": False,
                "reason": f"{name} is already isolated",
            }
        node.status()
        nets = node.container.attrs["NetworkSettings"]["Networks"] or {}
        saved = []
        for net_name, info in nets.items():
            aliases = [
                a for a in (info.get("Aliases") or []) if not node.container.id.startswith(a)
            ]
            self._docker.networks.get(net_name).disconnect(node.container)
            saved.append((net_name, aliases))
        self._isolated[name] = saved
        node.status()
        left = list(node.container.attrs["NetworkSettings"]["Networks"] or {})
        return {
            "action": "isolate",
            "networks": [n for n, _ in saved],
            "connected_after": left,
            "scope": "every peer: brokers, Toxiproxy, the harness (network disconnect)",
            "effective": bool(saved) and not left,
        }

    def rejoin(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        saved = self._isolated.pop(name, [])
        for net_name, aliases in saved:
            self._docker.networks.get(net_name).connect(node.container, aliases=aliases or [name])
        node.status()
        now = list(node.container.attrs["NetworkSettings"]["Networks"] or {})
        return {
            "action": "rejoin",
            "networks": now,
            "effective": bool(saved) and all(n in now for n, _ in saved),
        }

    # ---------------------------------------------------------------- state
    def _backend_state(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "offline": self.offline,
            "compose": {"command": self._compose, "files": [str(f) for f in self._files]},
        }

    def state(self) -> dict[str, Any]:
        return {**super().state(), "akhq": self.akhq_note}

    # ----------------------------------------------------------------- stop
    def close(self) -> None:
        """Save the containers' logs, then ``compose down -v``; idempotent; leaves nothing."""
        for name in list(self._isolated):
            with contextlib.suppress(Exception):
                self.rejoin(name)
        for name, node in self._nodes.items():
            with contextlib.suppress(Exception):
                (self._node_dir(name) / f"{node.role}.log").write_bytes(node.container.logs())
        if self._kafka is not None:
            self._kafka.close()
            self._kafka = None
        down_ok = True
        if self._brought_up:
            try:
                self._compose_run("down", "-v", "--remove-orphans", "-t", "10", timeout=300)
            except ClusterError:
                down_ok = False  # the guard tries again once it is let go
            self._brought_up = False
        if self._guard is not None:
            self._guard.close(done=down_ok)
            self._guard = None
        if self._tp is not None:
            self._tp.close()
            self._tp = None
        self._nodes.clear()
        self.started = False


__all__ = ["ComposeCluster"]
