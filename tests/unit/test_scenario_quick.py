"""--quick keeps each fault's meaning: a step that ``outlasts`` a timeout stays longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiber_harness.errors import InvalidScenario
from wiber_harness.scenario import Scenario, load_scenario, parse_scenario
from wiber_harness.scenario.quick import (
    OUTLAST_MARGIN_S,
    OUTLAST_TIMEOUTS,
    effective_timeout_s,
)

ROOT = Path(__file__).resolve().parents[2]
FILE = "scenarios/x.yaml"

CUT = """\
name: cut
description: Cut the API off from Kafka beyond the delivery timeout.
workload:
  rate: 100
  duration: 40
timeline:
  - at: 8
    fault: partition
    target: link(api, kafka.all)
    for: 15
    outlasts: producer_delivery_timeout
"""


def load(text: str) -> Scenario:
    return parse_scenario(text, FILE)


def test_effective_timeout_is_default_then_scenario_then_command_line() -> None:
    assert effective_timeout_s("producer_delivery_timeout", {}) == 9.0
    assert effective_timeout_s("consumer_session_timeout", {}) == 10.0
    assert effective_timeout_s("store_timeout", {}) == 5.0
    assert effective_timeout_s("broker_session_timeout", {}) == 6.0
    own = {"WIBER_CONSUMER_SESSION_TIMEOUT_MS": "6000"}
    assert effective_timeout_s("consumer_session_timeout", own) == 6.0
    over = {"consumer_session_timeout_ms": "7000"}  # --set may give the lower-case name
    assert effective_timeout_s("consumer_session_timeout", own, over) == 7.0


def test_quick_clamps_the_fault_to_its_timeout_and_says_so() -> None:
    q = load(CUT).quick()
    step = q.timeline[0]
    assert step.at == 3.2
    assert step.heal_after == 9.0 + OUTLAST_MARGIN_S  # not the scaled 6 s
    # the workload is extended so the heal and the scaled time after it still fit
    assert q.workload.duration == pytest.approx(3.2 + 12 + (40 - 23) * 0.4)
    assert q.notes is not None and len(q.notes) == 2
    assert (
        "lasts 12 s, not the scaled 6 s, to outlast producer_delivery_timeout (9 s)" in (q.notes[0])
    )
    # stored as run and loaded again (check_run), the scenario and its notes are the same
    assert parse_scenario(q.to_yaml(), "again.yaml") == q


def test_quick_reads_the_effective_setting() -> None:
    own = CUT.replace(
        "workload:",
        "topology:\n  settings: {WIBER_REQUEST_TIMEOUT_S: 20, "
        "WIBER_PRODUCER_DELIVERY_TIMEOUT_MS: 14000}\nworkload:",
    )
    own = own.replace("for: 15", "for: 16")
    assert load(own).quick().timeline[0].heal_after == 17.0
    over = load(CUT).quick({"WIBER_PRODUCER_DELIVERY_TIMEOUT_MS": "4000"})
    assert over.timeline[0].heal_after == 7.0
    assert over.notes is not None and "(4 s)" in over.notes[0]


def test_quick_leaves_a_fault_that_already_outlasts_alone() -> None:
    long = CUT.replace("for: 15", "for: 30").replace("duration: 40", "duration: 60")
    q = load(long).quick()
    assert q.timeline[0].heal_after == 12.0 and q.notes is None  # 30 * 0.4 = 12 >= 9 + 3


def test_quick_clamps_heal_at_too() -> None:
    q = load(CUT.replace("for: 15", "heal_at: 23")).quick()
    assert q.timeline[0].heal_at == pytest.approx(3.2 + 12)


def test_outlasts_is_validated() -> None:
    with pytest.raises(InvalidScenario, match=r"timeline\[0\]\.outlasts: unknown timeout"):
        load(CUT.replace("producer_delivery_timeout", "delivery_timeout"))
    with pytest.raises(InvalidScenario, match="not longer than producer_delivery_timeout"):
        load(CUT.replace("for: 15", "for: 9"))
    with pytest.raises(InvalidScenario, match="needs for: N or heal_at"):
        load(CUT.replace("    for: 15\n", ""))
    bad = CUT.replace(
        "workload:", "topology:\n  settings: {WIBER_STORE_TIMEOUT_MS: 20000}\nworkload:"
    ).replace("producer_delivery_timeout", "store_timeout")
    with pytest.raises(InvalidScenario, match=r"store_timeout \(20 s\)"):
        load(bad)


def test_every_timeout_names_its_source() -> None:
    for name, t in OUTLAST_TIMEOUTS.items():
        assert (t.setting is None) != (t.fixed_ms is None), name
        assert effective_timeout_s(name, {}) > 0


def test_shipped_scenarios_that_need_it_keep_their_fault_under_quick() -> None:
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        s = load_scenario(path)
        q = s.quick()
        for step in q.timeline:
            if step.outlasts is not None:
                hold = step.heal_time - step.at  # type: ignore[operator]
                need = effective_timeout_s(step.outlasts, s.topology.settings)
                assert hold >= need + OUTLAST_MARGIN_S - 1e-9, (path.name, step.id)


def test_the_run_lists_the_notes_among_its_reasons(tmp_path: Path) -> None:
    from tests.unit.histories import H
    from wiber_harness.judge import judge_run

    h = H()
    h.store(h.send("alice", "bob"))
    r = judge_run(load(CUT).quick(), h.ops, h.reads(), tmp_path)
    assert [x for x in r.reasons if x.startswith("--quick: timeline[0]")]
    assert r.verdict is True  # a note is not a shortfall
