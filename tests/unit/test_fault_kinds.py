"""Fault kinds live one family per module, found by the registry; the nemesis and explore ask it.

The registry finds every module of ``faults/kinds`` and refuses a broken one;
the catalog, the nemesis and explore know no kind by name. The evidence the
nemesis records for each family is pinned here against an in-memory cluster
(``tests/unit/fake_cluster.py``), field by field, because offline ``check``
of old run folders reads it; explore's seeded draws are pinned too, because
a stored schedule names its seed.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fake_cluster import FakeCluster, FakeWorkload
from wiber_harness.clock import Clock
from wiber_harness.cluster.base import Cluster
from wiber_harness.explore import FAMILIES, Space, parse_mix, seeded_schedule
from wiber_harness.faults import kinds as kinds_package
from wiber_harness.faults.catalog import CATALOG, DEFAULT_TARGETS, kinds
from wiber_harness.faults.kind import Kind
from wiber_harness.faults.nemesis import Nemesis
from wiber_harness.faults.registry import KINDS, REGISTRY, RegistryError, discover
from wiber_harness.history import HistoryWriter, Op
from wiber_harness.scenario import FaultStep, load_scenario

ROOT = Path(__file__).resolve().parents[2]

# --- the registry ----------------------------------------------------------------------------


def test_every_module_of_the_kinds_package_is_found() -> None:
    import importlib

    modules = sorted(
        p.stem for p in Path(kinds_package.__path__[0]).glob("*.py") if not p.stem.startswith("_")
    )
    assert {"process", "link", "toxics", "failpoint"} <= set(modules)
    for m in modules:
        module = importlib.import_module(f"{kinds_package.__name__}.{m}")
        assert all(REGISTRY[k.name] is k for k in module.KINDS), m
    assert list(CATALOG) == [k.name for k in KINDS] == [k.name for k in kinds()]
    assert all(isinstance(k, Kind) and CATALOG[k.name] is k.entry for k in KINDS)
    assert [k.rank for k in KINDS] == sorted(k.rank for k in KINDS)


def test_the_built_in_kinds_keep_their_order_families_and_default_targets() -> None:
    built_in_kinds = [
        "kill",
        "stop",
        "pause",
        "restart",
        "rolling_restart",
        "partition",
        "latency",
        "bandwidth",
        "timeout",
        "reset_peer",
        "slow_close",
        "slicer",
        "limit_data",
        "isolate",
        "duplicate_retry",
        "duplicate_replay",
        "offset_rewind",
        "failpoint",
    ]
    # a new kind may go anywhere; the built-in ones keep their order (the listing's)
    assert [k for k in CATALOG if k in built_in_kinds] == built_in_kinds
    built_in = {
        "kill": ("kill",),
        "stop": ("stop",),
        "pause": ("pause",),
        "restart": ("restart",),
        "partition": ("partition",),
        "latency": ("latency",),
        "duplicate": ("duplicate_retry", "duplicate_replay", "offset_rewind"),
        "duplicate_retry": ("duplicate_retry",),
        "duplicate_replay": ("duplicate_replay",),
        "offset_rewind": ("offset_rewind",),
    }
    assert {f: FAMILIES[f] for f in built_in} == built_in
    assert [f for f in FAMILIES if f in built_in] == list(built_in)
    assert {k: DEFAULT_TARGETS[k] for k in built_in if k in DEFAULT_TARGETS} == {
        "duplicate_retry": "workload",
        "duplicate_replay": "workload",
        "offset_rewind": "consumers",
    }
    assert DEFAULT_TARGETS["rolling_restart"] == "kafka.all"


def _package(tmp_path: Path, name: str, modules: dict[str, str]) -> Any:
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    for module, text in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


KIND_MODULE = """
    from wiber_harness.faults.entry import FaultKind
    from wiber_harness.faults.kind import Kind

    ENTRY = FaultKind("{name}", "link", "d", frozenset({{"link"}}), "links(store)", None)
    KINDS = (Kind(ENTRY, {rank}),)
"""


def test_discovery_orders_by_rank_and_skips_helper_modules(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        "kinds_ok",
        {
            "a": KIND_MODULE.format(name="late", rank=20),
            "b": KIND_MODULE.format(name="early", rank=10),
            "_helpers": "X = 1\n",
        },
    )
    assert [k.name for k in discover(pkg)] == ["early", "late"]


@pytest.mark.parametrize(
    ("name", "modules", "words"),
    [
        ("kinds_none", {"a": "X = 1\n"}, "kinds_none.a defines no KINDS"),
        ("kinds_wrong", {"a": "KINDS = (1,)\n"}, "holds 1, which is not a"),
        (
            "kinds_twice",
            {
                "a": KIND_MODULE.format(name="same", rank=1),
                "b": KIND_MODULE.format(name="same", rank=2),
            },
            "fault kind 'same' is defined by both kinds_twice.a and kinds_twice.b",
        ),
    ],
)
def test_a_broken_kinds_module_stops_the_import(
    tmp_path: Path, name: str, modules: dict[str, str], words: str
) -> None:
    pkg = _package(tmp_path, name, modules)
    with pytest.raises(RegistryError, match=words):
        discover(pkg)


@pytest.mark.parametrize(
    "module",
    ["wiber_harness.faults.catalog", "wiber_harness.explore", "wiber_harness.faults.nemesis"],
)
def test_any_import_order_works(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --- the nemesis: evidence per family, against an in-memory cluster ---------------------------


def run(
    steps: list[tuple[str, str, dict[str, Any]]],
    tmp_path: Path,
    *,
    cluster: FakeCluster | None = None,
    workload: FakeWorkload | None = None,
    between: Any = None,
) -> tuple[list[Op], FakeCluster]:
    """Inject every step, run ``between(cluster)``, heal every step; the history's completions."""
    c = cluster or FakeCluster()
    history = HistoryWriter(tmp_path / "history.jsonl")
    nemesis = Nemesis(c, history, Clock(), seed=7, workload=workload)

    async def go() -> None:
        fsteps = [
            FaultStep.model_validate({"id": f"f{i}", "at": 1, "fault": k, "target": t, "params": p})
            for i, (k, t, p) in enumerate(steps)
        ]
        for s in fsteps:
            await nemesis.inject(s)
        if between is not None:
            between(c)
        await nemesis.heal_all()

    asyncio.run(go())
    history.close()
    return [op for op in history.ops if op.type != "invoke"], c


def test_the_fake_cluster_satisfies_the_protocol() -> None:
    assert isinstance(FakeCluster(), Cluster)


def test_process_kinds_signal_then_start_without_waiting(tmp_path: Path) -> None:
    ops, c = run([("kill", "consumer.1", {}), ("pause", "kafka.2", {})], tmp_path)
    inject_kill, inject_pause, heal_pause, heal_kill = (op.value for op in ops)
    assert inject_kill["resolved"] == ["consumer-1"] and inject_kill["effective"] is True
    assert inject_kill["evidence"] == {
        "nodes": {
            "consumer-1": {
                "action": "kill",
                "node": "consumer-1",
                "state": "dead",
                "effective": True,
            }
        },
        "effective": True,
    }
    assert heal_kill["evidence"]["nodes"]["consumer-1"]["waited"] is False
    assert heal_pause["evidence"]["nodes"]["kafka-2"]["action"] == "resume"
    assert [x[0] for x in c.calls] == ["kill", "pause", "resume", "start"]
    assert inject_pause["kind"] == "pause" and list(inject_pause) == [
        "fault",
        "kind",
        "target",
        "params",
        "resolved",
        "evidence",
        "effective",
    ]


def test_a_second_kill_of_a_dead_process_has_no_evidence(tmp_path: Path) -> None:
    ops, _ = run([("kill", "consumer.1", {}), ("kill", "consumer.1", {})], tmp_path)
    second = ops[1]
    assert second.type == "info" and second.value["effective"] is False
    assert second.value["error"] == "consumer-1: consumer-1 was dead"


def test_rolling_restart_waits_for_the_topic_after_each_broker(tmp_path: Path) -> None:
    ops, c = run([("rolling_restart", "kafka.all", {"interval_s": 0})], tmp_path)
    (inject,) = (op.value for op in ops)
    assert list(inject["evidence"]["nodes"]) == ["kafka-1", "kafka-2", "kafka-3"]
    assert all(ev["isr_s"] == 0.25 for ev in inject["evidence"]["nodes"].values())
    assert [x[0] for x in c.calls] == ["restart", "wait_topic_healthy"] * 3


def test_partition_disables_and_enables_every_link(tmp_path: Path) -> None:
    ops, c = run([("partition", "link(consumer, store)", {})], tmp_path)
    inject, heal = (op.value for op in ops)
    assert inject["resolved"] == ["consumer-1-store", "consumer-2-store"]
    assert inject["evidence"]["nodes"]["consumer-1-store"] == {
        "action": "link-disabled",
        "link": "consumer-1-store",
        "enabled": False,
        "effective": True,
    }
    assert heal["evidence"]["nodes"]["consumer-2-store"]["enabled"] is True
    assert c.toxiproxy.get("consumer-1-store").enabled


def test_a_link_that_does_not_move_is_a_fault_without_evidence(tmp_path: Path) -> None:
    c = FakeCluster()
    c._toxiproxy.stuck_links.add("api-store")
    ops, _ = run([("partition", "link(api, store)", {})], tmp_path, cluster=c)
    (inject,) = ops
    assert inject.type == "info" and inject.value["error"].startswith("FaultError: Toxiproxy proxy")


def test_toxics_are_added_per_direction_and_removed_exactly(tmp_path: Path) -> None:
    ops, c = run(
        [("slicer", "link(api, kafka.1)", {"stream": "upstream", "toxicity": 0.5})], tmp_path
    )
    inject, heal = (op.value for op in ops)
    ev = inject["evidence"]["nodes"]["api-kafka-1"]
    assert list(ev) == ["link", "toxics", "effective"] and ev["effective"] is True
    (name,) = ev["toxics"]
    assert name.startswith("f0-upstream-")
    assert heal["evidence"]["nodes"]["api-kafka-1"] == {"removed": [name], "effective": True}
    assert c._toxiproxy.toxics_["api-kafka-1"] == []


def test_a_toxic_toxiproxy_does_not_show_has_no_evidence(tmp_path: Path) -> None:
    c = FakeCluster()
    c._toxiproxy.drop_toxics = True
    ops, _ = run([("latency", "link(api, store)", {})], tmp_path, cluster=c)
    assert ops[0].type == "info" and ops[0].value["error"] == "api-store: no effect seen"


def test_the_toxic_sent_to_toxiproxy(tmp_path: Path) -> None:
    c = FakeCluster()
    tp = c._toxiproxy
    seen: list[dict[str, Any]] = []
    real = tp._call

    def spy(method: str, path: str, **kw: Any) -> Any:
        if method == "POST" and path.endswith("/toxics"):
            seen.append(kw["json"])
        return real(method, path, **kw)

    tp._call = spy  # type: ignore[method-assign]
    run(
        [("latency", "link(api, store)", {"latency_ms": 300, "jitter_ms": 75})], tmp_path, cluster=c
    )
    assert [(t["type"], t["stream"], t["toxicity"], t["attributes"]) for t in seen] == [
        ("latency", "upstream", 1.0, {"latency": 300, "jitter": 75}),
        ("latency", "downstream", 1.0, {"latency": 300, "jitter": 75}),
    ]


def test_failpoints_arm_then_disarm_and_restart_a_crash(tmp_path: Path) -> None:
    ops, c = run(
        [("failpoint", "consumer.1", {"name": "consumer.after_poll"})],
        tmp_path,
        between=lambda c: setattr(c.nodes["consumer-1"], "state", "dead"),
    )
    _, heal = (op.value for op in ops)
    assert c.failpoints["consumer-1"] == ["consumer.after_poll=crash@1", "consumer.after_poll=off"]
    fp = heal["evidence"]["nodes"]["consumer-1"]
    assert list(fp) == ["disarm", "crashed", "returncode", "restart", "effective"]
    assert fp["crashed"] is True and heal["effective"] is True


def test_a_crash_failpoint_that_never_fired_has_no_evidence(tmp_path: Path) -> None:
    ops, c = run(
        [
            (
                "failpoint",
                "api.1",
                {
                    "name": "api.before_produce",
                    "action": "delay",
                    "delay_ms": 5,
                    "probability": 0.5,
                },
            ),
            ("failpoint", "consumer.2", {"name": "consumer.after_commit"}),
        ],
        tmp_path,
    )
    assert c.failpoints["api-1"][0] == "api.before_produce=delay:5%0.5"
    crash_heal = next(op for op in ops if op.f == "heal" and op.value["fault"] == "f1")
    assert crash_heal.type == "info" and crash_heal.value["error"] == (
        "consumer-2: failpoint consumer.after_commit never crashed consumer-2 before the heal"
    )
    delay_heal = next(op for op in ops if op.f == "heal" and op.value["fault"] == "f0")
    assert delay_heal.type == "ok"


def test_duplicate_retry_runs_through_the_workload(tmp_path: Path) -> None:
    workload = FakeWorkload(acknowledged=5)
    ops, c = run([("duplicate_retry", "workload", {"count": 20})], tmp_path, workload=workload)
    (inject,) = (op.value for op in ops)
    assert workload.calls == [20] and c.calls == []
    assert inject["resolved"] == ["workload"]
    assert inject["evidence"] == {
        "requested": 20,
        "sent": 5,
        "same_response": 5,
        "effective": True,
    }
    ops, _ = run([("duplicate_retry", "workload", {})], tmp_path)
    assert ops[0].value["error"] == (
        "FaultError: duplicate_retry needs the workload, and this run has none"
    )


def test_duplicates_below_the_api_get_their_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wiber_harness.faults.kinds import duplicate_replay, offset_rewind

    seen: list[tuple[Any, ...]] = []

    def replay_records(c: Cluster, count: int, rng: random.Random) -> dict[str, Any]:
        seen.append(("replay", count))
        return {"effective": True}

    def rewind_offsets(
        c: Cluster, consumers: list[str], by: int | None = None, to: str | None = None
    ) -> dict[str, Any]:
        seen.append(("rewind", consumers, by, to))
        return {"effective": True}

    monkeypatch.setattr(duplicate_replay, "replay_records", replay_records)
    monkeypatch.setattr(offset_rewind, "rewind_offsets", rewind_offsets)
    run(
        [
            ("duplicate_replay", "workload", {"count": 7}),
            ("offset_rewind", "consumers", {"to": "earliest"}),
        ],
        tmp_path,
    )
    assert seen == [("replay", 7), ("rewind", ["consumer-1", "consumer-2"], None, "earliest")]


# --- explore: seeded draws stay the same ---------------------------------------------------


def test_seeded_draws_are_pinned() -> None:
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml").quick()
    space = Space.for_base(base, parse_mix("kill,partition,pause,latency,duplicate", base))
    drawn = {
        s: [(f.describe(), dict(f.params)) for f in seeded_schedule(space, s)] for s in (1, 2, 4)
    }
    assert drawn == {
        1: [
            ("latency link(api, store) at 3.5 s for 7.5 s", {"latency_ms": 300, "jitter_ms": 75}),
            ("pause consumer.2 at 8.5 s for 3 s", {}),
        ],
        2: [
            ("kill api.1 at 9 s for 3.5 s", {}),
            ("duplicate_replay workload at 13.5 s", {"count": 20}),
        ],
        4: [
            (
                "latency link(consumer, store) at 6.5 s for 7 s",
                {"latency_ms": 300, "jitter_ms": 75},
            ),
            ("partition link(api, store) at 8.5 s for 3 s", {}),
            ("kill consumer.1 at 12 s for 2 s", {}),
        ],
    }
    space = Space.for_base(base, parse_mix("restart,stop,duplicate", base), max_faults=4)
    occupied = {
        s: [(f.describe(), f.resource, f.end) for f in seeded_schedule(space, s)] for s in (1, 2)
    }
    assert occupied == {
        1: [
            ("stop store at 3.5 s for 7.5 s", "process:store", 13.0),
            ("stop kafka.random at 4.5 s for 5.5 s", "process:kafka", 12.0),
            ("stop consumer.2 at 8.5 s for 3 s", "process:consumer", 13.5),
        ],
        2: [
            ("stop store at 3 s for 2.5 s", "process:store", 7.5),
            ("restart api.1 at 9 s", "process:api", 14.0),
            ("duplicate_replay workload at 13.5 s", None, 13.5),
        ],
    }
