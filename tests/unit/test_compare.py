"""The regression gate: broken promises, regressions beyond noise, inputs it cannot use."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.unit.runfolders import Fault, make_run
from wiber_harness.cli import cli
from wiber_harness.report import (
    BENCH_SCHEMA,
    CompareResult,
    Figure,
    build_report,
    build_summary,
    compare,
    load_runs,
    write_summary,
)
from wiber_harness.report.compare import compare_figure

LEADER = Fault(6, 10)


def suite(root: Path, seeds: tuple[int, ...], *, rate: float = 20.0, lost: int = 0) -> Path:
    """Repeats of baseline and leader-kill; ``lost`` is planted in leader-kill's first repeat."""
    for i, seed in enumerate(seeds):
        make_run(root / "runs", "baseline", rate=rate, duration=15, seed=seed)
        make_run(
            root / "runs",
            "leader-kill",
            rate=rate,
            duration=18,
            fault=LEADER,
            seed=seed,
            lost=lost if i == 0 else 0,
        )
    # the summary alone: compare never needs the HTML (test_report covers that)
    write_summary(build_summary(load_runs([root / "runs"])), root / "summary.json")
    return root / "summary.json"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite(tmp_path_factory.mktemp("baseline"), (1, 2, 3))


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite(tmp_path_factory.mktemp("honest"), (4, 5, 6))


def doc(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_two_honest_runs_of_the_same_load_pass(baseline: Path, honest: Path) -> None:
    r = compare(baseline, honest)
    assert r.exit_code == 0, r.lines()
    assert not r.broken and not r.regressions and not r.problems
    # every default figure of both scenarios was compared, as medians of 3 against 3
    assert len(r.deltas) == 18
    assert {(d.n_baseline, d.n_current) for d in r.deltas} == {(3, 3)}
    assert r.lines()[0].startswith("compare OK")


def test_the_same_folder_compares_clean(baseline: Path) -> None:
    assert compare(baseline.parent, baseline.parent).exit_code == 0  # a folder holding summary.json


def test_a_planted_lost_message_in_current_fails(baseline: Path, tmp_path: Path) -> None:
    current = suite(tmp_path, (4, 5, 6), lost=1)
    r = compare(baseline, current)
    assert r.exit_code == 1
    assert any(b.startswith("leader-kill: verdict violation") for b in r.broken)
    assert any(b.startswith("leader-kill: lost = 1 in run ") for b in r.broken)
    assert not r.regressions  # a broken promise, not a performance regression


def test_lost_in_the_summary_alone_fails(baseline: Path, honest: Path) -> None:
    # even if a verdict said valid, an acknowledged message that was not stored is broken
    d = doc(honest)
    d["runs"][0]["metrics"]["duplicated"] = 2.0
    r = compare(baseline, d)
    assert r.exit_code == 1
    assert r.broken == [
        f"{d['runs'][0]['scenario']}: duplicated = 2 in run {d['runs'][0]['id']} "
        "(acknowledged messages must be stored exactly once)"
    ]


def test_an_unsafe_scenario_may_lose_messages(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "unsafe-acks1", rate=20, duration=15, lost=2, violation=True)
    build_report([tmp_path / "runs"], tmp_path)
    r = compare(tmp_path, tmp_path)
    assert r.exit_code == 0, r.lines()


def test_a_throughput_drop_beyond_the_spread_fails(baseline: Path, tmp_path: Path) -> None:
    current = suite(tmp_path, (4, 5, 6), rate=10)  # half the acknowledged/s
    r = compare(baseline, current)
    assert r.exit_code == 1
    assert not r.broken
    regressed = {(d.group, d.figure.name) for d in r.regressions}
    assert ("baseline", "throughput") in regressed and ("leader-kill", "throughput") in regressed
    d = next(d for d in r.regressions if (d.group, d.figure.name) == ("baseline", "throughput"))
    assert d.change_pct is not None and d.change_pct < -40
    assert d.spread is not None and d.bound >= 4 * d.spread
    s = d.sentence()
    assert "baseline: throughput regressed" in s and "higher is better" in s
    assert "spread (MAD)" in s and "medians of 3 vs 3 runs" in s
    assert any("regression: baseline: throughput regressed" in line for line in r.lines())


def test_small_noise_on_single_runs_passes_and_large_drops_fail(baseline: Path) -> None:
    base = doc(baseline)
    one = copy.deepcopy(base)
    one["runs"] = [r for r in one["runs"] if r["id"] == base["runs"][0]["id"]]
    one["scenarios"] = {
        k: v for k, v in one["scenarios"].items() if k == base["runs"][0]["scenario"]
    }
    cur = copy.deepcopy(one)
    m = cur["runs"][0]["metrics"]
    m["throughput"] *= 0.9  # -10%: within 30%
    m["ack_p99_ms"] *= 1.2
    assert compare(one, cur).exit_code == 0
    m["throughput"] *= 0.6  # -46% in all
    r = compare(one, cur)
    assert r.exit_code == 1 and [d.figure.name for d in r.regressions] == ["throughput"]
    assert r.regressions[0].bound_from == "30% of baseline"
    assert r.regressions[0].spread is None and "single runs" in r.regressions[0].sentence()
    # --threshold widens every figure's percentage
    assert compare(one, cur, threshold_pct=60).exit_code == 0


def test_noise_bound_is_the_largest_of_threshold_mad_and_floor() -> None:
    tput = Figure("throughput", "higher", 30.0, 0.0, "ack/s")
    # tight baseline: 30% of 100 = 30 beats 4 x MAD (4 x 1)
    d = compare_figure("s", tput, [99, 100, 101], [75], mad_k=4)
    assert (d.bound, d.bound_from, d.regressed) == (30.0, "30% of baseline", False)
    # noisy baseline: 4 x MAD = 4 x 10 = 40 > 30
    d = compare_figure("s", tput, [90, 100, 110], [65], mad_k=4)
    assert (d.bound, d.bound_from, d.regressed) == (40.0, "4x MAD", False)
    assert compare_figure("s", tput, [90, 100, 110], [55], mad_k=4).regressed
    # improvements never fail; direction matters
    assert not compare_figure("s", tput, [100], [500], mad_k=4).regressed
    lat = Figure("ack_p99_ms", "lower", 50.0, 25.0, "ms")
    assert not compare_figure("s", lat, [10], [30], mad_k=4).regressed  # +20 ms < floor 25 ms
    d = compare_figure("s", lat, [100], [160], mad_k=4)
    assert d.regressed and d.worse_by == 60 and d.bound_from == "50% of baseline"


def test_a_missing_file_cannot_be_compared(baseline: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "summary.json"
    r = compare(baseline, missing)
    assert r.exit_code == 2
    assert len(r.problems) == 1
    sentence = r.problems[0]
    assert str(missing) in sentence and "wiber-harness report" in sentence
    assert "\n" not in sentence and not re.search(r"\.\s+[A-Z]", sentence)  # one sentence


def test_other_inputs_that_cannot_be_compared(baseline: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "cannot read it as JSON" in compare(baseline, bad).problems[0]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "wiber-summary/9", "runs": [], "scenarios": {}}))
    r = compare(baseline, other)
    assert (
        r.exit_code == 2
        and "schema 'wiber-summary/9' is neither 'wiber-summary/1'" in r.problems[0]
    )
    # a scenario of the baseline missing from current
    d = doc(baseline)
    d["scenarios"].pop("leader-kill")
    d["runs"] = [x for x in d["runs"] if x["scenario"] != "leader-kill"]
    r = compare(baseline, d)
    assert r.exit_code == 2 and "lacks leader-kill" in r.problems[0]
    # a summary against a bench file
    bench = {"schema": BENCH_SCHEMA, "figures": []}
    r = compare(baseline, bench)
    assert r.exit_code == 2 and "compare two of one kind" in r.problems[0]
    # an empty folder
    (tmp_path / "empty").mkdir()
    assert "holds no summary.json" in compare(baseline, tmp_path / "empty").problems[0]


def test_an_undecided_current_scenario_cannot_pass(baseline: Path, honest: Path) -> None:
    d = doc(honest)
    d["scenarios"]["baseline"]["verdict"] = "unknown"
    d["scenarios"]["baseline"]["reasons"] = ["fault without evidence: kill"]
    r = compare(baseline, d)
    assert r.exit_code == 2 and "baseline: verdict unknown" in r.problems[0]
    d["scenarios"]["leader-kill"]["verdict"] = False  # a violation outranks "cannot decide"
    assert compare(baseline, d).exit_code == 1


def test_new_scenarios_are_noted_not_failed(baseline: Path, honest: Path) -> None:
    b = doc(baseline)
    b["scenarios"].pop("leader-kill")
    b["runs"] = [x for x in b["runs"] if x["scenario"] != "leader-kill"]
    r = compare(b, honest)
    assert r.exit_code == 0
    assert any("no baseline for leader-kill" in n for n in r.notes)


def test_run_folders_are_summarised_first(tmp_path: Path) -> None:
    a = [make_run(tmp_path / "a", "baseline", rate=20, duration=15, seed=s) for s in (1, 2)]
    b = [make_run(tmp_path / "b", "baseline", rate=20, duration=15, seed=s) for s in (3, 4)]
    r = compare(a, b)
    assert r.exit_code == 0 and len(r.deltas) == 9
    assert compare(tmp_path / "a", tmp_path / "b").exit_code == 0  # folders of run folders


def bench(ratio: float, spread: float | None, samples: list[float] | None = None) -> dict[str, Any]:
    fig: dict[str, Any] = {
        "name": "throughput_vs_kafka",
        "group": "e2e",
        "direction": "higher",
        "value": ratio,
        "unit": "x",
        "threshold_pct": 10,
    }
    if spread is not None:
        fig["spread"] = spread
    if samples is not None:
        fig["samples"] = samples
    lat = {
        "name": "p99_vs_kafka",
        "group": "e2e",
        "direction": "lower",
        "value": 1.5,
        "future_field": "ignored",
    }
    return {"schema": BENCH_SCHEMA, "figures": [fig, lat], "extra": {"ignored": True}}


def test_bench_figures_are_gated_by_their_own_direction_and_spread(tmp_path: Path) -> None:
    assert compare(bench(0.90, 0.02), bench(0.86, 0.02)).exit_code == 0  # -0.04 < 10% of 0.9
    r = compare(bench(0.90, 0.05), bench(0.65, 0.05))  # -0.25 > max(0.09, 4 x 0.05)
    assert r.exit_code == 1
    (d,) = r.regressions
    assert (d.group, d.figure.name, d.bound_from) == ("e2e", "throughput_vs_kafka", "4x MAD")
    # samples give the median and the MAD
    r = compare(bench(0, None, [0.9, 0.92, 0.88]), bench(0, None, [0.7, 0.71, 0.69]))
    assert r.exit_code == 1 and r.regressions[0].baseline == pytest.approx(0.9)
    # broken promises recorded by the benchmark fail the gate
    cur = bench(0.9, 0.02)
    cur["promises"] = ["e2e: lost 3 acknowledged messages"]
    assert compare(bench(0.9, 0.02), cur).broken == ["e2e: lost 3 acknowledged messages"]
    # a bench.json file, and a folder holding one
    (tmp_path / "bench.json").write_text(json.dumps(bench(0.9, 0.02)))
    assert compare(tmp_path, tmp_path / "bench.json").exit_code == 0
    bad = {"schema": BENCH_SCHEMA, "figures": [{"name": "x", "value": 1}]}
    assert "direction" in compare(bad, bad).problems[0]


def test_compare_result_renders(baseline: Path, honest: Path) -> None:
    r: CompareResult = compare(baseline, honest)
    md = r.markdown()
    assert md.startswith("### ✅ Regression gate: no regression")
    assert md.count("\n| ") == 1 + 18
    assert json.loads(json.dumps(r.to_dict()))["exit_code"] == 0


def run_cli(args: list[str]) -> int:
    from wiber_harness.cli import _register

    _register()
    rc = cli.main(args, standalone_mode=False)
    assert isinstance(rc, int)
    return rc


def test_cli_exit_codes(
    baseline: Path, honest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "step-summary.md"
    assert run_cli(["compare", str(baseline), str(honest), "--markdown", str(md)]) == 0
    assert "Regression gate: no regression" in md.read_text()
    capsys.readouterr()
    missing = tmp_path / "missing.json"
    assert run_cli(["compare", str(baseline), str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0]
    d = doc(honest)
    d["runs"][0]["metrics"]["lost"] = 1.0
    cur = tmp_path / "cur.json"
    cur.write_text(json.dumps(d))
    assert run_cli(["compare", str(baseline), str(cur), "--json", str(tmp_path / "c.json")]) == 1
    assert "broken promise" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["exit_code"] == 1
