"""The harness judges a tutorial-shaped pipeline without false alarms, and finds its bug.

``tests/tutorial`` is the most common shape of a "REST + Kafka + MongoDB"
pipeline, written the way the tutorials write it (``tests/tutorial/tutorial.toml``
describes it): it answers 200 with its own uuid, keeps no idempotency key, stores
the message dict as produced (no conversation id, no Kafka position, no write
time) and reads a conversation back as one bare, sorted JSON list. Its producer
blocks inside an ``async def`` endpoint, so sends queue up and some time out;
its consumer auto-commits past a failed save.

* A fault-free baseline must be VALID: no stored message is *unexpected* (a
  send that timed out but was stored is matched by its content tag and counted
  *recovered*), ordering is checked on every conversation, convergence says its
  stored times are approximate.
* Partitioning the consumers from the store must lose messages (its real bug)
  and nothing else: ``lost`` > 0, no other delivery anomaly, ordering and
  convergence not violated, and the run's reasons name the fault the losses
  fall in.

Both run the shipped scenarios in their quick form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.checkers.delivery import VIOLATIONS
from wiber_harness.pytest_plugin import summarize
from wiber_harness.scenario.profile import load_profile

pytestmark = [pytest.mark.integration, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "tests" / "tutorial" / "tutorial.toml"


def run(run_scenario: Any, name: str, out: Path) -> Any:
    return run_scenario(
        ROOT / "scenarios" / f"{name}.yaml", system=load_profile(PROFILE), quick=True, out_root=out
    )


def test_tutorial_baseline_is_valid_without_false_alarms(
    run_scenario: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    r = run(run_scenario, "baseline", tmp_path_factory.mktemp("runs"))
    d, o, c = (r.checks[k] for k in ("delivery", "ordering", "convergence"))
    assert r.verdict is True, summarize(r)
    assert d["counts"]["unexpected"] == 0 and d["counts"]["lost"] == 0, summarize(r)
    # everything stored was attributed: by the returned id, or by tag when the send timed out
    assert d["counts"]["stored_keys"] == d["counts"]["stored"], summarize(r)
    assert d["counts"]["recovered"] == d["counts"]["by_tag"], summarize(r)
    assert o["valid"] is True and o["counts"]["conversations_unknown"] == 0, summarize(r)
    assert o["counts"]["conversations_checked"] > 0, summarize(r)
    assert "approximate" in c["details"], summarize(r)
    assert "position" in d["details"]["skipped"], summarize(r)


def test_tutorial_loses_messages_when_the_store_is_partitioned_and_nothing_else(
    run_scenario: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    r = run(run_scenario, "consumer-store-partition", tmp_path_factory.mktemp("runs"))
    d = r.checks["delivery"]
    assert r.verdict is False, summarize(r)
    assert d["valid"] is False and d["counts"]["lost"] > 0, summarize(r)
    others = {k: d["counts"][k] for k in VIOLATIONS if k != "lost" and d["counts"][k]}
    assert not others, summarize(r)
    for name in ("ordering", "convergence", "redelivery", "faults"):
        assert r.checks[name]["valid"] is not False, summarize(r)
    assert any("lost" in x and "fault 0-partition" in x for x in r.reasons), summarize(r)
