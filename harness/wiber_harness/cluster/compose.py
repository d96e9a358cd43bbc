"""ComposeCluster: the whole topology as Docker containers, from docker/docker-compose.yml.

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
  (``offline``: ``None`` picks it when the official Kafka image is absent and
  the offline one present; ``WIBER_COMPOSE_OFFLINE=1|0`` forces it).
  The harness writes one more override into the run folder: each system
  node's env and command and its node folder bind-mounted (failpoints file,
  delivery log). Published ports are chosen free and bound to 127.0.0.1.
* Start order: Kafka, the store and Toxiproxy; then the harness waits for
  real readiness (each broker answers metadata on its DIRECT listener, the
  store is a writable primary, Toxiproxy answers), creates the topic and
  its DLQ (RF 3, min ISR 2), and only then starts the API(s) and consumers
  (``--no-deps``: the harness has checked their dependencies itself) and
  waits until each answers its readiness route or metrics port.
* Verbs go through the Docker SDK (API 1.41 negotiated): ``kill`` is
  SIGKILL, ``stop`` SIGTERM with a grace period, ``pause``/``resume`` the
  cgroup freezer, ``start_node`` starts the same container again (data
  intact). Evidence is the container's state after the verb.
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
import importlib
import json
import logging
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from wiber_harness.cluster.base import Endpoints, NodeStatus, read_delivery_logs
from wiber_harness.cluster.commands import new_cluster_id
from wiber_harness.cluster.compose_files import (
    API_PORT,
    APP_IMAGE,
    BUILD_SCRIPT,
    FILE_CONSUMERS,
    METRICS_PORT,
    NODE_DIR,
    OFFICIAL_IMAGES,
    OFFLINE_IMAGES,
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
from wiber_harness.cluster.compose_guard import ComposeGuard
from wiber_harness.cluster.kafka_observer import KafkaObserver
from wiber_harness.cluster.source_digest import LABEL as DIGEST_LABEL
from wiber_harness.cluster.source_digest import app_image_verdict, source_digest
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.cluster.toxiproxy import ToxiproxyClient
from wiber_harness.errors import ClusterError, FaultError

if TYPE_CHECKING:
    from wiber_harness.scenario import Scenario

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"
BROKERS = 3
INFRA = ("kafka-1", "kafka-2", "kafka-3", "store", "toxiproxy")


@dataclass
class ComposeClusterConfig:
    """What to start. ``settings`` are WIBER_* env overrides for API and consumers."""

    run_dir: Path
    partitions: int = 6
    consumers: int = 2
    apis: int = 1
    settings: dict[str, str] = field(default_factory=dict)
    system: SystemSpec | None = DEFAULT_SYSTEM
    offline: bool | None = None  # None: auto (see the module docstring)
    compose_dir: Path | None = None  # default: the repository's docker/
    project: str | None = None  # default: wiber-<random>
    start_timeout: float = 300.0  # images start slowly on a busy 2-core machine
    akhq: bool = False  # also start AKHQ (official images only)


def _docker_client() -> Any:
    try:
        docker = importlib.import_module("docker")
    except ImportError:
        raise ClusterError(
            "the compose backend needs the Docker SDK for Python: pip install 'docker>=7'"
        ) from None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:
        raise ClusterError(
            f"no Docker engine answers ({e}); start dockerd (scripts/docker-setup.sh does) "
            "or set DOCKER_HOST"
        ) from None
    return client


def _free_ports(n: int) -> list[int]:
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


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class ContainerNode:
    """One node's container, with the process-like queries the nemesis uses."""

    def __init__(self, name: str, role: str, container: Any) -> None:
        self.name = name
        self.role = role
        self.container = container

    def status(self) -> str:
        """Docker's state: created, running, paused, restarting, exited, dead (or gone)."""
        try:
            self.container.reload()
        except Exception:
            return "gone"
        return str(self.container.status)

    def alive(self) -> bool:
        """The container's process exists (running or paused), like a live OS process."""
        return self.status() in ("running", "paused", "restarting")

    def running(self) -> bool:
        return self.status() == "running"

    @property
    def pid(self) -> int | None:
        self.status()
        pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
        return pid or None

    def returncode(self) -> int | None:
        if self.status() in ("exited", "dead"):
            return int(self.container.attrs["State"].get("ExitCode", -1))
        return None

    def state(self) -> dict[str, Any]:
        st = self.status()
        s = self.container.attrs.get("State", {}) if st != "gone" else {}
        return {
            "status": st,
            "pid": s.get("Pid") or None,
            "exit_code": s.get("ExitCode"),
            "oom_killed": s.get("OOMKilled"),
            "health": (s.get("Health") or {}).get("Status"),
        }

    def wait_status(self, wanted: tuple[str, ...], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        st = self.status()
        while st not in wanted and time.monotonic() < deadline:
            time.sleep(0.1)
            st = self.status()
        return st


class ComposeCluster:
    """The topology as compose containers; implements :class:`~wiber_harness.cluster.base.Cluster`."""

    backend = "compose"

    def __init__(self, config: ComposeClusterConfig) -> None:
        if config.consumers < 1 or config.apis < 1:
            raise ClusterError("ComposeClusterConfig: consumers and apis must be at least 1")
        self.config = config
        self.run_dir = config.run_dir.resolve()
        self.system = config.system
        self.settings: dict[str, str] = dict(config.settings)
        self.compose_dir = (config.compose_dir or default_compose_dir()).resolve()
        self.project = config.project or f"wiber-{uuid.uuid4().hex[:8]}"
        self.offline = config.offline
        self.started = False
        self.start_seconds: float | None = None
        self._docker: Any = None
        self._compose: list[str] = []
        self._files: list[Path] = []
        self._override: Path | None = None
        self._env: dict[str, str] = {}
        self._ports: PublishedPorts | None = None
        self._roles: dict[str, str] = {}
        self._nodes: dict[str, ContainerNode] = {}
        self._links: list[str] = []
        self._tp: ToxiproxyClient | None = None
        self._kafka: KafkaObserver | None = None
        self._guard: ComposeGuard | None = None
        self._isolated: dict[str, list[tuple[str, list[str]]]] = {}
        self._brought_up = False
        self.akhq_note: str | None = (
            None  # where AKHQ answers, or why it was left out (when asked for)
        )

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        run_dir: Path,
        *,
        settings: Mapping[str, str] | None = None,
        system: SystemSpec | None = DEFAULT_SYSTEM,
        **overrides: Any,
    ) -> ComposeCluster:
        """The cluster a scenario's topology asks for, in ``run_dir/cluster`` (what the runner calls)."""
        topo = scenario.topology
        return cls(
            ComposeClusterConfig(
                run_dir=Path(run_dir) / "cluster",
                partitions=topo.partitions,
                consumers=topo.consumers,
                apis=topo.apis,
                settings=dict(settings or {}),
                system=system,
                **overrides,
            )
        )

    @classmethod
    def from_stack_config(cls, cfg: Any) -> ComposeCluster:
        """The compose twin of a ``LocalClusterConfig`` (what ``wiber-harness up --backend compose`` uses)."""
        return cls(
            ComposeClusterConfig(
                run_dir=Path(cfg.run_dir),
                partitions=cfg.partitions,
                consumers=cfg.consumers,
                apis=cfg.apis,
                settings=dict(cfg.settings),
                system=cfg.system,
                akhq=True,
            )
        )

    # ------------------------------------------------------------------ plan
    def _plan(self) -> None:
        cfg = self.config
        apis = cfg.apis if self.system is not None else 0
        consumers = cfg.consumers if self.system is not None else 0
        free = iter(_free_ports(BROKERS + 2 + apis + consumers))
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

    def _choose_offline(self) -> bool:
        if self.offline is not None:
            return self.offline
        forced = os.environ.get("WIBER_COMPOSE_OFFLINE", "").strip().lower()
        if forced in ("1", "true", "yes"):
            return True
        if forced in ("0", "false", "no"):
            return False
        return not self._has_image(image(OFFICIAL_IMAGES["kafka"])) and self._has_image(
            image(OFFLINE_IMAGES["kafka"])
        )

    def _has_image(self, name: str) -> bool:
        try:
            self._docker.images.get(name)
            return True
        except Exception:
            return False

    def _check_images(self) -> None:
        table = OFFLINE_IMAGES if self.offline else OFFICIAL_IMAGES
        wanted = [image(table[k]) for k in ("kafka", "store", "toxiproxy")]
        if self.system is not None:
            wanted.append(image(APP_IMAGE))
        missing = [i for i in wanted if not self._has_image(i)]
        if not missing:
            if self.system is not None:
                self._check_app_source(image(APP_IMAGE))
            return
        if self.offline:
            raise ClusterError(
                f"images {', '.join(missing)} are not built; run 'bash "
                f"{self.compose_dir / BUILD_SCRIPT}' (it skips what exists)"
            )
        if image(APP_IMAGE) in missing:
            raise ClusterError(
                f"the app image {image(APP_IMAGE)} is not built; run 'docker compose -f "
                f"{self.compose_dir / 'docker-compose.yml'} build', or on a machine without "
                f"a registry 'bash {self.compose_dir / BUILD_SCRIPT}'"
            )
        # official images that are missing are pulled by 'up'

    def _check_app_source(self, name: str) -> None:
        """Refuse an app image built from other source than the one next to the compose files.

        docker/offline/build.sh labels the image with the source's content
        digest; an image without the label (built another way) only earns a
        warning, since nothing tells whether it is current.
        """
        src = self.compose_dir.parent / "system" / "wiber"
        if not src.is_dir():  # compose files used without the repository: nothing to compare with
            return
        labels = self._docker.images.get(name).attrs.get("Config", {}).get("Labels") or {}
        verdict = app_image_verdict(labels.get(DIGEST_LABEL), source_digest(src))
        fix = f"rebuild it: bash {self.compose_dir / BUILD_SCRIPT}"
        if verdict == "unknown":
            log.warning(
                "the app image %s has no %s label, so it may run other code than %s; %s",
                name,
                DIGEST_LABEL,
                src,
                fix,
            )
        elif verdict == "stale":
            raise ClusterError(
                f"the app image {name} was built from other source than {src} "
                f"(its {DIGEST_LABEL} label differs), so scenarios would test old code; {fix}"
            )

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
    def start(self) -> None:
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._docker = _docker_client()
            self._compose = compose_command()
            self.offline = self._choose_offline()
            self._files = compose_files(self.compose_dir, self.offline)
            self._plan()
            self._check_images()
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
            self._wait({n: self._ready_check(n) for n in INFRA}, self.config.start_timeout)
            self._create_extra_proxies()
            self._kafka.create_topics(self.config.partitions)
            self._wait({"topic": self._kafka.topic_healthy}, 60)
            if self.system is not None:
                system = self.node_names("api") + self.node_names("consumer")
                self._compose_run("up", "-d", "--no-build", "--no-deps", *system)
                self._bind(system)
                self._wait({n: self._ready_check(n) for n in system}, self.config.start_timeout)
        except BaseException:
            self.close()
            raise
        self.started = True
        self.start_seconds = time.monotonic() - t0
        self.write_state()

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

    # ------------------------------------------------------------- readiness
    def _ready_check(self, name: str) -> Callable[[], bool]:
        assert self._ports is not None and self._kafka is not None
        role = self._roles[name]
        if role == "kafka":
            node_id = int(name.rsplit("-", 1)[1])
            kafka = self._kafka
            return lambda: kafka.node_serving(node_id)
        if role == "store":
            return self._store_ready
        if role == "toxiproxy":
            tp = self.toxiproxy
            return lambda: _safe(tp.version)
        index = int(name.rsplit("-", 1)[1])
        if role == "api":
            url = f"http://{HOST}:{self._ports.apis[index - 1]}{self.spec.api_ready_path}"
            return lambda: _http_ok(url)
        if self.spec.consumer_ready == "none":
            return lambda: self.node(name).running()
        url = f"http://{HOST}:{self._ports.consumer_metrics[index - 1]}/metrics"
        return lambda: _http_ok(url)

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

    def _wait(self, checks: Mapping[str, Callable[[], bool]], timeout: float) -> None:
        """Poll checks until all pass; fail fast when a node's container exits."""
        pending = dict(checks)
        deadline = time.monotonic() + timeout
        while pending:
            for key, fn in list(pending.items()):
                if _safe(fn):
                    del pending[key]
            if not pending:
                return
            for key in pending:
                node = self._nodes.get(key)
                if node is not None and node.status() in ("exited", "dead", "gone"):
                    raise ClusterError(
                        f"{key}: its container stopped during start-up ({node.state()}); "
                        f"last log lines: {self._log_tail(key)}"
                    )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{', '.join(sorted(pending))}: not ready after {timeout:.0f} s; "
                    f"'docker logs' of the container, or {self.run_dir}/nodes/*/ after close, "
                    "say why; the machine may be overloaded"
                )
            time.sleep(0.25)

    def _log_tail(self, name: str, lines: int = 5) -> str:
        try:
            raw = self._nodes[name].container.logs(tail=lines)
            return " | ".join(raw.decode(errors="replace").strip().splitlines())
        except Exception:
            return "(no log)"

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        """Wait until one node is ready again; returns seconds waited."""
        t0 = time.monotonic()
        self.node(name)
        self._wait({name: self._ready_check(name)}, timeout)
        return time.monotonic() - t0

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node is running and ready and the topic's ISR is full (after the heals)."""
        t0 = time.monotonic()
        down = [n for n, node in self._nodes.items() if not node.running()]
        if down:
            raise ClusterError(f"{', '.join(down)} not running after every fault was healed")
        self._wait({n: self._ready_check(n) for n in self._nodes}, timeout)
        self.wait_topic_healthy(timeout)
        return time.monotonic() - t0

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        """Wait until every partition of the topic has a leader and a full ISR."""
        t0 = time.monotonic()
        assert self._kafka is not None
        self._wait({"topic": self._kafka.topic_healthy}, timeout)
        return time.monotonic() - t0

    # -------------------------------------------------------------- queries
    @property
    def spec(self) -> SystemSpec:
        return self.system or DEFAULT_SYSTEM

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._tp is None:
            raise ClusterError("the cluster is not started: Toxiproxy is not running")
        return self._tp

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

    def node_names(self, role: str) -> list[str]:
        return [n for n, r in self._roles.items() if r == role]

    def links(self) -> list[str]:
        return list(self._links)

    def node(self, name: str) -> ContainerNode:
        try:
            return self._nodes[name]
        except KeyError:
            raise FaultError(
                f"no node named {name!r}; nodes are {', '.join(self._nodes)}"
            ) from None

    def is_running(self, name: str) -> bool:
        return self.node(name).running()

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

    def status(self) -> list[NodeStatus]:
        out = []
        for name, node in self._nodes.items():
            if node.role == "kafka":
                assert self._kafka is not None
                healthy = node.running() and self._kafka.in_metadata(int(name.rsplit("-", 1)[1]))
            else:
                healthy = node.running() and _safe(self._ready_check(name))
            out.append(NodeStatus(name, node.role, node.pid, self._address(name), healthy))
        return out

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        assert self._kafka is not None
        return f"kafka-{self._kafka.leader(partition, topic)}"

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
    def kill(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        before = node.state()
        if before["status"] not in ("running", "paused"):
            return {
                "action": "kill",
                "effective": False,
                "state": before,
                "reason": f"{name} is {before['status']}",
            }
        node.container.kill(signal="SIGKILL")
        if before["status"] == "paused":  # a frozen process dies only once thawed
            with contextlib.suppress(Exception):
                node.container.unpause()
        st = node.wait_status(("exited", "dead"), 15)
        return {
            "action": "kill",
            "signal": "SIGKILL",
            "pid": before["pid"],
            "state": node.state(),
            "effective": st in ("exited", "dead"),
        }

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        node = self.node(name)
        before = node.state()
        if before["status"] not in ("running", "paused"):
            return {
                "action": "stop",
                "effective": False,
                "state": before,
                "reason": f"{name} is {before['status']}",
            }
        if before["status"] == "paused":
            node.container.unpause()  # a frozen process cannot handle SIGTERM
        node.container.stop(timeout=int(grace))
        st = node.wait_status(("exited", "dead"), 10)
        return {
            "action": "stop",
            "signal": "SIGTERM",
            "grace_s": grace,
            "pid": before["pid"],
            "state": node.state(),
            "effective": st in ("exited", "dead"),
        }

    def pause(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        if node.status() != "running":
            return {
                "action": "pause",
                "effective": False,
                "state": node.state(),
                "reason": f"{name} is {node.status()}",
            }
        node.container.pause()
        st = node.wait_status(("paused",), 10)
        return {
            "action": "pause",
            "pid": node.pid,
            "state": node.state(),
            "effective": st == "paused",
        }

    def resume(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        if node.status() != "paused":
            return {
                "action": "resume",
                "effective": False,
                "state": node.state(),
                "reason": f"{name} is {node.status()}, not paused",
            }
        node.container.unpause()
        st = node.wait_status(("running",), 10)
        return {
            "action": "resume",
            "pid": node.pid,
            "state": node.state(),
            "effective": st == "running",
        }

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        node = self.node(name)
        if node.alive():
            return {
                "action": "start",
                "effective": False,
                "reason": "already running",
                "pid": node.pid,
            }
        node.container.start()
        ev: dict[str, Any] = {"action": "start", "pid": node.pid}
        if wait:
            ev["ready_s"] = round(self.wait_ready(name, timeout), 3)
        ev["state"] = node.state()
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
        }

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

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        """Arm or disarm failpoints of a system node (its bind-mounted failpoints file)."""
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

    def delivery_logs(self) -> list[dict[str, Any]]:
        """Every line of every consumer's delivery log (JSON lines; a torn last line is skipped)."""
        return read_delivery_logs(
            (n, self._node_dir(n) / "delivery.jsonl") for n in self.node_names("consumer")
        )

    def _node_dir(self, name: str) -> Path:
        d = self.run_dir / "nodes" / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ---------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "run_dir": str(self.run_dir),
            "pid": os.getpid(),
            "project": self.project,
            "offline": self.offline,
            "compose": {"command": self._compose, "files": [str(f) for f in self._files]},
            "start_seconds": self.start_seconds,
            "nodes": [s.to_dict() for s in self.status()],
            "endpoints": self.endpoints().to_dict(),
            "links": self.links(),
            "akhq": self.akhq_note,
        }

    def write_state(self) -> None:
        (self.run_dir / STATE_FILE).write_text(json.dumps(self.state(), indent=2))

    # ----------------------------------------------------------------- stop
    def close(self) -> None:
        """Save the containers' logs, then ``compose down -v``; idempotent; leaves nothing behind."""
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

    def __enter__(self) -> ComposeCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _safe(fn: Callable[[], object]) -> bool:
    try:
        return bool(fn())
    except Exception:
        return False


__all__ = ["ComposeCluster", "ComposeClusterConfig", "ContainerNode"]
