"""The catalog catches planted bugs: mutants of ``system/wiber`` must not survive it.

Each mutant of ``mutants/catalog.yaml`` is a realistic bug applied to a
temporary copy of the pipeline (``wiber_harness.mutants``); the pipeline's
processes run from the copy while the harness keeps the original. The fast
subset (``fast: true``: the three bugs that once escaped the quick catalog,
and more) runs in the test command, each on the quickest scenario that
catches it through a deterministic window (a failpoint, or an ordering of
faults the harness controls); a mutant that survives fails its test. The
whole list runs as a ``slow`` test and must lose at least 90% of its
non-equivalent mutants to the shipped scenarios.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from wiber_harness.mutants import Mutant, kill_rate, load_catalog, run_mutant, write_kill_table
from wiber_harness.runner import RunOptions

pytestmark = [pytest.mark.integration, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
MUTANTS = load_catalog(ROOT / "mutants" / "catalog.yaml", SCENARIOS)
FAST = [m for m in MUTANTS if m.fast]


def describe(m: Mutant, runs: Sequence[object]) -> str:
    return f"mutant {m.name} ({m.models}) survived: {runs}"


@pytest.mark.parametrize("m", FAST, ids=[m.name for m in FAST])
def test_fast_mutant_is_caught(
    m: Mutant, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    out = tmp_path_factory.mktemp("mutants")
    opts = RunOptions(out_root=out, quick=True, seed=request.config.getoption("--wiber-seed"))
    r = run_mutant(m, SCENARIOS, opts, fast=True)
    assert r.status == "killed", describe(m, r.runs)
    caught = r.caught_by
    assert caught is not None and caught.scenario == m.scenarios[0]


@pytest.mark.slow
def test_the_catalog_kills_nine_in_ten_mutants(tmp_path: Path) -> None:
    opts = RunOptions(out_root=tmp_path, quick=True)
    results = [run_mutant(m, SCENARIOS, opts) for m in MUTANTS]
    write_kill_table(results, MUTANTS, tmp_path, {"quick": True, "seed": None})
    killed, judged = kill_rate(results)
    assert killed >= 0.9 * judged, (tmp_path / "kill.md").read_text()
    assert not [r.name for r in results if r.status == "error"], (tmp_path / "kill.md").read_text()
