"""The checkers and metrics on a million-op history stay within budget.

Marked slow: building the synthetic run alone takes tens of seconds. The
budget is on CPU time, so a machine busy with a running cluster does not
fail it; ``WIBER_BENCH_BUDGET_S`` overrides the 10 s.
"""

from __future__ import annotations

import os

import pytest

from wiber_harness.bench.checkers_timing import bench


@pytest.mark.slow
def test_a_million_ops_are_checked_and_measured_within_budget() -> None:
    budget = float(os.environ.get("WIBER_BENCH_BUDGET_S", "10"))
    r = bench(1_000_000)
    assert r["ops"] >= 1_000_000
    assert r["errors"] == {}
    assert all(v is True for v in r["valid"].values()), r["valid"]
    assert r["total_cpu_s"] < budget, r


def test_the_benchmark_runs_small() -> None:
    r = bench(2_000)
    assert r["errors"] == {}
    assert all(v is True for v in r["valid"].values()), r["valid"]
