"""``store_latency``: validation, inject, heal and evidence, and what explore draws.

Pure logic against the in-memory cluster of ``tests/unit/fake_cluster.py``
(Toxiproxy answered from a dict); the real-stack run is a scenario file
(see ``docs/adding-a-fault-kind.md``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fake_cluster import FakeCluster
from wiber_harness.clock import Clock
from wiber_harness.errors import InvalidScenario
from wiber_harness.explore import FAMILIES, Space, parse_mix, schedule_scenario, seeded_schedule
from wiber_harness.faults.catalog import CATALOG, DEFAULT_TARGETS, fault_kind
from wiber_harness.faults.nemesis import Nemesis
from wiber_harness.history import HistoryWriter, Op
from wiber_harness.scenario import FaultStep, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
STORE_LINKS = ["api-store", "consumer-1-store", "consumer-2-store"]

SCENARIO = """
name: slow-store
description: The store answers slowly for a while.
workload:
  rate: 50
  duration: 20
timeline:
  - at: 5
    fault: store_latency
    for: 5
{params}
"""


def step(**fields: Any) -> FaultStep:
    return FaultStep.model_validate({"at": 1, "fault": "store_latency", **fields})


def error(params: str) -> str:
    with pytest.raises(InvalidScenario) as e:
        parse_scenario(SCENARIO.format(params=params), "slow-store.yaml")
    return str(e.value)


# --- the catalog entry and its validation ------------------------------------------------


def test_it_is_in_the_catalog_with_the_store_as_default_target() -> None:
    kind = fault_kind("store_latency")
    assert kind is CATALOG["store_latency"] and kind.category == "link" and kind.healable
    assert DEFAULT_TARGETS["store_latency"] == "store"
    assert kind.signature() == (
        "store_latency(latency_ms=100, jitter_ms=0, stream=both, toxicity=1.0)"
    )
    s = parse_scenario(SCENARIO.format(params=""), "slow-store.yaml").timeline[0]
    assert str(s.target) == "store"
    assert s.params == {"latency_ms": 100, "jitter_ms": 0, "stream": "both", "toxicity": 1.0}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ("    target: kafka.1", "store_latency works on store nodes, not 'kafka.1'"),
        (
            "    target: link(api, store)",
            "store_latency needs a process target such as 'store', not the link target",
        ),
        ("    params: {latency_ms: -1}", "below its minimum 0"),
        ("    params: {latency: 10}", "did you mean 'latency_ms'?"),
        ("    params: {stream: sideways}", "use one of upstream, downstream, both"),
        ("    params: {toxicity: 2}", "above its maximum 1"),
    ],
)
def test_a_bad_step_is_rejected_with_the_fix(params: str, words: str) -> None:
    assert words in error(params)


# --- inject, heal, evidence --------------------------------------------------------------


def run(tmp_path: Path, c: FakeCluster, **fields: Any) -> tuple[list[Op], FakeCluster]:
    history = HistoryWriter(tmp_path / "history.jsonl")
    nemesis = Nemesis(c, history, Clock(), seed=1)

    async def go() -> None:
        await nemesis.inject(step(id="slow", **fields))
        await nemesis.heal("slow")

    asyncio.run(go())
    history.close()
    return [op for op in history.ops if op.type != "invoke"], c


def test_every_store_link_gets_a_latency_toxic_per_direction(tmp_path: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    c = FakeCluster(consumers=2)
    real = c._toxiproxy._call

    def spy(method: str, path: str, **kw: Any) -> Any:
        if method == "POST" and path.endswith("/toxics"):
            seen.append((path.split("/")[2], kw["json"]))
        out = real(method, path, **kw)
        if method == "POST" and path.endswith("/toxics"):
            # while the fault is in effect, Toxiproxy holds the toxics
            assert c._toxiproxy.toxics_[path.split("/")[2]]
        return out

    c._toxiproxy._call = spy  # type: ignore[method-assign]
    ops, _ = run(tmp_path, c, params={"latency_ms": 300, "jitter_ms": 75})
    inject, heal = ops
    assert inject.type == "ok" and inject.value["resolved"] == ["store"]
    assert inject.value["target"] == "store" and inject.value["kind"] == "store_latency"
    nodes = inject.value["evidence"]["nodes"]
    assert list(nodes) == STORE_LINKS and inject.value["evidence"]["effective"] is True
    for link in STORE_LINKS:
        assert nodes[link]["link"] == link and nodes[link]["effective"] is True
        assert [t.split("-")[1] for t in nodes[link]["toxics"]] == ["upstream", "downstream"]
        assert all(t.startswith("slow-") for t in nodes[link]["toxics"])
    assert sorted({link for link, _ in seen}) == STORE_LINKS and len(seen) == 6
    assert {
        (t["type"], t["toxicity"], tuple(sorted(t["attributes"].items()))) for _, t in seen
    } == {("latency", 1.0, (("jitter", 75), ("latency", 300)))}
    # heal: exactly those toxics removed, nothing left
    assert heal.type == "ok" and heal.value["resolved"] == ["store"]
    healed = heal.value["evidence"]["nodes"]
    assert {ln: ev["removed"] for ln, ev in healed.items()} == {
        ln: nodes[ln]["toxics"] for ln in STORE_LINKS
    }
    assert all(c._toxiproxy.toxics_[ln] == [] for ln in STORE_LINKS)
    # no other link was touched
    assert {ln for ln, _ in seen}.isdisjoint({"api-kafka-1", "consumer-kafka-1"})


def test_one_direction_and_a_toxicity(tmp_path: Path) -> None:
    c = FakeCluster(consumers=3)
    ops, _ = run(tmp_path, c, params={"stream": "downstream", "toxicity": 0.5})
    nodes = ops[0].value["evidence"]["nodes"]
    assert len(nodes) == 4 and all(len(ev["toxics"]) == 1 for ev in nodes.values())
    assert c.calls == []  # no process verb: only Toxiproxy


def test_a_toxic_toxiproxy_does_not_show_is_not_effective(tmp_path: Path) -> None:
    c = FakeCluster()
    c._toxiproxy.drop_toxics = True
    ops, _ = run(tmp_path, c)
    assert ops[0].type == "info" and ops[0].value["effective"] is False
    assert ops[0].value["error"].startswith("api-store: no effect seen")


def test_a_store_without_client_links_is_not_effective(tmp_path: Path) -> None:
    c = FakeCluster()
    c._links = [ln for ln in c._links if not ln.endswith("-store")]
    ops, _ = run(tmp_path, c)
    assert ops[0].type == "info"
    assert ops[0].value["error"] == "store has no client link to slow down"


# --- explore ---------------------------------------------------------------------------------


def test_explore_draws_it_on_the_store_and_never_over_a_latency() -> None:
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml").quick()
    assert FAMILIES["store_latency"] == ("store_latency",)
    space = Space.for_base(base, parse_mix("latency,store_latency", base), max_faults=4)
    drawn = [f for s in range(40) for f in seeded_schedule(space, s)]
    mine = [f for f in drawn if f.kind == "store_latency"]
    assert mine and {f.target for f in mine} == {"store"}
    assert {dict(f.params)["latency_ms"] for f in mine} <= {100, 300, 1000}
    assert all(f.resource == "link:latency" and f.hold is not None for f in mine)
    for s in range(40):
        faults = seeded_schedule(space, s)
        for i, a in enumerate(faults):
            for b in faults[i + 1 :]:
                assert a.end <= b.at or b.end <= a.at  # one latency fault at a time
        schedule_scenario(base, faults, name=f"x{s}", seed=s)  # every draw is a valid scenario
