"""The attach backend without a deployment: verbs, evidence, links, scope, close, and the stack's
control socket. Commands are a stand-in operator tool (``attach_ctl.py``) keeping node states in
a file; Toxiproxy is the in-memory fake."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from tests.unit.fake_cluster import FakeCluster, FakeToxiproxy
from wiber_harness.cli.node import target_toml
from wiber_harness.cluster.attach import CLOSE_FILE, AttachCluster
from wiber_harness.cluster.attach_links import MappedToxiproxy
from wiber_harness.cluster.attach_node import parse_status
from wiber_harness.cluster.attach_scope import RunScope, scoped
from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.control import ControlServer, render, request
from wiber_harness.cluster.deployment import deployment_from_dict, load_deployment
from wiber_harness.cluster.factory import make_cluster
from wiber_harness.cluster.templates import CommandResult
from wiber_harness.errors import ClusterError, FaultError
from wiber_harness.reads import DeadLetter, DeliveryEvent, FinalReads, StoredRecord

CTL = Path(__file__).with_name("attach_ctl.py")


def target(tmp_path: Path, extra: str = "", status: bool = True) -> str:
    ctl = [sys.executable, str(CTL), str(tmp_path / "state.json")]

    def cmd(verb: str) -> str:
        return json.dumps([*ctl, verb, "{who}"])

    lines = [
        "[api]",
        'urls = ["http://127.0.0.1:9"]',
        "[kafka]",
        'bootstrap = "127.0.0.1:9"',
        "[store]",
        'uri = "mongodb://127.0.0.1:9/"',
        "[commands]",
        *(f"{v} = {cmd(v)}" for v in ("kill", "stop", "start", "pause", "resume")),
        *([f"status = {cmd('status')}"] if status else []),
        "observe_s = 1",
        "[nodes.kafka-1]",
        'vars = { who = "kafka-1" }',
        "[nodes.consumer-1]",
        'vars = { who = "stuck" }',
        "[nodes.store]",
        'vars = { who = "store" }',
        "[nodes.api-1]",
        'vars = { who = "api-1" }',
        extra,
    ]
    return "\n".join(lines) + "\n"


def cluster(tmp_path: Path, extra: str = "", status: bool = True) -> AttachCluster:
    d = deployment_from_dict(tomllib.loads(target(tmp_path, extra, status)), "T.toml", tmp_path)
    c = make_cluster("attach", ClusterConfig(run_dir=tmp_path / "run", deployment=d))
    assert isinstance(c, AttachCluster)
    return c


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "state.json.log"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_attach_needs_a_target() -> None:
    with pytest.raises(ClusterError, match="needs a target file"):
        make_cluster("attach", ClusterConfig(run_dir=Path("/nonexistent")))


def test_a_verb_runs_its_command_and_looks_at_the_node(tmp_path: Path) -> None:
    c = cluster(tmp_path)
    ev = c.kill("kafka-1")
    assert ev["effective"] is True and ev["command"]["returncode"] == 0
    assert ev["command"]["argv"][-2:] == ["kill", "kafka-1"]
    assert ev["observed"]["via"] == "status" and ev["observed"]["state"] == "down"
    assert not c.node("kafka-1").alive()
    st = c.start_node("kafka-1", wait=False)
    assert st["effective"] is True and st["observed"]["state"] == "running"
    assert c.node("kafka-1").running() and c.node("kafka-1").pid == 4242
    ev = c.stop_node("kafka-1", grace=7)
    assert ev["effective"] and ev["command"]["argv"][-2:] == ["stop", "kafka-1"]
    assert c.start_node("kafka-1", wait=False)["effective"]


def test_a_command_that_does_nothing_is_not_effective_and_says_why(tmp_path: Path) -> None:
    c = cluster(tmp_path)
    ev = c.kill("consumer-1")  # the tool exits 0 but the node stays running
    assert ev["effective"] is False
    assert "was not seen down by its status command within 1 s" in ev["reason"]


def test_a_failing_command_is_not_effective(tmp_path: Path) -> None:
    c = cluster(tmp_path, status=False)
    ctl = json.dumps([sys.executable, str(CTL), str(tmp_path / "s.json"), "fail", "x"])
    c2 = cluster(tmp_path, f"\n[nodes.kafka-2]\nkill = {ctl}\n")
    ev = c2.kill("kafka-2")
    assert ev["effective"] is False and "exited 3" in ev["reason"]
    assert "it went wrong" in ev["reason"]
    assert c.node("kafka-1").returncode() is None


def test_without_status_the_health_check_is_the_look(tmp_path: Path) -> None:
    c = cluster(tmp_path, status=False)
    ev = c.kill("kafka-1")  # kafka is not reachable here, so it is "seen down"
    assert ev["effective"] and ev["observed"] == {
        "via": "health",
        "healthy": False,
        "seen": True,
        "after_s": ev["observed"]["after_s"],
    }
    st = c.start_node("kafka-1", wait=False)  # nothing to look at yet: the end phase waits
    assert st["effective"] and st["observed"].startswith("deferred")


def test_a_node_already_running_is_not_started_again(tmp_path: Path) -> None:
    c = cluster(tmp_path)
    ev = c.start_node("api-1", wait=False)
    assert ev["effective"] and "already running" in ev["note"]
    assert ["start", "api-1"] not in calls(tmp_path)


def test_close_heals_what_the_harness_left_and_nothing_else(tmp_path: Path) -> None:
    c = cluster(tmp_path)
    c.kill("kafka-1")
    c.pause("api-1")
    tp = FakeToxiproxy(["p-api-store"])
    c._tp = MappedToxiproxy(tp, {"api-store": "p-api-store"})
    c._links = ["api-store"]
    c.set_link_enabled("api-store", False)
    c.toxiproxy.add_toxic("api-store", "t1", "latency", {"latency": 5})
    before = [x for x in calls(tmp_path) if x[0] != "status"]
    c.close()
    done = json.loads((tmp_path / "run" / CLOSE_FILE).read_text())
    assert done["started"]["kafka-1"]["effective"] and done["resumed"]["api-1"]["effective"]
    assert done["links"]["enabled"] == ["api-store"]
    assert done["links"]["toxics_removed"] == {"api-store": ["t1"]}
    assert tp.proxies_["p-api-store"]["enabled"] and tp.toxics_["p-api-store"] == []
    after = [x for x in calls(tmp_path) if x[0] != "status"][len(before) :]
    assert after == [["resume", "api-1"], ["start", "kafka-1"]]
    c.close()  # idempotent: nothing more to heal
    assert [x for x in calls(tmp_path) if x[0] != "status"][len(before) :] == after


def test_failpoints_go_through_the_declared_file_and_are_disarmed_on_close(tmp_path: Path) -> None:
    c = cluster(
        tmp_path,
        '[nodes.kafka-3]\n[nodes.kafka-2]\n[nodes.consumer-2]\nfailpoints = { file = "fp2" }\n',
    )
    ev = c.set_failpoints("consumer-2", "consumer.after_poll=crash@1")
    assert ev["effective"] and (tmp_path / "fp2").read_text() == "consumer.after_poll=crash@1\n"
    with pytest.raises(FaultError, match="no failpoints driver"):
        c.set_failpoints("consumer-1", "consumer.after_poll=crash@1")
    c.close()
    assert (tmp_path / "fp2").read_text() == "consumer.after_poll=off\n"


def test_the_links_are_the_declared_proxies_under_harness_names(tmp_path: Path) -> None:
    tp = FakeToxiproxy(["kafka1_from_api", "other"])
    m = MappedToxiproxy(tp, {"api-kafka-1": "kafka1_from_api"})
    assert m.check_clean()["api-kafka-1"]["proxy"] == "kafka1_from_api"
    m.set_enabled("api-kafka-1", False)
    assert tp.proxies_["kafka1_from_api"]["enabled"] is False and m.disabled == {"api-kafka-1"}
    assert m.get("api-kafka-1").name == "api-kafka-1"
    with pytest.raises(ClusterError, match="is disabled before the run"):
        m.check_clean()
    m.set_enabled("api-kafka-1", True)
    assert m.disabled == set()
    with pytest.raises(FaultError, match="not listed under"):
        m.set_enabled("api-kafka-2", False)
    with pytest.raises(FaultError, match="never resets"):
        m.reset()
    with pytest.raises(FaultError, match="creates no proxy"):
        m.create("x", "a:1", "b:2")
    missing = MappedToxiproxy(FakeToxiproxy(["x"]), {"api-store": "x"})
    tp2 = missing.inner
    assert isinstance(tp2, FakeToxiproxy)
    tp2.toxics_["x"].append({"name": "theirs"})
    with pytest.raises(ClusterError, match="already has toxics"):
        missing.check_clean()
    assert missing.undo() == {"toxics_removed": {}, "enabled": [], "errors": []}  # not ours


def test_a_run_scope_leaves_out_what_was_there_before() -> None:
    def rec(mid: str) -> StoredRecord:
        return StoredRecord(mid, None, None, None, 0, 1, None)

    scope = RunScope(frozenset({"old1", "old2"}), {0: 10}, {0: 2})
    reads = FinalReads(
        store=[rec("old1"), rec("new1"), rec("old2")],
        api={"c": ["old1", "new1"]},
        api_tags={"c": ["aaaaaa-1", "aaaaaa-2"]},
        delivery=[
            DeliveryEvent("consumer-1", 0, 9, "old1", None, "stored"),
            DeliveryEvent("consumer-1", 0, 10, "new1", None, "stored"),
        ],
        dead_letters=[DeadLetter(0, 1, "x", None), DeadLetter(0, 2, "y", None)],
    )
    out = scope.apply(reads)
    assert [r.message_id for r in out.store] == ["new1"] and out.api == {"c": ["new1"]}
    assert out.api_tags == {"c": ["aaaaaa-2"]}  # each read item's tag stays with its item
    assert [e.offset for e in out.delivery] == [10] and out.dead_letters == [
        DeadLetter(0, 2, "y", None)
    ]
    assert out.extra["attach_scope"]["left_out"] == {
        "store": 2,
        "read_items": 1,
        "delivery": 1,
        "dead_letters": 1,
    }
    assert scoped(object(), reads) is reads


def test_status_words_of_other_tools_are_understood() -> None:
    def said(out: str, rc: int = 0) -> str:
        return parse_status(CommandResult(("x",), False, rc, out, "", 0.0)).state

    assert said("running 12\n") == "running" and said("paused") == "paused"
    assert said("exited") == "down" and said("Pending") == "down" and said("down") == "down"
    assert said("restarting") == "unknown" and said("running", rc=1) == "unknown"


def test_the_stack_serves_node_verbs_and_a_target_file_for_itself(tmp_path: Path) -> None:
    fake = FakeCluster(run_dir=tmp_path)
    server = ControlServer(fake, tmp_path)
    try:
        assert render("status", request(tmp_path, "status", "kafka-2")) == ("running 1001", 0)
        text, code = render("kill", request(tmp_path, "kill", "kafka-2"))
        assert code == 0 and json.loads(text)["effective"] is True
        assert render("status", request(tmp_path, "status", "kafka-2")) == ("down", 0)
        assert render("kill", request(tmp_path, "kill", "kafka-2"))[1] == 1  # not effective
        assert render("controller", request(tmp_path, "controller")) == ("LeaderId: 2", 0)
        bad = request(tmp_path, "explode", "kafka-1")
        assert bad["ok"] is False and "unknown verb" in bad["error"]
        described = request(tmp_path, "describe")
    finally:
        server.close()
    assert ("kill", "kafka-2") in fake.calls and not (tmp_path / "control.sock").exists()
    described["state"]["endpoints"] = fake.endpoints().to_dict()
    described["state"]["links"] = fake.links()
    for n in described["state"]["nodes"]:
        n["address"] = "127.0.0.1:7"
    f = tmp_path / "T.toml"
    f.write_text(target_toml(described, tmp_path))
    d = load_deployment(f)  # the written file is a valid target
    assert d.node_names("kafka") == ["kafka-1", "kafka-2", "kafka-3"]
    assert d.links["consumer-2-store"] == "consumer-2-store"
    assert d.nodes["consumer-1"].failpoints is not None
    argv = d.nodes["kafka-2"].commands["kill"].render(d.nodes["kafka-2"].values("b"))
    assert argv[-4:] == ["kill", "kafka-2", "--dir", str(tmp_path)]
