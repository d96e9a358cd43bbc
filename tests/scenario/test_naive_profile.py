"""The harness catches a broken pipeline it did not come with.

``tests/naive`` is another implementation of the pipeline, with other
routes and field names (``tests/naive/naive.toml`` describes it) and the
classic at-most-once bug: its consumer commits a batch's offsets before
writing it and skips a write that fails. Partitioning the consumers from
the store for a few seconds under load must therefore lose acknowledged
messages, and the delivery checker must say so (``lost`` > 0), read through
the profile's own field names. The same run shows that the harness drives
the naive pipeline correctly otherwise (most messages acknowledged, stored
and read back in order through its own routes), and a fault-free control
run (``slow``) that nothing is lost when nothing goes wrong: the violation
is the bug's, not the harness's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.pytest_plugin import summarize
from wiber_harness.scenario import parse_scenario
from wiber_harness.scenario.profile import load_profile

pytestmark = [pytest.mark.integration, pytest.mark.scenario]

PROFILE = Path(__file__).resolve().parents[1] / "naive" / "naive.toml"

PARTITION = """
name: naive-consumer-store-partition
description: Partition the naive consumers from the store for 8 s;
  commit-before-store loses what they consumed.
workload:
  rate: 100
  duration: 20
timeline:
  - at: 5
    fault: partition
    target: link(consumer, store)
    for: 8
expect:
  violation: [delivery]
"""

BASELINE = """
name: naive-baseline
description: The naive pipeline without faults keeps every promise.
workload:
  rate: 100
  duration: 15
"""


def test_naive_profile_loads_with_its_own_names() -> None:
    spec = load_profile(PROFILE)
    assert spec.name == "naive"
    assert spec.api.send_route == "/v1/send" and spec.api.key_header is None
    assert spec.fields["message_id"] == "msgId" and spec.consumer_ready == "none"
    assert spec.env["PYTHONPATH"] == str(PROFILE.parent)


def test_naive_consumer_loses_messages_when_the_store_is_partitioned(
    run_scenario: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sc = parse_scenario(PARTITION, "test_naive_profile.PARTITION")
    r = run_scenario(sc, system=load_profile(PROFILE), out_root=tmp_path_factory.mktemp("runs"))
    delivery = r.checks["delivery"]
    # the workload reached the naive API and understood its answers (a loaded
    # 2-core machine skips part of the schedule at the concurrency bound)
    assert delivery["counts"]["acknowledged"] > 0.25 * 100 * 20, summarize(r)
    assert delivery["valid"] is False, summarize(r)
    assert delivery["counts"]["lost"] > 0, summarize(r)
    assert delivery["counts"]["stored"] > delivery["counts"]["lost"], summarize(r)
    assert r.checks["ordering"]["valid"] is True, summarize(r)
    assert r.checks["ordering"]["counts"]["conversations_checked"] > 0, summarize(r)
    assert r.checks["faults"]["valid"] is True, summarize(r)
    assert r.verdict is True, summarize(r)  # the scenario expects exactly this violation


@pytest.mark.slow
def test_naive_pipeline_is_valid_without_faults(
    run_scenario: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sc = parse_scenario(BASELINE, "test_naive_profile.BASELINE")
    r = run_scenario(sc, system=load_profile(PROFILE), out_root=tmp_path_factory.mktemp("runs"))
    assert r.verdict is True, summarize(r)
    assert r.checks["delivery"]["counts"]["lost"] == 0, summarize(r)
