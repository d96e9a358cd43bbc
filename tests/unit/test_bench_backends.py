"""``bench --backend``: the same-rate phase's figures, compose's applicability, the side-by-side
table of backends (:mod:`wiber_harness.bench.backends`) and the CLI's checks. Pure parts only
(no cluster); the phases run on a stack in ``tests/integration/test_compose.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from wiber_harness.bench import BenchConfig, BenchResult, write_document
from wiber_harness.bench.applicability import (
    COMPOSE_REASON,
    SAME_RATE_ONLY_REASON,
    backend_reason,
)
from wiber_harness.bench.backends import backends_document, backends_lines, write_backends
from wiber_harness.bench.document import BenchData, build_document
from wiber_harness.bench.suite import figure_names
from wiber_harness.errors import HarnessError

from .clirun import run_cli
from .test_bench_report import bench_data, measure


def _with_same_rate(d: BenchData, backend: str, ack99: tuple[float, ...]) -> BenchData:
    d.config = dataclasses.replace(d.config, backend=backend)
    d.same_rate = [measure("single", 150.0, ack99=a, tag=f"same{i}") for i, a in enumerate(ack99)]
    return d


def test_compose_measures_only_the_same_rate_figures() -> None:
    assert backend_reason("local") is None
    assert backend_reason("compose") == COMPOSE_REASON
    assert backend_reason("compose", same_rate_only=True) == COMPOSE_REASON
    assert backend_reason("local", same_rate_only=True) == SAME_RATE_ONLY_REASON


def test_the_config_knows_its_backends_and_the_same_rate_load(tmp_path: Path) -> None:
    quick = BenchConfig.preset(tmp_path, quick=True, backend="compose")
    assert (quick.backend, quick.same_rate, quick.same_rate_s) == ("compose", 150.0, 15.0)
    assert BenchConfig.preset(tmp_path).same_rate_s == 30.0
    with pytest.raises(HarnessError, match="backend must be one of local, compose"):
        BenchConfig.preset(tmp_path, backend="attach")
    with pytest.raises(HarnessError, match="same_rate must be > 0"):
        BenchConfig.preset(tmp_path, same_rate=0.0)


def test_a_compose_bench_json_has_same_rate_figures_and_nothing_else(tmp_path: Path) -> None:
    d = BenchData(BenchConfig.preset(tmp_path / "o", quick=True, backend="compose"), _now())
    d.not_applicable = dict.fromkeys(figure_names(d), COMPOSE_REASON)
    d.same_rate = [measure("single", 150.0, ack99=a) for a in (100.0, 200.0)]
    doc = build_document(d)
    assert doc["backend"] == "compose"
    assert all(f["not_applicable"] == COMPOSE_REASON for f in doc["figures"])
    assert all(c["not_applicable"] == COMPOSE_REASON for c in doc["context"].values())
    sr = doc["same_rate"]
    assert (sr["backend"], sr["rate"], sr["duration_s"], len(sr["runs"])) == ("compose", 150, 15, 2)
    # the test's measure() has p50 = p99 / 5: samples 20 and 40, median 30
    assert sr["figures"]["ack_p50_ms"] == {
        "value": 30.0,
        "spread": 10.0,
        "samples": [20.0, 40.0],
        "n": 2,
        "unit": "ms",
    }
    assert "ack_hist" not in sr["runs"][0]
    # figures that do not apply are not missing: exit 0
    path = write_document(doc, tmp_path / "o")
    assert BenchResult(tmp_path / "o", path, None, doc).exit_code == 0


def test_a_same_rate_load_that_lost_a_message_is_a_broken_promise(tmp_path: Path) -> None:
    d = BenchData(BenchConfig.preset(tmp_path, quick=True), _now())
    d.same_rate = [measure("single", 150.0, lost=2, tag="same1"), None]
    assert build_document(d)["promises"] == [
        "same-rate same1: 2 acknowledged messages never stored"
    ]


def test_the_backends_table_puts_each_backend_beside_the_first(tmp_path: Path) -> None:
    local = build_document(_with_same_rate(bench_data(tmp_path / "a"), "local", (50.0, 70.0)))
    compose = build_document(_with_same_rate(bench_data(tmp_path / "b"), "compose", (90.0, 150.0)))
    doc = backends_document([("a", local), ("b", compose)])
    assert doc["reference"] == "local" and doc["rate"] == 150.0
    rows = {r["backend"]: r for r in doc["backends"]}
    assert rows["local"]["figures"]["ack_p50_ms"] == 12.0  # median of 10 and 14
    assert rows["compose"]["figures"]["ack_p50_ms"] == 24.0
    assert rows["compose"]["vs_first"]["ack_p50_ms"] == 2.0
    assert "vs_first" not in rows["local"]
    lines = backends_lines(doc)
    assert lines[0].startswith("same rate: 150 msg/s for 15 s x 2")
    assert lines[-1].split()[:2] == ["compose/local", "2x"]
    assert (tmp_path / "backends.json") == write_backends(doc, tmp_path)


def test_backends_measured_at_different_loads_are_not_compared(tmp_path: Path) -> None:
    local = build_document(_with_same_rate(bench_data(tmp_path / "a"), "local", (50.0,)))
    other = _with_same_rate(bench_data(tmp_path / "b"), "compose", (50.0,))
    other.config = dataclasses.replace(other.config, same_rate=300.0)
    with pytest.raises(ValueError, match="not comparable"):
        backends_document([("a", local), ("b", build_document(other))])
    with pytest.raises(ValueError):
        backends_document([])


def test_repeating_both_backend_and_system_is_a_usage_error(tmp_path: Path) -> None:
    wiber = Path(__file__).resolve().parents[2] / "profiles" / "wiber.toml"
    tutorial = Path(__file__).resolve().parents[2] / "tests" / "tutorial" / "tutorial.toml"
    r = run_cli(
        "bench",
        "--backend",
        "local",
        "--backend",
        "compose",
        "--system",
        str(wiber),
        "--system",
        str(tutorial),
        "--out",
        str(tmp_path),
    )
    assert r.code == 2
    assert "repeat one of them, not both" in r.err


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
