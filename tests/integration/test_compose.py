"""Scenarios on the compose backend (Docker containers), through the harness's runner.

Each test runs one scenario file, unchanged from the local backend, in its
quick form on a fresh compose stack (offline images on a machine without a
registry, built once per session by ``docker/offline/build.sh``, which skips
what exists and rebuilds only the app image's source layer), and requires a
valid verdict, ``"backend": "compose"`` in result.json, evidence that every
fault took effect, and no container, network or volume of the run left
afterwards.

Skipped, with the reason, when no Docker engine answers or no compose
binary exists (``scripts/docker-setup.sh`` provides both), unless
``WIBER_REQUIRE_DOCKER=1`` (``.ci/run`` sets it): then a missing engine is a
failure, so CI cannot pass by skipping the compose backend. The five
scenario tests are in the default selection; the extra partition probe is
``slow``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

from wiber_harness.errors import ClusterError

pytestmark = [pytest.mark.integration, pytest.mark.compose]

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"


def _skip(reason: str) -> NoReturn:
    """Skip the compose tests, or fail them when the run requires Docker."""
    if os.environ.get("WIBER_REQUIRE_DOCKER") == "1":
        pytest.fail(f"WIBER_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _docker_or_skip() -> Any:
    try:
        # importlib: a plain import would let mypy take the repository's docker/ folder for the SDK
        docker: Any = importlib.import_module("docker")
    except ImportError:
        _skip("the Docker SDK for Python is not installed (pip install 'docker>=7')")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as e:
        _skip(f"no Docker engine answers ({type(e).__name__}); scripts/docker-setup.sh starts one")
    from wiber_harness.cluster.compose_files import compose_command

    try:
        compose_command()
    except ClusterError as e:
        _skip(str(e))
    return client


@pytest.fixture(scope="session")
def docker_client() -> Any:
    client = _docker_or_skip()
    r = subprocess.run(
        ["bash", str(REPO / "docker" / "offline" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, f"docker/offline/build.sh failed: {r.stderr[-2000:]}"
    return client


@pytest.mark.parametrize(
    "path",
    [
        "baseline.yaml",
        "leader-kill.yaml",
        "consumer-kill-random.yaml",
        "compose/broker-isolate.yaml",
        "consumer-store-partition.yaml",
    ],
)
def test_scenario_is_valid_on_compose(path: str, docker_client: Any, tmp_path: Path) -> None:
    from wiber_harness.runner import RunOptions, run_scenario
    from wiber_harness.scenario import load_scenario

    scenario = load_scenario(SCENARIOS / path)
    result = run_scenario(scenario, RunOptions(backend="compose", quick=True, out_root=tmp_path))
    doc = json.loads((result.run_dir / "result.json").read_text())
    state = json.loads((result.run_dir / "cluster" / "cluster.json").read_text())
    project = state["project"]
    assert doc["backend"] == "compose" and doc["env"]["backend"] == "compose"
    assert result.verdict is True, (
        f"{scenario.name} on compose: {result.reasons} (run folder {result.run_dir})"
    )
    assert doc["checks"]["faults"]["valid"] is True
    label = f"com.docker.compose.project={project}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    assert docker_client.networks.list(filters={"label": label}) == []
    assert docker_client.volumes.list(filters={"label": label}) == []
    # every node's log was kept for the post-mortem
    assert (result.run_dir / "cluster" / "nodes" / "kafka-1" / "kafka.log").stat().st_size > 0


@pytest.mark.slow
def test_isolate_is_a_real_partition(docker_client: Any, tmp_path: Path) -> None:
    """A broker cut off by network disconnect drops out of the others' metadata and comes back."""
    from wiber_harness.cluster.base import ClusterConfig
    from wiber_harness.cluster.compose import ComposeCluster

    c = ComposeCluster(ClusterConfig(run_dir=tmp_path / "cluster", system=None))
    try:
        c.start()
        ev = c.isolate("kafka-3")
        assert ev["effective"] and ev["connected_after"] == []
        assert c.node("kafka-3").running()  # the process lives on, cut off
        deadline = time.monotonic() + 60
        while _healthy(c)["kafka-3"] and time.monotonic() < deadline:
            time.sleep(1)
        assert not _healthy(c)["kafka-3"], "the others still list the isolated broker after 60 s"
        assert c.rejoin("kafka-3")["effective"]
        c.wait_ready("kafka-3", 120)
        c.wait_topic_healthy(120)
        assert c.kafka_controller() in ("kafka-1", "kafka-2", "kafka-3")
    finally:
        c.close()


def _healthy(c: Any) -> dict[str, bool]:
    return {s.name: s.healthy for s in c.status()}


@pytest.mark.slow
def test_bench_measures_the_same_rate_on_compose(docker_client: Any, tmp_path: Path) -> None:
    """``bench --backend compose``: the same-rate loads run on the containers and are read
    back; every gated and context figure is not applicable there; nothing is left behind."""
    from wiber_harness.bench import BenchConfig, run_bench
    from wiber_harness.bench.applicability import COMPOSE_REASON

    cfg = BenchConfig.preset(
        tmp_path / "bench", quick=True, backend="compose", same_rate=50.0, same_rate_s=4.0
    )
    result = run_bench(cfg)
    doc = result.document
    sr = doc["same_rate"]
    assert doc["backend"] == "compose" and sr["backend"] == "compose"
    assert [r["ok"] for r in sr["runs"]] == [200, 200], doc["problems"]
    assert sr["figures"]["ack_p50_ms"]["n"] == 2 and sr["figures"]["e2e_p99_ms"]["n"] == 2
    assert all(f["not_applicable"] == COMPOSE_REASON for f in doc["figures"])
    assert doc["promises"] == [] and result.exit_code == 0
    state = json.loads((tmp_path / "bench" / "cluster" / "cluster.json").read_text())
    label = f"com.docker.compose.project={state['project']}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    assert docker_client.volumes.list(filters={"label": label}) == []
