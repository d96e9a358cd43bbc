"""The compose files, the app image's inputs and the compose backend's pure parts.

* ``compose config`` (v2 ``docker compose`` or v1.29 ``docker-compose``,
  whichever is installed) accepts the default file and the default plus the
  offline override, and resolves image overrides from the environment;
  skipped, with the reason, only when no compose binary exists.
* The files agree with each other and with the harness: every client hop has
  its Toxiproxy proxy, each broker advertises its role listeners as those
  proxies, every image is an overridable ``${VAR:-default}``, every
  published port binds 127.0.0.1, every service runs with ``init``.
* The app image's requirements are the pipeline's dependencies.
* The harness override, the published-port env and the orphan guard.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.compose import ComposeCluster
from wiber_harness.cluster.compose_files import (
    PublishedPorts,
    compose_command,
    harness_override,
    kafka_proxy_port,
    proxied_bootstrap,
    proxied_store_uri,
    store_proxy_port,
)
from wiber_harness.cluster.guards import ComposeGuard
from wiber_harness.errors import ClusterError
from wiber_harness.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
BASE = DOCKER / "docker-compose.yml"
OFFLINE = DOCKER / "offline" / "docker-compose.offline.yml"


def _load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def _compose() -> list[str]:
    try:
        return compose_command()
    except ClusterError as e:
        pytest.skip(f"no compose binary on this machine ({e})")


def _config(*files: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    argv = [*_compose(), "-p", "wiber-config-test"]
    for f in files:
        argv += ["-f", str(f)]
    r = subprocess.run(
        [*argv, "config"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home()), **(env or {})},
    )
    assert r.returncode == 0, f"compose config rejected {[str(f) for f in files]}: {r.stderr}"
    return dict(yaml.safe_load(r.stdout))


# ---------------------------------------------------------------- compose config
def test_compose_config_accepts_the_default_file() -> None:
    doc = _config(BASE)
    services = doc["services"]
    assert set(services) == {
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "store",
        "store-2",
        "store-3",
        "toxiproxy",
        "api-1",
        "consumer-1",
        "consumer-2",
        "akhq",
    }
    assert services["kafka-1"]["image"] == "apache/kafka:4.4.0"
    assert services["store"]["image"].startswith("mongo:")
    assert services["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    dep = services["api-1"]["depends_on"]
    assert dep["kafka-1"]["condition"] == "service_healthy"
    assert dep["store"]["condition"] == "service_healthy"


def test_compose_config_accepts_the_offline_override() -> None:
    doc = _config(BASE, OFFLINE)
    services = doc["services"]
    assert services["kafka-2"]["image"] == "wiber-offline/kafka:4.4.0"
    assert services["store"]["image"] == "wiber-offline/ferretdb:1.24.2"
    assert services["toxiproxy"]["image"] == "wiber-offline/toxiproxy:2.12.0"
    # one store node offline, no AKHQ: both are switched off by profiles
    for name in ("store-2", "store-3", "akhq"):
        assert services[name].get("profiles"), f"{name} should be behind a profile offline"
    assert services["consumer-1"]["build"]["args"]["BASE_IMAGE"] == "wiber-offline/python:3.11"


def test_compose_config_takes_images_and_ports_from_the_environment() -> None:
    doc = _config(
        BASE,
        env={
            "KAFKA_IMAGE": "example/kafka:9",
            "WIBER_APP_IMAGE": "example/app:1",
            "KAFKA_1_DIRECT_PORT": "41001",
        },
    )
    services = doc["services"]
    assert services["kafka-1"]["image"] == "example/kafka:9"
    assert services["consumer-2"]["image"] == "example/app:1"
    text = json.dumps(services["kafka-1"])
    assert "41001" in text and "DIRECT://127.0.0.1:41001" in text


# ------------------------------------------------------------- file consistency
def test_every_client_hop_has_its_proxy_and_brokers_advertise_them() -> None:
    proxies = {p["name"]: p for p in json.loads((DOCKER / "toxiproxy.json").read_text())}
    services = _load(BASE)["services"]
    for b in (1, 2, 3):
        for role, listener_port in (("api", 9095), ("consumer", 9096)):
            p = proxies[f"{role}-kafka-{b}"]
            assert p["listen"] == f"0.0.0.0:{kafka_proxy_port(role, b)}"
            assert p["upstream"] == f"kafka-{b}:{listener_port}"
        advertised = services[f"kafka-{b}"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert f"API://toxiproxy:{kafka_proxy_port('api', b)}" in advertised
        assert f"CONSUMER://toxiproxy:{kafka_proxy_port('consumer', b)}" in advertised
        assert f"DIRECT://127.0.0.1:${{KAFKA_{b}_DIRECT_PORT:-" in advertised
    assert proxies["api-store"]["listen"] == f"0.0.0.0:{store_proxy_port(None)}"
    for c in (1, 2):
        assert proxies[f"consumer-{c}-store"]["listen"] == f"0.0.0.0:{store_proxy_port(c)}"
        env = services[f"consumer-{c}"]["environment"]
        assert env["WIBER_STORE_URI"] == proxied_store_uri(c)
        assert env["WIBER_KAFKA_BOOTSTRAP"] == proxied_bootstrap("consumer")
    assert services["api-1"]["environment"]["WIBER_KAFKA_BOOTSTRAP"] == proxied_bootstrap("api")
    assert all(p["upstream"] == "store:27017" for n, p in proxies.items() if n.endswith("-store"))


def test_kafka_settings_match_the_design() -> None:
    env = _load(BASE)["services"]["kafka-1"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    listeners = env["KAFKA_LISTENERS"]
    for name in ("INTERNAL", "CONTROLLER", "DIRECT", "API", "CONSUMER"):
        assert (
            f"{name}://" in listeners
            and f"{name}:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
        )


def test_compose_brokers_run_the_local_backends_jvm_flags() -> None:
    """The brokers' JVM flags on compose are the local backend's (C1 only included): with
    C2 three fresh brokers on a 2-core machine spent the baseline's whole quick run
    compiling, and the compose ack p50 was 7x the local one at the same rate (issue 16)."""
    from wiber_harness.cluster.commands import JVM_FLAGS

    value = _load(BASE)["services"]["kafka-1"]["environment"]["KAFKA_JVM_PERFORMANCE_OPTS"]
    m = re.fullmatch(r"\$\{KAFKA_JVM_PERFORMANCE_OPTS:-(.*)\}", value)
    assert m, value
    flags = set(m.group(1).split())
    heap = {f for f in JVM_FLAGS if f.startswith(("-Xms", "-Xmx"))}
    assert set(JVM_FLAGS) - heap <= flags
    assert "-XX:TieredStopAtLevel=1" in flags


def test_images_are_overridable_ports_are_loopback_and_init_is_on() -> None:
    for path in (BASE, OFFLINE):
        for line in path.read_text().splitlines():
            if re.match(r"\s*image:", line):
                assert re.search(r"\$\{[A-Z0-9_]+:-[^}]+\}", line), (
                    f"{path.name}: image not overridable: {line}"
                )
    for name, svc in _load(BASE)["services"].items():
        assert svc.get("init") is True, f"{name} runs without init"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    for name in _load(OFFLINE)["services"]:
        assert name in _load(BASE)["services"], (
            f"the offline override adds an unknown service {name}"
        )


def test_the_app_requirements_are_the_pipelines_dependencies() -> None:
    deps = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    reqs = [
        ln.strip()
        for ln in (DOCKER / "requirements-app.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert set(reqs) <= deps, (
        f"requirements-app.txt differs from pyproject.toml: {set(reqs) - deps}"
    )
    dist_of = {
        "confluent_kafka": "confluent-kafka",
        "prometheus_client": "prometheus-client",
        "pydantic_core": "pydantic",  # installed with pydantic
        "pydantic_settings": "pydantic-settings",
        "starlette": "fastapi",
    }
    stdlib = set(sys.stdlib_module_names) | {"wiber"}
    imported = set()
    for f in (REPO / "system" / "wiber").rglob("*.py"):  # subpackages too (api/, consumer/)
        for m in re.finditer(r"^(?:from|import) ([a-zA-Z_]+)", f.read_text(), re.M):
            if m.group(1) not in stdlib:
                imported.add(dist_of.get(m.group(1), m.group(1)))
    names = {re.split(r"[\[<>=]", r)[0] for r in reqs}
    assert imported <= names, f"the app image lacks {imported - names}"


def test_build_time_files_are_git_ignored() -> None:
    paths = [
        "docker/ca-certificates/custom.crt",
        "docker/offline/kafka/libs/kafka-clients.jar",
        "docker/offline/toxiproxy/toxiproxy-server",
        "docker/offline/ferretdb/ferretdb-runner",
    ]
    r = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True)
    assert sorted(r.stdout.split()) == sorted(paths)


def test_the_shell_scripts_parse() -> None:
    for script in (
        DOCKER / "offline" / "build.sh",
        REPO / "scripts" / "docker-setup.sh",
        DOCKER / "offline" / "kafka" / "run",
    ):
        r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, f"{script}: {r.stderr}"


# ------------------------------------------------------------- harness override
def _ports(apis: int, consumers: int) -> PublishedPorts:
    return PublishedPorts(
        kafka_direct=(1, 2, 3),
        store=4,
        toxiproxy=5,
        apis=tuple(range(100, 100 + apis)),
        consumer_metrics=tuple(range(200, 200 + consumers)),
    )


def test_published_ports_become_the_variables_the_file_reads() -> None:
    env = _ports(1, 3).env()
    text = BASE.read_text()
    for var in env:
        assert "${" + var + ":-" in text, f"the compose file does not read {var}"
    assert env["KAFKA_2_DIRECT_PORT"] == "2" and env["WIBER_CONSUMER_2_METRICS_PORT"] == "201"
    assert "WIBER_CONSUMER_3_METRICS_PORT" not in env  # the override publishes consumer-3 itself


def test_harness_override_sets_env_command_and_node_folder(tmp_path: Path) -> None:
    names = ["api-1", "api-2", "consumer-1", "consumer-2", "consumer-3"]
    doc = harness_override(
        _load(BASE),
        apis=2,
        consumers=3,
        ports=_ports(2, 3),
        node_dirs={n: tmp_path / n for n in names},
        env={n: {"WIBER_CONSUMER_ID": n, "WIBER_X": "a$b"} for n in names},
        commands={n: ["python", "-m", "wiber.consumer"] for n in names},
        quiet=["kafka-1"],
    )
    services = doc.pop("services")
    assert doc == {} and services.pop("kafka-1") == {"healthcheck": {"interval": "60s"}}
    assert sorted(services) == sorted(names)
    c3 = services["consumer-3"]
    assert c3["environment"]["WIBER_CONSUMER_ID"] == "consumer-3"
    assert c3["environment"]["WIBER_X"] == "a$$b"  # compose would interpolate a single $
    assert c3["environment"]["WIBER_LOG_FORMAT"] == "json"  # kept from the copied consumer-2
    assert c3["ports"] == ["127.0.0.1:202:9108"] and "build" not in c3
    assert services["api-2"]["ports"] == ["127.0.0.1:101:8000"]
    assert "ports" not in services["consumer-1"]  # the file's own, through the port variables
    assert services["consumer-1"]["volumes"] == [f"{tmp_path / 'consumer-1'}:/var/lib/wiber"]
    assert all(s["healthcheck"] == {"interval": "60s"} for s in services.values())


def test_a_stack_without_the_pipeline_still_gets_a_valid_override(tmp_path: Path) -> None:
    doc = harness_override(
        _load(BASE),
        apis=0,
        consumers=0,
        ports=_ports(0, 0),
        node_dirs={},
        env={},
        commands={},
        quiet=["kafka-1", "toxiproxy"],
    )
    assert sorted(doc["services"]) == ["kafka-1", "toxiproxy"]


def test_for_scenario_follows_the_topology(tmp_path: Path) -> None:
    sc = load_scenario(REPO / "scenarios" / "baseline.yaml")
    c = ComposeCluster.for_scenario(sc, tmp_path, settings={"WIBER_X": "1"})
    assert c.run_dir == (tmp_path / "cluster").resolve()
    assert c.backend == "compose" and c.settings == {"WIBER_X": "1"}
    assert (
        c.config.consumers == sc.topology.consumers
        and c.config.partitions == sc.topology.partitions
    )


@pytest.mark.parametrize("consumers", [1, 2, 3])
def test_node_and_link_names_match_the_local_backend(tmp_path: Path, consumers: int) -> None:
    c = ComposeCluster(ClusterConfig(run_dir=tmp_path, consumers=consumers))
    c._plan()
    assert c.node_names("kafka") == ["kafka-1", "kafka-2", "kafka-3"]
    assert c.node_names("store") == ["store"] and c.node_names("toxiproxy") == ["toxiproxy"]
    assert c.node_names("consumer") == [f"consumer-{i}" for i in range(1, consumers + 1)]
    assert c.links() == [
        *(f"api-kafka-{i}" for i in (1, 2, 3)),
        *(f"consumer-kafka-{i}" for i in (1, 2, 3)),
        "api-store",
        *(f"consumer-{i}-store" for i in range(1, consumers + 1)),
    ]


# ------------------------------------------------------------------ orphan guard
def test_guard_takes_the_stack_down_when_the_harness_goes(tmp_path: Path) -> None:
    marker = tmp_path / "down-ran"
    g = ComposeGuard(["touch", str(marker)], str(tmp_path), {"PATH": "/usr/bin:/bin"})
    g.close(done=False)  # as if the harness died: EOF without "done"
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()


def test_guard_does_nothing_after_a_clean_close(tmp_path: Path) -> None:
    marker = tmp_path / "down-ran"
    g = ComposeGuard(["touch", str(marker)], str(tmp_path), {"PATH": "/usr/bin:/bin"})
    g.close()
    time.sleep(1.0)
    assert not marker.exists()
