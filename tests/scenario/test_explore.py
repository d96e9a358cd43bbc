"""Random fault schedules: drawn by one definition, stored so they replay, shrunk when they break.

The first tests need no stack: hypothesis checks the schedule generator
(every schedule is a valid scenario, faults on one resource never overlap,
the stored file loads back equal), and a fake run (a pure function of the
timeline that "loses messages" when the consumers lose their store) checks
exploring, shrinking and the CLI. The last test runs the real stack on an
unsafe configuration (consumers that skip a failed store write, with a
short store timeout so that any write during a cut fails) and needs
at most 3 hypothesis examples to find the loss, shrinks it with at most 2
re-runs and replays the stored reproducer with ``wiber-harness run``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiber_harness.errors import InvalidScenario
from wiber_harness.explore import (
    DEFAULT_MIX,
    MIN_WINDOW_S,
    ExploreConfig,
    Explorer,
    Fault,
    Space,
    explore,
    hypothesis_search,
    parse_mix,
    schedule_scenario,
    schedules,
    seeded_schedule,
    shrink_and_store,
    violation_kinds,
)
from wiber_harness.judge import RunResult
from wiber_harness.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BASE = load_scenario(BASELINE).quick()
LOSS_KINDS = (("delivery", "lost"), ("delivery", "unreadable"))
SPACE = Space.for_base(BASE, parse_mix(DEFAULT_MIX, BASE))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(SPACE), st.integers(1, 10**6))
def test_every_drawn_schedule_is_a_valid_scenario_that_replays(
    faults: tuple[Fault, ...], seed: int
) -> None:
    assert 1 <= len(faults) <= SPACE.max_faults
    sc = schedule_scenario(BASE, faults, name="baseline-x1", seed=seed)
    assert sc.workload.seed == seed and len(sc.timeline) == len(faults)
    for f in faults:
        assert f.at >= 2.0 and (
            f.hold is None or (f.hold >= MIN_WINDOW_S and f.at + f.hold <= sc.workload.duration)
        )
    for i, a in enumerate(faults):
        for b in faults[i + 1 :]:
            assert a.resource is None or a.resource != b.resource or a.end <= b.at or b.end <= a.at
    # the stored file is the scenario: loading it gives the same faults, times and seed
    from wiber_harness.scenario import parse_scenario

    assert parse_scenario(sc.to_yaml()) == sc


def test_seeded_schedules_are_reproducible() -> None:
    assert seeded_schedule(SPACE, 7) == seeded_schedule(SPACE, 7)
    assert len({seeded_schedule(SPACE, s) for s in range(20)}) > 15


def test_a_pinned_target_is_always_used() -> None:
    space = Space.for_base(BASE, parse_mix("partition@link(consumer, store)", BASE))
    for s in range(20):
        assert {(f.kind, f.target) for f in seeded_schedule(space, s)} == {
            ("partition", "link(consumer, store)")
        }


@pytest.mark.parametrize(
    ("mix", "words"),
    [
        ("kill,partiton", "'partiton' is not a fault family; did you mean 'partition'?"),
        ("kill@link(api, store)", "kill needs a process target"),
        ("pause@consumer.9", "'consumer.9' does not exist"),
    ],
)
def test_a_bad_mix_is_one_sentence(mix: str, words: str) -> None:
    with pytest.raises(InvalidScenario, match=r"^--faults: ") as e:
        parse_mix(mix, BASE)
    assert words in str(e.value)


def test_violation_kinds_order_and_fallback() -> None:
    checks: dict[str, dict[str, Any]] = {
        "convergence": {"valid": False, "counts": {}},
        "delivery": {"valid": False, "counts": {"lost": 3, "duplicated": 0}},
        "ordering": {"valid": True, "counts": {"realtime_violations": 0}},
        "faults": {"valid": "unknown", "counts": {}},
        "other": {"valid": False, "counts": {"x": 1}},
    }
    assert violation_kinds(checks) == (
        ("delivery", "lost"),
        ("convergence", "not_drained"),
        ("other", "violation"),
    )


# --- a fake pipeline: loses messages iff a consumer's store link is cut ---------------------


class FakeRuns:
    """RunResults as a pure function of the timeline (no stack)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ran: list[Scenario] = []

    def __call__(self, sc: Scenario) -> RunResult:
        self.ran.append(sc)
        cut = any(
            s.fault == "partition" and "store" in str(s.target) and "consumer" in str(s.target)
            for s in sc.timeline
        )
        rewound = any(s.fault == "offset_rewind" for s in sc.timeline)
        ok = not (cut or rewound)
        checks = {
            "delivery": {"valid": ok, "counts": {"lost": int(cut), "duplicated": int(rewound)}},
            "ordering": {"valid": True, "counts": {}},
        }
        return RunResult(self.root / sc.name, sc.name, ok, [], checks, {})


def test_explore_finds_shrinks_and_stores_a_reproducer(tmp_path: Path) -> None:
    runs = FakeRuns(tmp_path)
    cfg = ExploreConfig(
        base=BASELINE,
        faults="partition,kill,latency",
        runs=20,
        seed=1,
        quick=True,
        out=tmp_path / "x",
        max_reruns=6,
        settings={"WIBER_CONSUMER_ON_STORE_ERROR": "skip"},
    )
    report = explore(cfg, runs)
    assert report.exit_code == 1 and report.found is not None and report.shrunk is not None
    assert report.minimal is not None and report.minimal.name.startswith("minimal-")
    found = report.found.scenario
    assert len(runs.ran) == len(report.outcomes) <= cfg.runs + cfg.max_reruns
    assert report.shrunk.reruns <= cfg.max_reruns
    # the reproducer: the cut consumer-store link alone, shorter, still losing messages
    minimal = load_scenario(report.minimal)
    assert [s.fault for s in minimal.timeline] == ["partition"]
    assert "store" in str(minimal.timeline[0].target)
    assert len(minimal.timeline) <= len(found.timeline)
    assert minimal.topology.settings == {"WIBER_CONSUMER_ON_STORE_ERROR": "skip"}
    assert minimal.workload.seed == found.workload.seed
    assert runs(minimal).verdict is False
    text = report.minimal.read_text()
    assert text.startswith("# minimal reproducer of delivery/lost found by ")
    assert "wiber-harness run THIS_FILE" in text
    summary = json.loads((tmp_path / "x" / "explore.json").read_text())
    assert summary["violation"]["kind"] == "delivery/lost" and summary["exit_code"] == 1
    # every schedule that ran is stored, and replays as the scenario that ran
    for o in report.outcomes:
        assert load_scenario(o.path) == o.scenario


def test_shrinking_keeps_the_violation_kind(tmp_path: Path) -> None:
    runs = FakeRuns(tmp_path)
    ex = Explorer(BASE, tmp_path, runs)
    faults = (
        Fault(3.0, "offset_rewind", "consumers", None, (("by", 50),)),
        Fault(4.0, "partition", "link(consumer.1, store)", 8.0),
        Fault(
            5.0, "latency", "link(api, kafka.all)", 6.0, (("latency_ms", 100), ("jitter_ms", 25))
        ),
    )
    found = ex.attempt(ex.scenario(faults, 5, "baseline-x5"))
    assert found.kinds == (("delivery", "lost"), ("delivery", "duplicated"))
    shrunk, path = shrink_and_store(ex, found, faults, 5, max_reruns=8)
    # dropping the partition would change the kind to duplicated: rejected
    assert [f.kind for f in shrunk.faults] == ["partition"]
    assert shrunk.faults[0].hold is not None and shrunk.faults[0].hold < 8.0
    assert shrunk.reruns <= 8 and path.exists()


def test_explore_with_every_run_valid_exits_0(tmp_path: Path) -> None:
    cfg = ExploreConfig(
        base=BASELINE,
        faults="latency@link(api, kafka.all)",
        runs=3,
        seed=1,
        quick=True,
        out=tmp_path,
    )
    report = explore(cfg, FakeRuns(tmp_path))
    assert report.exit_code == 0 and report.found is None and len(report.outcomes) == 3


def test_cli_rejects_a_bad_mix_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from wiber_harness.cli import main

    with pytest.raises(SystemExit) as e:
        main(
            [
                "explore",
                "--faults",
                "kill,partiton",
                "--runs",
                "1",
                "--seed",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
    assert e.value.code == 2
    assert "--faults: 'partiton' is not a fault family" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(
            [
                "explore",
                "--set",
                "WIBER_CONSUMER_ON_STORE_ERROR=sometimes",
                "--runs",
                "1",
                "--seed",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
    assert e.value.code == 2
    assert "WIBER_CONSUMER_ON_STORE_ERROR is 'sometimes'" in capsys.readouterr().err


# --- the real stack ---------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.scenario
def test_explore_finds_shrinks_and_replays_a_lost_message_bug(tmp_path: Path) -> None:
    from wiber_harness.cli import main
    from wiber_harness.runner import RunOptions, run_scenario

    # a 1 s store timeout makes any write during a cut (>= 2 s) fail, rather than
    # wait out a short partition in server selection and succeed after the heal
    settings_ = {"WIBER_CONSUMER_ON_STORE_ERROR": "skip", "WIBER_STORE_TIMEOUT_MS": "1000"}
    # cuts of 6 s and more: a consumer that meets a cut may stall a few seconds
    # before its next write, so a shorter cut does not always make one fail
    space = Space.for_base(
        BASE, parse_mix("partition@link(consumer, store)", BASE), max_faults=2, min_window=6.0
    )
    ex = Explorer(
        BASE,
        tmp_path / "explore",
        lambda sc: run_scenario(sc, RunOptions(out_root=tmp_path / "runs")),
        settings_,
    )
    hit = hypothesis_search(ex, space, max_examples=3)
    assert hit is not None, "\n".join(
        f"{o.scenario.name}: {o.verdict} {o.scenario.description}" for o in ex.outcomes
    )
    found, faults, seed = hit
    assert len(ex.outcomes) <= 3
    # the planted bug skips a failed write: a cut during the main insert loses the message
    # ("lost"), one during the read-view write leaves it stored but not readable ("unreadable")
    assert found.kinds[0] in LOSS_KINDS, found.kinds
    shrunk, minimal = shrink_and_store(ex, found, faults, seed, max_reruns=2, min_window=6.0)
    assert len(ex.outcomes) <= 5 and len(shrunk.faults) <= len(faults)
    assert found.kinds[0] in shrunk.outcome.kinds
    # `run` on the stored file reproduces the violation (exit 1) from the file alone
    with pytest.raises(SystemExit) as e:
        main(["run", str(minimal), "--out", str(tmp_path / "replay")])
    assert e.value.code == 1
    result = json.loads((tmp_path / "replay" / "latest" / "result.json").read_text())
    counts = result["checks"]["delivery"]["counts"]
    assert counts["lost"] + counts["unreadable"] > 0, result["checks"]["delivery"]
    print(
        f"found by {found.scenario.name} after {ex.outcomes.index(found) + 1} runs: "
        f"{found.scenario.description}"
    )
    print(
        f"minimal ({len(faults)} -> {len(shrunk.faults)} faults, {shrunk.reruns} re-runs): "
        f"{minimal}"
    )
    print(f"replay: lost={counts['lost']} unreadable={counts['unreadable']}")
