"""Catalog scenarios on the real stack: the CI subset must be valid, and a
stored run re-checked offline must reproduce its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.pytest_plugin import summarize
from wiber_harness.runner import check_run

pytestmark = [pytest.mark.integration, pytest.mark.scenario]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CI_SUBSET = ("baseline", "leader-kill", "consumer-kill-failpoint", "consumer-store-partition", "duplicate-retry")
_runs: dict[str, Any] = {}


@pytest.mark.parametrize("name", CI_SUBSET)
def test_catalog_scenario_is_valid_on_our_pipeline(name: str, run_scenario: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    r = run_scenario(SCENARIOS / f"{name}.yaml", quick=True, out_root=tmp_path_factory.mktemp("runs"))
    _runs[name] = r
    assert r.verdict is True, summarize(r)


def test_check_reproduces_the_verdict_of_a_stored_run() -> None:
    if not _runs:
        pytest.skip("no catalog scenario ran in this session (run the whole module)")
    for name, r in _runs.items():
        again = check_run(r.run_dir)
        assert again.verdict == r.verdict, name
        assert {k: v["valid"] for k, v in again.checks.items()} == {k: v["valid"] for k, v in r.checks.items()}
        assert {k: v["counts"] for k, v in again.checks.items()} == {k: v["counts"] for k, v in r.checks.items()}
