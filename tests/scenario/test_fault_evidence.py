"""A fault without evidence proves nothing: the verdict is "unknown", never "valid".

The nemesis records, for every inject and heal, what it saw that proves the
fault took effect; :func:`~wiber_harness.faults.nemesis.fault_evidence` turns a
missing proof into a problem and :func:`~wiber_harness.judge.judge_run`
turns a problem into "unknown" (exit 2), unless a violation was found
anyway. The unit tests feed ``judge_run`` hand-written histories; the
scenario tests make real faults miss on the real stack: a second kill of a
consumer that is already dead (and whose first heal then finds it running
again), and a crash failpoint on a hit count that is never reached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.histories import H
from wiber_harness.faults.evidence import fault_evidence
from wiber_harness.history import NEMESIS, Op
from wiber_harness.judge import judge_run
from wiber_harness.scenario import Scenario, parse_scenario
from wiber_harness.verdict import EXIT_CODES as EXIT

BASE = """
name: evidence
description: A hand-written history with one fault.
workload:
  rate: 10
  duration: 10
timeline:
  - at: 2
    fault: kill
    target: consumer.1
    for: 3
"""


def nemesis(h: H, f: str, *, effective: bool, error: str | None = None) -> None:
    """One nemesis op pair as the nemesis writes it (``ok`` + effective, or ``info`` + reason)."""
    h._next_id += 1
    value: dict[str, Any] = {"fault": "0-kill", "kind": "kill", "target": "consumer.1"}
    h.ops.append(Op(h._next_id, "invoke", f, NEMESIS, h.tick(), dict(value)))
    done = {
        **value,
        "resolved": ["consumer-1"],
        "evidence": {"effective": effective},
        "effective": effective,
    }
    if error:
        done["error"] = error
    h.ops.append(Op(h._next_id, "ok" if effective else "info", f, NEMESIS, h.tick(), done))


def history(heal_effective: bool, lose_one: bool = False) -> H:
    h = H()
    keys = [h.send("alice", "bob") for _ in range(5)]
    nemesis(h, "inject", effective=True)
    keys += [h.send("bob", "alice") for _ in range(5)]
    nemesis(
        h,
        "heal",
        effective=heal_effective,
        error=None if heal_effective else "consumer-1: already running",
    )
    for k in keys[: -1 if lose_one else None]:
        h.store(k)
    return h


@pytest.fixture
def scenario() -> Scenario:
    return parse_scenario(BASE, "evidence.yaml")


def test_every_fault_with_evidence_is_valid(scenario: Scenario, tmp_path: Path) -> None:
    h = history(heal_effective=True)
    assert fault_evidence(h.ops) == (True, [])
    r = judge_run(scenario, h.ops, h.reads(), tmp_path)
    assert r.verdict is True and r.exit_code == 0
    assert r.checks["faults"]["valid"] is True


def test_an_ineffective_fault_makes_the_run_unknown(scenario: Scenario, tmp_path: Path) -> None:
    h = history(heal_effective=False)
    ok, problems = fault_evidence(h.ops)
    assert not ok and problems == ["heal kill consumer.1: consumer-1: already running"]
    r = judge_run(scenario, h.ops, h.reads(), tmp_path)
    assert r.verdict == "unknown" and r.exit_code == EXIT["unknown"] == 2
    assert r.checks["delivery"]["valid"] is True  # the system looked fine: still no proof
    assert r.checks["faults"]["valid"] == "unknown"
    assert r.checks["faults"]["counts"]["without_evidence"] == 1
    assert any(x.startswith("fault without evidence: heal kill consumer.1") for x in r.reasons)
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["verdict"] == "unknown" and stored["exit_code"] == 2


def test_an_inject_without_a_completion_counts_as_no_evidence(
    scenario: Scenario, tmp_path: Path
) -> None:
    h = history(heal_effective=True)
    # the nemesis crashed mid-inject: only the invoke made it into the history (a
    # completion without its invoke would be a malformed history, not this case)
    h._next_id += 1
    h.ops.append(
        Op(
            h._next_id,
            "invoke",
            "inject",
            NEMESIS,
            h.tick(),
            {"fault": "1-kill", "kind": "kill", "target": "consumer.1"},
        )
    )
    r = judge_run(scenario, h.ops, h.reads(), tmp_path)
    assert r.verdict == "unknown"


def test_a_violation_found_anyway_stands(scenario: Scenario, tmp_path: Path) -> None:
    h = history(heal_effective=False, lose_one=True)
    r = judge_run(scenario, h.ops, h.reads(), tmp_path)
    assert r.verdict is False and r.exit_code == 1
    assert r.checks["delivery"]["counts"]["lost"] == 1


def test_an_unsafe_scenario_without_evidence_is_not_a_pass(tmp_path: Path) -> None:
    sc = parse_scenario(
        BASE.replace("description:", "expect:\n  violation: [delivery]\ndescription:"),
        "unsafe.yaml",
    )
    r = judge_run(
        sc, history(heal_effective=False).ops, history(heal_effective=False).reads(), tmp_path
    )
    # the fault did not happen and nothing was found: that proves nothing either way
    assert r.verdict == "unknown" and r.exit_code == 2


def test_an_unsafe_scenario_that_found_its_violation_stands_without_evidence(
    tmp_path: Path,
) -> None:
    sc = parse_scenario(
        BASE.replace("description:", "expect:\n  violation: [delivery]\ndescription:"),
        "unsafe.yaml",
    )
    h = history(heal_effective=False, lose_one=True)
    r = judge_run(sc, h.ops, h.reads(), tmp_path)
    assert r.verdict is True  # the unsafe setup did break the promise it must break


# --- the real stack: faults that miss -----------------------------------------------------

MISSES = {
    # the second kill finds consumer-1 already dead; its heal starts it, so the
    # first kill's heal then finds it running: two faults without evidence
    "double-kill": """
name: evidence-double-kill
description: Kill consumer 1 at 5 s for 10 s and again at 7 s; the second kill hits a dead process.
workload:
  rate: 100
  duration: 20
timeline:
  - at: 5
    fault: kill
    target: consumer.1
    for: 10
  - at: 7
    fault: kill
    target: consumer.1
    for: 3
""",
    # consumer-1 handles a few thousand records at most: hit 1000000 never comes
    "failpoint-never-hit": """
name: evidence-failpoint-never-hit
description: Arm a crash failpoint on consumer 1 that would fire on the millionth hit;
  it never fires.
workload:
  rate: 100
  duration: 15
timeline:
  - at: 3
    fault: failpoint
    target: consumer.1
    for: 8
    params:
      name: consumer.after_store_before_commit
      action: crash
      hit: 1000000
""",
}


@pytest.mark.integration
@pytest.mark.scenario
@pytest.mark.parametrize("case", sorted(MISSES))
def test_a_fault_that_misses_makes_run_exit_2(case: str, tmp_path: Path) -> None:
    from wiber_harness.cli import main

    f = tmp_path / f"{case}.yaml"
    f.write_text(MISSES[case])
    with pytest.raises(SystemExit) as e:
        main(["run", str(f), "--out", str(tmp_path / "runs")])
    result = json.loads((tmp_path / "runs" / "latest" / "result.json").read_text())
    checks = result["checks"]
    assert e.value.code == 2, result["reasons"]
    assert result["verdict"] == "unknown"
    assert (
        checks["faults"]["valid"] == "unknown"
        and checks["faults"]["counts"]["without_evidence"] >= 1
    )
    # the pipeline itself was fine: the unknown comes from the fault alone
    assert checks["delivery"]["valid"] is True, checks["delivery"]
    assert any(r.startswith("fault without evidence") for r in result["reasons"]), result["reasons"]
