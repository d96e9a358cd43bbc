"""A scenario that needs a driver the target lacks is refused before the run, in one sentence."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from wiber_harness.cli import _register, cli
from wiber_harness.cluster.deployment import Deployment, deployment_from_dict
from wiber_harness.faults.needs import NotSupported, check_fit, scenario_needs
from wiber_harness.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

BARE = """
[api]
urls = ["http://127.0.0.1:1"]
[kafka]
bootstrap = "127.0.0.1:2"
[store]
uri = "mongodb://127.0.0.1:3/"
[nodes.kafka-1]
[nodes.kafka-2]
[nodes.kafka-3]
[nodes.consumer-1]
[nodes.consumer-2]
"""
PROCESS = """
[commands]
kill = ["ctl", "kill", "{node}"]
stop = ["ctl", "stop", "{node}", "{grace}"]
start = ["ctl", "start", "{node}"]
pause = ["ctl", "pause", "{node}"]
resume = ["ctl", "resume", "{node}"]
status = ["ctl", "status", "{node}"]
"""
LINKS = """
[toxiproxy]
url = "http://127.0.0.1:8474"
[toxiproxy.links]
api-kafka-1 = "api-kafka-1"
api-kafka-2 = "api-kafka-2"
api-kafka-3 = "api-kafka-3"
consumer-kafka-1 = "consumer-kafka-1"
consumer-kafka-2 = "consumer-kafka-2"
consumer-kafka-3 = "consumer-kafka-3"
api-store = "api-store"
consumer-1-store = "consumer-1-store"
consumer-2-store = "consumer-2-store"
"""


def dep(*parts: str) -> Deployment:
    return deployment_from_dict(tomllib.loads("".join(parts)), "T.toml")


def needs(name: str, d: Deployment) -> list[str]:
    return scenario_needs(load_scenario(SCENARIOS / f"{name}.yaml"), d)


def test_a_bare_target_runs_what_needs_no_driver() -> None:
    d = dep(BARE)
    for name in ("baseline", "duplicate-retry", "duplicate-replay"):
        assert needs(name, d) == []


def test_a_process_fault_without_commands_is_one_sentence_per_missing_verb() -> None:
    found = needs("leader-kill", dep(BARE))
    assert len(found) == 2
    kill, start = found
    assert kill.startswith(f"{SCENARIOS / 'leader-kill.yaml'}: timeline[0] (kill kafka.leader")
    assert "T.toml declares no kill command for kafka-1, kafka-2, kafka-3" in kill
    assert "add kill to [commands] or to [nodes.kafka-1]" in kill
    assert "no start command" in start and "the heal starts it again" in start
    assert all(p.count(". ") == 0 for p in found)  # one sentence each


def test_the_leader_may_be_any_broker_so_every_broker_needs_the_verb() -> None:
    d = dep(
        BARE.replace("[nodes.kafka-1]", '[nodes.kafka-1]\nkill = "ctl kill 1"\nstart = "ctl s 1"')
    )
    found = needs("leader-kill", d)
    assert "kafka-2, kafka-3" in found[0] and "kafka-1," not in found[0]


def test_with_every_driver_the_quick_suite_fits() -> None:
    fp = '\nfailpoints = { file = "/tmp/fp" }\n'
    d = dep(
        BARE.replace("[nodes.consumer-1]", "[nodes.consumer-1]" + fp).replace(
            "[nodes.consumer-2]", "[nodes.consumer-2]" + fp
        ),
        PROCESS,
        LINKS,
    )
    for name in (
        "baseline",
        "leader-kill",
        "consumer-kill-failpoint",
        "consumer-store-partition",
        "duplicate-retry",
        "offset-rewind",
        "store-kill",
        "broker-pause",
        "client-broker-partition",
        "consumer-broker-latency",
    ):
        assert needs(name, d) == [], name


def test_link_faults_need_toxiproxy_and_every_link_they_may_use() -> None:
    assert "has no [toxiproxy]" in needs("consumer-store-partition", dep(BARE, PROCESS))[0]
    d = dep(BARE, PROCESS, LINKS.replace('consumer-2-store = "consumer-2-store"\n', ""))
    found = needs("consumer-store-partition", d)
    assert len(found) == 1 and "lists no proxy for consumer-2-store" in found[0]


def test_the_controller_needs_its_command_and_failpoints_their_driver() -> None:
    found = needs("controller-kill", dep(BARE, PROCESS))
    assert any("no [kafka].controller command" in p for p in found)
    found = needs("consumer-kill-failpoint", dep(BARE, PROCESS))
    assert any("no failpoints driver for consumer-1" in p for p in found)


def test_a_consumer_nobody_can_see_cannot_be_killed() -> None:
    d = dep(BARE, PROCESS.replace('status = ["ctl", "status", "{node}"]\n', ""))
    found = needs("consumer-kill-random", d)
    assert any("neither a status command nor a health check" in p for p in found)


def test_settings_must_be_what_the_deployment_runs_with() -> None:
    sc = load_scenario(SCENARIOS / "consumer-pause-session-timeout.yaml")
    found = scenario_needs(sc, dep(BARE, PROCESS))
    assert len(found) == 1 and "WIBER_CONSUMER_SESSION_TIMEOUT_MS=6000" in found[0]
    assert "declare it under [settings]" in found[0]
    ok = dep(BARE, PROCESS, '[settings]\nWIBER_CONSUMER_SESSION_TIMEOUT_MS = "6000"\n')
    assert scenario_needs(sc, ok) == []
    assert "WIBER_X=1" in scenario_needs(sc, ok, {"WIBER_X": "1"})[0]


def test_a_node_the_target_does_not_have_is_named() -> None:
    sc = parse_scenario(
        "name: x\ndescription: d\ntopology: {consumers: 3}\nworkload: {rate: 1, duration: 9}\n"
        "timeline: [{at: 1, fault: kill, target: consumer.3, for: 1}]\n"
    )
    found = scenario_needs(sc, dep(BARE, PROCESS))
    assert len(found) == 1 and "consumer.3" in found[0] and "declare the node" in found[0]


def test_check_fit_raises_every_problem_of_every_scenario_together() -> None:
    scs = [load_scenario(SCENARIOS / f"{n}.yaml") for n in ("leader-kill", "store-kill")]
    with pytest.raises(NotSupported) as e:
        check_fit(scs, dep(BARE))
    assert len(str(e.value).splitlines()) == 4


def test_the_cli_refuses_before_anything_runs_with_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "T.toml"
    target.write_text(BARE)
    out = tmp_path / "runs"
    _register()
    r = CliRunner().invoke(
        cli,
        ["run", str(SCENARIOS / "leader-kill.yaml"), "--target", str(target), "--out", str(out)],
        standalone_mode=False,
    )
    assert isinstance(r.exception, NotSupported)
    assert f"{target} declares no kill command" in str(r.exception)
    assert not out.exists()  # nothing was started, no run folder written
