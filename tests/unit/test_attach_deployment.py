"""Target files (attach mode): validated like scenarios, one sentence per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from wiber_harness.cluster.deployment import (
    MAX_FILE,
    deployment_from_dict,
    load_deployment,
)
from wiber_harness.errors import InvalidScenario

BASE = """
name = "staging"
[api]
urls = ["http://10.0.0.5:8000", "http://10.0.0.6:8000"]
[kafka]
bootstrap = "10.0.0.7:9092,10.0.0.8:9092"
[store]
uri = "mongodb://10.0.0.9:27017/"
"""


def load(text: str, tmp_path: Path | None = None) -> object:
    return deployment_from_dict(tomllib.loads(text), "T.toml", tmp_path)


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidScenario) as e:
        load(text)
    return str(e.value).splitlines()


def test_a_minimal_target_has_the_api_nodes_and_the_store() -> None:
    d = deployment_from_dict(tomllib.loads(BASE), "T.toml")
    assert list(d.nodes) == ["store", "api-1", "api-2"]
    assert d.api_urls == ("http://10.0.0.5:8000", "http://10.0.0.6:8000")
    assert d.system is None and d.links == {} and d.toxiproxy_url is None
    assert d.command("store", "kill") is None


def test_a_full_target_maps_nodes_links_commands_and_vars(tmp_path: Path) -> None:
    d = deployment_from_dict(
        tomllib.loads(
            BASE
            + """
[toxiproxy]
url = "http://10.0.0.6:8474"
[toxiproxy.links]
api-kafka-1 = "kafka1_from_api"
consumer-1-store = "store_from_c1"
[commands]
kill = "kubectl delete pod {pod} --grace-period=0"
stop = ["ctl", "stop", "{pod}", "--grace", "{grace}"]
status = { shell = "kubectl get pod {pod} -o name || echo down" }
observe_s = 3
[nodes.kafka-1]
broker_id = 0
address = "10.0.0.7:9092"
vars = { pod = "kafka-0" }
[nodes.consumer-1]
vars = { pod = "consumer-abc" }
health = "tcp://10.0.0.11:9100"
failpoints = { file = "fp/consumer-1" }
delivery_log = "logs/c1.jsonl"
pause = "ctl pause {pod}"
"""
        ),
        "T.toml",
        tmp_path,
    )
    assert list(d.nodes) == ["kafka-1", "store", "api-1", "api-2", "consumer-1"]
    k = d.nodes["kafka-1"]
    assert k.broker_id == 0 and k.address == "10.0.0.7:9092" and k.vars == {"pod": "kafka-0"}
    assert str(d.command("kafka-1", "kill")) == "kubectl delete pod {pod} --grace-period=0"
    # the store has no {pod}: the default does not apply to it, and it says why
    assert d.command("store", "kill") is None
    assert "lacks" in d.nodes["store"].lacking["kill"]
    c = d.nodes["consumer-1"]
    assert c.failpoints is not None and c.failpoints.file == tmp_path / "fp" / "consumer-1"
    assert c.delivery_log == tmp_path / "logs" / "c1.jsonl"
    assert str(d.command("consumer-1", "pause")) == "ctl pause {pod}"
    assert d.links == {"api-kafka-1": "kafka1_from_api", "consumer-1-store": "store_from_c1"}
    assert d.observe_s == 3.0


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        ("nmae = 'x'", "T.toml: nmae:", "did you mean 'name'?"),
        ("[kafka2]\nx = 1", "T.toml: kafka2:", "did you mean 'kafka'?"),
        ("[commands]\nkil = 'x'", "commands.kil", "did you mean 'kill'?"),
        ("[nodes.kafka-1]\nadress = 'h:1'", "nodes.kafka-1.adress", "did you mean 'address'?"),
        ("[nodes.broker-1]", "nodes.broker-1", "use kafka-N, api-N, consumer-N"),
        ("[nodes.kafka-2]", "T.toml: nodes:", "numbered 1..N without gaps"),
        ("[nodes.api-3]", "nodes.api-3", "add its URL to api.urls"),
        (
            "[nodes.kafka-1]\nkill = 'ctl {pod}'",
            "nodes.kafka-1.kill",
            "add it to nodes.kafka-1.vars",
        ),
        (
            "[commands]\nkill = 'ctl {pdo}'\n[nodes.kafka-1]\nvars = {pod = 'p'}",
            "commands.kill",
            "did you mean 'pod'?",
        ),
        ("[commands]\nkill = 'sh -c \"kill {pid}\"'", "commands.kill", "{ shell ="),
        ("[commands]\ntimeout_s = 0", "commands.timeout_s", "from 1 to 3600"),
        ("[nodes.store]\nbroker_id = 1", "nodes.store.broker_id", "only Kafka nodes"),
        ("[nodes.kafka-1]\naddress = 'nohost'", "nodes.kafka-1.address", "host:port"),
        ("[nodes.consumer-1]\nhealth = 'ftp://x'", "nodes.consumer-1.health", "tcp://host:port"),
        ("[nodes.api-1]\ndelivery_log = 'x'", "nodes.api-1.delivery_log", "only consumers"),
        ("[nodes.consumer-1]\nfailpoints = 'x'", "nodes.consumer-1.failpoints", "{ file ="),
        ("[nodes.consumer-1]\nfailpoints = {command = 'ctl x'}", "failpoints.command", "{spec}"),
        ("[nodes.kafka-1]\nvars = {node = 'x'}", "nodes.kafka-1.vars.node", "rename it"),
        (
            "[toxiproxy]\nurl = 'http://t:8474'\n[toxiproxy.links]\napi-kafka-9 = 'p'",
            "toxiproxy.links.api-kafka-9",
            "not a link of the declared nodes",
        ),
        ("[toxiproxy]\nurl = 'http://t:8474'", "toxiproxy.links", "list the proxies"),
        ("[settings]\nWIBER_X = [1]", "settings.WIBER_X", "string, number or boolean"),
        ("system = 'no/such.toml'", "T.toml: system:", "no such system profile"),
    ],
)
def test_each_problem_is_one_sentence_naming_file_field_and_fix(
    extra: str, where: str, says: str
) -> None:
    top = extra.split("=")[0].strip() in ("nmae", "system")
    found = problems(extra + "\n" + BASE if top else BASE + "\n" + extra)
    assert any(where in p and says in p for p in found), found


def test_required_keys_are_named_and_every_problem_comes_at_once() -> None:
    found = problems('[api]\nurls = "http://x"\n[kafka]\nbootstrap = "nope"\n')
    assert any("api.urls: must be a list" in p for p in found)
    assert any("kafka.bootstrap: 'nope' must be host:port" in p for p in found)
    assert any("store.uri: required key is missing" in p for p in found)


def test_two_brokers_with_one_id_are_refused() -> None:
    found = problems(BASE + "[nodes.kafka-1]\nbroker_id = 5\n[nodes.kafka-2]\nbroker_id = 5\n")
    assert any("share a broker_id" in p for p in found)


def test_the_file_is_read_with_its_own_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidScenario, match="no such target file"):
        load_deployment(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[api\n")
    with pytest.raises(InvalidScenario, match="TOML syntax error"):
        load_deployment(bad)
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_FILE + 1))
    with pytest.raises(InvalidScenario, match="keep it under 256 KiB"):
        load_deployment(big)
    good = tmp_path / "good.toml"
    good.write_text('system = "../profiles/wiber.toml"\n' + BASE)
    (tmp_path.parent / "profiles").mkdir(exist_ok=True)
    repo_profile = Path(__file__).resolve().parents[2] / "profiles" / "wiber.toml"
    (tmp_path.parent / "profiles" / "wiber.toml").write_text(repo_profile.read_text())
    d = load_deployment(good)
    assert d.system is not None and d.system.name == "wiber"
    assert d.source == str(good)


def test_the_target_file_of_docs_formats_md_loads() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "formats.md").read_text()
    blocks = [b for b in re.findall(r"^```toml\n(.*?)^```", text, re.M | re.S) if "[store]" in b]
    assert len(blocks) == 1
    d = deployment_from_dict(tomllib.loads(blocks[0]), "docs/formats.md")
    status = d.nodes["kafka-1"].commands["status"]
    assert status.render(d.nodes["kafka-1"].values("b"))[3] == "{{.State.Status}}"


def test_every_target_file_in_docs_scaling_md_loads() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "scaling.md").read_text()
    blocks = re.findall(r"^```toml\n(.*?)^```", text, re.M | re.S)
    assert blocks, "docs/scaling.md shows a target file"
    for block in blocks:
        d = deployment_from_dict(tomllib.loads(block), "docs/scaling.md", root / "docs")
        status = d.nodes["kafka-1"].commands["status"]
        script = status.render(d.nodes["kafka-1"].values(d.kafka_bootstrap))[2]
        assert "kubectl -n wiber exec kafka-0 --" in script and "{ echo down; exit 0; }" in script
        fp = d.nodes["consumer-1"].failpoints
        assert fp is not None and fp.command is not None
        argv = fp.command.render(d.nodes["consumer-1"].values("b", spec="x=crash@1"))
        assert argv[-5:-3] == ["sh", "-c"] and argv[-2:] == ["sh", "x=crash@1"]
        assert argv[-3] == "printf '%s\\n' \"$1\" > /var/run/wiber/failpoints"
