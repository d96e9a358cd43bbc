"""The pytest plugin's option parsing (no cluster)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.pytest_plugin import _run, _settings, _system
from wiber_harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_wiber_set_pairs_become_system_settings() -> None:
    assert _settings(["WIBER_CONSUMER_COMMIT_MODE=auto", "WIBER_X=a=b"]) == {
        "WIBER_CONSUMER_COMMIT_MODE": "auto",
        "WIBER_X": "a=b",
    }
    with pytest.raises(pytest.UsageError, match="expected NAME=VALUE"):
        _settings(["WIBER_PRODUCER_ACKS"])


# --- issue 15: collect only when asked; failures say VIOLATION or UNKNOWN ------------------

pytest_plugins = ["pytester"]

SCENARIO = (
    (ROOT / "scenarios" / "baseline.yaml").read_text().replace("name: baseline", "name: checkout")
)
# In-process pytester runs drop the modules they imported; numpy cannot be imported
# twice in one process, so everything a scenario load imports is imported here first.
load_scenario(ROOT / "scenarios" / "baseline.yaml")


def project(pytester: pytest.Pytester, ini: str = "") -> None:
    """An unrelated project: its own scenarios/checkout.yaml and one ordinary test."""
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "checkout.yaml").write_text(SCENARIO)
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    if ini:
        pytester.makeini(ini)


def test_an_unrelated_projects_scenarios_folder_is_not_collected(
    pytester: pytest.Pytester,
) -> None:
    # was: scenarios/checkout.yaml collected as a Wiber test (running it starts Kafka)
    project(pytester)
    r = pytester.runpytest_inprocess("--collect-only", "-q")
    assert "checkout" not in r.stdout.str()
    assert "1 test collected" in r.stdout.str()


@pytest.mark.parametrize(
    ("args", "ini", "collected"),
    [
        (["--wiber"], "", True),
        ([], "[pytest]\nwiber_scenarios = scenarios\n", True),
        ([], "[pytest]\nwiber_scenarios = elsewhere\n", False),
    ],
    ids=["flag", "ini", "ini-other-folder"],
)
def test_scenarios_are_collected_when_asked(
    pytester: pytest.Pytester, args: list[str], ini: str, collected: bool
) -> None:
    project(pytester, ini)
    r = pytester.runpytest_inprocess("--collect-only", "-q", *args)
    assert ("scenarios/checkout.yaml::checkout" in r.stdout.str()) is collected, r.stdout.str()


def test_this_repository_still_collects_its_scenarios() -> None:
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "scenarios/"]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "scenarios/baseline.yaml::baseline" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert "scenarios/unsafe/unsafe-acks1-leader-kill.yaml" in r.stdout


FAKE_RUNS = """
from pathlib import Path
import wiber_harness.runner as runner
from wiber_harness.errors import ProvisionError
from wiber_harness.judge import RunResult

def provision_fails(scenario, opts):
    raise ProvisionError("kafka is not in the cache; run 'wiber-harness doctor --fix'")

def violates(scenario, opts):
    checks = {"delivery": {"valid": False, "counts": {"lost": 3}, "examples": {}}}
    return RunResult(Path("reports/runs/x"), scenario.name, False,
                     ["delivery: 3 acknowledged messages were never stored"], checks, {})

runner.run_scenario = {which}
"""


@pytest.mark.parametrize(
    ("which", "word", "sentence"),
    [
        ("provision_fails", "UNKNOWN", "kafka is not in the cache; run 'wiber-harness doctor"),
        ("violates", "VIOLATION", "scenario checkout: delivery: 3 acknowledged messages"),
    ],
)
def test_a_failure_report_starts_with_the_verdict_and_its_sentence(
    pytester: pytest.Pytester, which: str, word: str, sentence: str
) -> None:
    # was: a harness error as a pytest-internal repr; VIOLATION and UNKNOWN both "FAILED"
    project(pytester)
    pytester.makeconftest(FAKE_RUNS.replace("{which}", which))
    r = pytester.runpytest_subprocess("--wiber", "-ra", "-vv")  # -vv: summary lines untrimmed
    r.assert_outcomes(passed=1, failed=1)
    out = r.stdout.str()
    assert f"{word}: {sentence}" in out, out
    assert f"scenarios/checkout.yaml::checkout {word}" in out, out  # the verbose word
    short = [ln for ln in out.splitlines() if ln.startswith(f"{word} scenarios/checkout.yaml")]
    assert short and sentence in short[0], out  # the -ra summary line
    assert "Traceback" not in out and "ProvisionError(" not in out, out


def test_a_wiber_set_typo_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project(pytester)
    r = pytester.runpytest_inprocess("--wiber-set", "WIBER_PRODUCR_ACKS=1")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "did you mean 'WIBER_PRODUCER_ACKS'" in r.stderr.str()


def test_wiber_system_names_the_pipeline_under_test(tmp_path: Path) -> None:
    assert _system(None) is DEFAULT_SYSTEM
    assert _system(str(ROOT / "tests" / "tutorial" / "tutorial.toml")).name == "tutorial"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[api]\nargv = ["a"]\n')
    with pytest.raises(pytest.UsageError, match=r"--wiber-system: .*consumer.argv: required"):
        _system(str(bad))


def test_scenario_runs_get_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--wiber-system`` reaches the runner's options (the run itself is faked)."""
    seen: dict[str, Any] = {}

    def fake_run(scenario: Any, opts: Any) -> str:
        seen["opts"] = opts
        return "ran"

    monkeypatch.setattr("wiber_harness.runner.run_scenario", fake_run)
    options = {
        "--wiber-out": "out",
        "--wiber-seed": 3,
        "--wiber-quick": True,
        "--wiber-backend": "local",
        "--wiber-set": [],
        "--wiber-system": str(ROOT / "tests" / "naive" / "naive.toml"),
        "--wiber-target": None,
    }

    class Config:
        def getoption(self, name: str) -> Any:
            return options[name]

    result: Any = _run(Config(), object())  # type: ignore[arg-type]
    assert result == "ran"
    assert seen["opts"].system.name == "naive" and seen["opts"].seed == 3
