"""Pure pieces of the compose backend: files, commands, ports, the harness override.

The compose backend runs ``docker/docker-compose.yml`` (official images),
optionally with ``docker/offline/docker-compose.offline.yml`` (images built
by ``docker/offline/build.sh``), plus one override file the harness writes
into the run folder (:func:`harness_override`). Nothing here talks to Docker
except :func:`compose_command`, which only asks which compose binary works.

Fixed addresses inside the compose network (they must match
``docker/docker-compose.yml`` and ``docker/toxiproxy.json``):

* the API role's proxy to broker N listens on ``toxiproxy:2909N``, the
  consumer role's on ``toxiproxy:2919N``;
* ``api-store`` on ``toxiproxy:27100``, ``consumer-N-store`` on
  ``toxiproxy:27100+N`` (proxies beyond the file's two consumers are created
  through the Toxiproxy API at start);
* inside a system container the node folder is ``/var/lib/wiber``, the API
  listens on 8000, the consumer's metrics on 9108.

Every published port binds 127.0.0.1; the harness chooses them free at run
time and passes them as the env variables the compose file reads
(:meth:`PublishedPorts.env`).
"""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wiber_harness.errors import ClusterError

BASE_FILE = "docker-compose.yml"
OFFLINE_FILE = "offline/docker-compose.offline.yml"
TOXIPROXY_CONFIG = "toxiproxy.json"
BUILD_SCRIPT = "offline/build.sh"

NODE_DIR = "/var/lib/wiber"
API_PORT = 8000
METRICS_PORT = 9108
STORE_PROXY_BASE = 27100
FILE_CONSUMERS = 2  # consumers the compose file defines; more are added by the override
FILE_APIS = 1
QUIET_CHECK = "60s"  # healthcheck interval of the services the harness checks itself

OFFICIAL_IMAGES = {
    "kafka": ("KAFKA_IMAGE", "apache/kafka:4.4.0"),
    "store": ("MONGO_IMAGE", "mongo:8.0"),
    "toxiproxy": ("TOXIPROXY_IMAGE", "ghcr.io/shopify/toxiproxy:2.12.0"),
    "akhq": ("AKHQ_IMAGE", "tchiotludo/akhq:0.25.1"),
}
OFFLINE_IMAGES = {
    "kafka": ("WIBER_OFFLINE_KAFKA_IMAGE", "wiber-offline/kafka:4.4.0"),
    "store": ("WIBER_OFFLINE_STORE_IMAGE", "wiber-offline/ferretdb:1.24.2"),
    "toxiproxy": ("WIBER_OFFLINE_TOXIPROXY_IMAGE", "wiber-offline/toxiproxy:2.12.0"),
}
APP_IMAGE = ("WIBER_APP_IMAGE", "wiber/app:latest")


def image(spec: tuple[str, str], env: Mapping[str, str] | None = None) -> str:
    """The image a ``${VAR:-default}`` in the compose files resolves to."""
    var, default = spec
    return (env if env is not None else os.environ).get(var) or default


def default_compose_dir() -> Path:
    """``WIBER_COMPOSE_DIR``, else the repository's ``docker/`` folder."""
    env = os.environ.get("WIBER_COMPOSE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[3] / "docker"


def compose_files(compose_dir: Path, offline: bool) -> list[Path]:
    files = [compose_dir / BASE_FILE]
    if offline:
        files.append(compose_dir / OFFLINE_FILE)
    for f in files:
        if not f.is_file():
            raise ClusterError(
                f"compose file {f} does not exist; "
                "set WIBER_COMPOSE_DIR to the project's docker/ folder"
            )
    return files


def docker_clients() -> list[str]:
    """Docker CLIs to try, Debian's first (another client on PATH may lack plugins)."""
    out = []
    for c in ("/usr/bin/docker", shutil.which("docker")):
        if c and c not in out and os.access(c, os.X_OK):
            out.append(c)
    return out


def compose_command(env: Mapping[str, str] | None = None) -> list[str]:
    """argv prefix of a working compose.

    ``WIBER_COMPOSE_CMD``, else ``docker compose`` (v2), else ``docker-compose``.
    """
    env = env if env is not None else os.environ
    forced = env.get("WIBER_COMPOSE_CMD")
    if forced:
        return shlex.split(forced)
    for docker in docker_clients():
        try:
            r = subprocess.run(
                [docker, "compose", "version"],
                capture_output=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ClusterError(
        "no compose command found (neither 'docker compose' nor 'docker-compose'); install one "
        "(Debian: apt-get install docker-compose; scripts/docker-setup.sh does it) "
        "or set WIBER_COMPOSE_CMD"
    )


def store_proxy_port(consumer: int | None) -> int:
    """Port of the store proxy: ``api-store`` (None) or ``consumer-N-store``."""
    return STORE_PROXY_BASE + (consumer or 0)


def kafka_proxy_port(role: str, broker: int) -> int:
    return {"api": 29090, "consumer": 29190}[role] + broker


def proxied_bootstrap(role: str, brokers: int = 3) -> str:
    """The role's Kafka bootstrap inside the compose network (through Toxiproxy)."""
    return ",".join(f"toxiproxy:{kafka_proxy_port(role, b)}" for b in range(1, brokers + 1))


def proxied_store_uri(consumer: int | None) -> str:
    """A store URI through Toxiproxy; directConnection keeps the driver on the proxy."""
    return f"mongodb://toxiproxy:{store_proxy_port(consumer)}/?directConnection=true"


@dataclass(frozen=True)
class PublishedPorts:
    """Host ports (127.0.0.1) of one stack."""

    kafka_direct: tuple[int, ...]
    store: int
    toxiproxy: int
    apis: tuple[int, ...]
    consumer_metrics: tuple[int, ...]

    def env(self) -> dict[str, str]:
        """The variables docker/docker-compose.yml reads for the nodes it defines."""
        out = {f"KAFKA_{i}_DIRECT_PORT": str(p) for i, p in enumerate(self.kafka_direct, 1)}
        out["WIBER_STORE_PORT"] = str(self.store)
        out["TOXIPROXY_PORT"] = str(self.toxiproxy)
        if self.apis:
            out["WIBER_API_PORT"] = str(self.apis[0])
        for i, p in enumerate(self.consumer_metrics[:FILE_CONSUMERS], 1):
            out[f"WIBER_CONSUMER_{i}_METRICS_PORT"] = str(p)
        return out


def _escape(value: str) -> str:
    """Compose interpolates ``$``; a literal one is ``$$``."""
    return value.replace("$", "$$")


def harness_override(
    base: Mapping[str, Any],
    *,
    apis: int,
    consumers: int,
    ports: PublishedPorts,
    node_dirs: Mapping[str, Path],
    env: Mapping[str, Mapping[str, str]],
    commands: Mapping[str, Sequence[str]],
    quiet: Sequence[str] = (),
) -> dict[str, Any]:
    """The override the harness writes for one run.

    For every system node (``api-N``, ``consumer-N``): its environment and
    command, and its node folder bind-mounted on :data:`NODE_DIR` (failpoints
    file, delivery log), so the harness reads and writes them on the host.
    Nodes beyond the file's ``api-1``, ``consumer-1`` and ``consumer-2`` are
    defined here in full, copied from the file's last node of the role.
    ``base`` is the parsed compose file (anchors resolved).

    Docker's healthchecks of the system nodes and of the ``quiet`` services
    run once a minute: the harness checks readiness itself, and every check
    is a process started through runc, which takes CPU from a busy machine
    (compose v1.29 cannot switch an inherited healthcheck off, so: rarely).
    """
    services: dict[str, Any] = {name: {"healthcheck": {"interval": QUIET_CHECK}} for name in quiet}
    base_services = base.get("services") or {}
    for role, count, defined in (("api", apis, FILE_APIS), ("consumer", consumers, FILE_CONSUMERS)):
        if count == 0:
            continue
        template = base_services.get(f"{role}-{defined}")
        if template is None:
            raise ClusterError(f"the compose file defines no service {role}-{defined}")
        for i in range(1, count + 1):
            name = f"{role}-{i}"
            svc: dict[str, Any] = {}
            if i > defined:
                svc = copy.deepcopy(dict(template))
                svc.pop("build", None)
                svc.pop("container_name", None)
                port = ports.apis[i - 1] if role == "api" else ports.consumer_metrics[i - 1]
                inner = API_PORT if role == "api" else METRICS_PORT
                svc["ports"] = [f"127.0.0.1:{port}:{inner}"]
            merged = dict(svc.get("environment") or {})  # a copy keeps the template's env
            merged.update({k: _escape(str(v)) for k, v in env.get(name, {}).items()})
            svc["environment"] = merged
            if name in commands:
                svc["command"] = [_escape(a) for a in commands[name]]
            svc["volumes"] = [f"{node_dirs[name]}:{NODE_DIR}"]
            svc["healthcheck"] = {"interval": QUIET_CHECK}
            services[name] = svc
    return {"services": services}


__all__ = [
    "API_PORT",
    "APP_IMAGE",
    "BASE_FILE",
    "BUILD_SCRIPT",
    "FILE_APIS",
    "FILE_CONSUMERS",
    "METRICS_PORT",
    "NODE_DIR",
    "OFFICIAL_IMAGES",
    "OFFLINE_FILE",
    "OFFLINE_IMAGES",
    "QUIET_CHECK",
    "PublishedPorts",
    "compose_command",
    "compose_files",
    "default_compose_dir",
    "docker_clients",
    "harness_override",
    "image",
    "kafka_proxy_port",
    "proxied_bootstrap",
    "proxied_store_uri",
    "store_proxy_port",
]
