"""The pytest plugin's option parsing (no cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.pytest_plugin import _run, _settings, _system

ROOT = Path(__file__).resolve().parents[2]


def test_wiber_set_pairs_become_system_settings() -> None:
    assert _settings(["WIBER_CONSUMER_COMMIT_MODE=auto", "WIBER_X=a=b"]) == {
        "WIBER_CONSUMER_COMMIT_MODE": "auto",
        "WIBER_X": "a=b",
    }
    with pytest.raises(pytest.UsageError, match="expected NAME=VALUE"):
        _settings(["WIBER_PRODUCER_ACKS"])


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
