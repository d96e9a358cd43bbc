"""The mutation suite without a stack: the catalog, its patches, the runner, the kill table."""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wiber_harness.errors import HarnessError, InvalidScenario
from wiber_harness.judge import RunResult
from wiber_harness.mutants import (
    AREAS,
    Mutant,
    MutantResult,
    judge_caught,
    kill_rate,
    load_catalog,
    load_results,
    materialize,
    mutant_system,
    mutated,
    run_mutant,
    wiber_source,
    write_kill_table,
)
from wiber_harness.runner import RunOptions
from wiber_harness.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "mutants" / "catalog.yaml"
SCENARIOS = ROOT / "scenarios"
MUTANTS = load_catalog(CATALOG, SCENARIOS)
# the three escapes of issue 17: each has a mutant of its class in the fast subset
ESCAPES = (
    "consumer-commit-before-write",
    "consumer-revoke-commits-position",
    "api-ack-before-delivery",
)


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(str(p.relative_to(folder)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


# --- the catalog ----------------------------------------------------------------------


def test_the_catalog_is_large_and_covers_every_area() -> None:
    live = [m for m in MUTANTS if m.equivalent is None]
    assert len(live) >= 15
    assert {m.area for m in live} == set(AREAS)
    fast = [m for m in MUTANTS if m.fast]
    assert len(fast) >= 5
    assert set(ESCAPES) <= {m.name for m in fast}


def test_every_equivalent_mutant_argues_and_every_other_names_shipped_scenarios() -> None:
    for m in MUTANTS:
        if m.equivalent is not None:
            assert len(m.equivalent) > 40 and not m.fast, m.name
        else:
            assert m.scenarios and all((SCENARIOS / f"{s}.yaml").exists() for s in m.scenarios)


@pytest.mark.parametrize("m", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_patch_applies_to_a_copy_and_compiles(m: Mutant, tmp_path: Path) -> None:
    before = tree_digest(wiber_source())
    root = materialize(m, tmp_path, check_imports=False)  # the import check: test below
    assert compileall.compile_dir(root, quiet=1, workers=1)
    assert tree_digest(root / "wiber") != before  # the copy is mutated ...
    assert tree_digest(wiber_source()) == before  # ... and the working tree is not


def test_the_system_spec_runs_the_processes_from_the_copy(tmp_path: Path) -> None:
    m = MUTANTS[0]
    with mutated(m, keep=tmp_path / "keep") as root:
        spec = mutant_system(m, root)
        assert spec.env["PYTHONPATH"] == str(root)
        assert spec.name.endswith(m.name) and spec.api_argv[-1] == "--no-access-log"
        env = {**os.environ, **spec.render_env({k: "x" for k in _TEMPLATE})}
        out = subprocess.run(
            [sys.executable, "-c", "import wiber; print(wiber.__file__)"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.startswith(str(root))
    assert not root.exists()  # temporary
    assert (tmp_path / "keep" / f"{m.name}.patch").exists()


_TEMPLATE = (
    "kafka_bootstrap",
    "store_uri",
    "topic",
    "dlq_topic",
    "group",
    "db",
    "collection",
    "consumer_id",
    "metrics_port",
    "delivery_log",
    "failpoints_file",
)


def write_catalog(tmp_path: Path, body: str, patch: str | None = None) -> Path:
    (tmp_path / "catalog.yaml").write_text(body)
    if patch is not None:
        (tmp_path / "m.patch").write_text(patch)
    return tmp_path / "catalog.yaml"


GOOD_PATCH = "--- a/system/wiber/store.py\n+++ b/system/wiber/store.py\n@@ -1 +1 @@\n-a\n+b\n"


def test_catalog_problems_are_sentences_all_at_once(tmp_path: Path) -> None:
    bad = write_catalog(
        tmp_path,
        "schema: 1\nmutants:\n"
        "  - {name: m, area: store, models: a bug, scenarios: [no-such-scenario]}\n"
        "  - {name: n, area: nowhere, models: x}\n",
        GOOD_PATCH,
    )
    with pytest.raises(InvalidScenario) as e:
        load_catalog(bad, SCENARIOS)
    text = str(e.value)
    assert "scenario 'no-such-scenario' is not in the shipped catalog" in text
    assert "area 'nowhere'" in text and "no patch" in text
    assert "argue that it is equivalent" in text


def test_a_patch_outside_the_pipeline_is_refused(tmp_path: Path) -> None:
    bad = write_catalog(
        tmp_path,
        "schema: 1\nmutants:\n  - {name: m, area: store, models: a bug, scenarios: [baseline]}\n",
        GOOD_PATCH.replace("system/wiber/store.py", "harness/wiber_harness/judge.py"),
    )
    with pytest.raises(InvalidScenario, match="may only change system/wiber/"):
        load_catalog(bad, SCENARIOS)


def test_a_stale_patch_is_a_harness_error(tmp_path: Path) -> None:
    cat = write_catalog(
        tmp_path,
        "schema: 1\nmutants:\n  - {name: m, area: store, models: a bug, scenarios: [baseline]}\n",
        GOOD_PATCH,  # "-a" is not in store.py
    )
    (m,) = load_catalog(cat, SCENARIOS)
    with pytest.raises(HarnessError, match="regenerate"):
        materialize(m, tmp_path / "copy")


# --- the runner's decisions --------------------------------------------------------------


def result(checks: dict[str, Any], verdict: Any = True) -> RunResult:
    return RunResult(Path("/runs/x"), "x", verdict, [], checks, {})


CLEAN = {c: {"valid": True, "counts": {}} for c in ("delivery", "ordering", "redelivery")}
LOST = {**CLEAN, "delivery": {"valid": False, "counts": {"lost": 7, "stored": 100}}}


def test_a_catch_is_a_promise_checker_violation_with_its_anomalies() -> None:
    assert judge_caught(result(LOST, False)) == (True, {"delivery": {"lost": 7}})
    assert judge_caught(result(CLEAN)) == (False, {})
    unknown = {**CLEAN, "delivery": {"valid": "unknown", "counts": {}}}
    assert judge_caught(result(unknown, "unknown")) == (False, {})  # never a catch
    slow = {**CLEAN, "availability": {"valid": False, "counts": {}}}
    assert judge_caught(result(slow, False))[0] is False  # informational checker


def fake_mutant(**kw: Any) -> Mutant:
    base = MUTANTS[0]
    return replace(base, scenarios=("baseline", "duplicate-retry", "offset-rewind"), **kw)


def test_run_mutant_stops_at_the_first_scenario_that_catches(tmp_path: Path) -> None:
    seen: list[str] = []
    systems: list[str] = []

    def run(sc: Scenario, opts: RunOptions) -> RunResult:
        seen.append(sc.name)
        systems.append(opts.system.env["PYTHONPATH"])
        return result(LOST if sc.name == "duplicate-retry" else CLEAN, sc.name != "baseline")

    r = run_mutant(fake_mutant(), SCENARIOS, RunOptions(out_root=tmp_path), run=run)
    assert seen == ["baseline", "duplicate-retry"]
    assert r.status == "killed" and r.caught_by is not None
    assert r.caught_by.scenario == "duplicate-retry"
    assert r.caught_by.checkers == {"delivery": {"lost": 7}}
    assert all("wiber-mutant-" in s for s in systems)


def test_a_mutant_nothing_catches_survives_and_errors_are_not_catches(tmp_path: Path) -> None:
    def clean(sc: Scenario, opts: RunOptions) -> RunResult:
        return result(CLEAN)

    r = run_mutant(fake_mutant(), SCENARIOS, RunOptions(out_root=tmp_path), run=clean)
    assert r.status == "survived" and len(r.runs) == 3

    def broken(sc: Scenario, opts: RunOptions) -> RunResult:
        raise HarnessError("the stack did not start")

    r = run_mutant(fake_mutant(), SCENARIOS, RunOptions(out_root=tmp_path), run=broken)
    assert r.status == "error" and r.runs[0].error == "the stack did not start"


def test_fast_runs_only_the_first_scenario_and_equivalents_do_not_run(tmp_path: Path) -> None:
    seen: list[str] = []

    def run(sc: Scenario, opts: RunOptions) -> RunResult:
        seen.append(sc.name)
        return result(CLEAN)

    run_mutant(fake_mutant(), SCENARIOS, RunOptions(out_root=tmp_path), fast=True, run=run)
    assert seen == ["baseline"]
    eq = fake_mutant(equivalent="no promise can observe it, because of a long argument")
    assert run_mutant(eq, SCENARIOS, RunOptions(out_root=tmp_path), run=run).status == (
        "equivalent"
    )
    assert seen == ["baseline"]


def test_the_kill_table_is_json_and_markdown_and_accumulates(tmp_path: Path) -> None:
    def run(sc: Scenario, opts: RunOptions) -> RunResult:
        return result(LOST, False)

    killed = run_mutant(fake_mutant(), SCENARIOS, RunOptions(out_root=tmp_path), run=run)
    eq = MutantResult("store-sort-offset-first", "read", "equivalent")
    jp, mp = write_kill_table([killed, eq], MUTANTS, tmp_path, {"quick": True, "seed": None})
    doc = json.loads(jp.read_text())
    assert (doc["killed"], doc["non_equivalent"], doc["kill_rate"]) == (1, 1, 1.0)
    assert "| api-ack-before-delivery | api-ack | killed | baseline | delivery: lost=7 |" in (
        mp.read_text()
    )
    assert "equivalent: A conversation's key" in mp.read_text()
    again = load_results(tmp_path)
    assert [r.name for r in again] == [killed.name, eq.name]
    assert again[0].caught_by is not None and again[0].caught_by.checkers == {
        "delivery": {"lost": 7}
    }
    assert kill_rate(again) == (1, 1)


def test_mutants_refuse_a_backend_that_would_not_run_the_copy(tmp_path: Path) -> None:
    opts = RunOptions(out_root=tmp_path, backend="compose")
    with pytest.raises(HarnessError, match="local backend only"):
        run_mutant(fake_mutant(), SCENARIOS, opts, run=lambda sc, o: result(CLEAN))
