"""The scenario package: its re-exports, its import order and where its words come from."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import wiber_harness.scenario as pkg
from wiber.settings import TUNABLE, UNSAFE_VALUES
from wiber_harness.checkers.suite import CHECKERS as SUITE
from wiber_harness.faults.catalog import CATALOG
from wiber_harness.metrics import THRESHOLD_METRICS
from wiber_harness.scenario import vocab


@pytest.mark.parametrize(
    "first",
    ["wiber_harness.faults.catalog", "wiber_harness.scenario.targets", "wiber_harness.scenario"],
)
def test_any_module_can_be_imported_first(first: str) -> None:
    # faults.catalog imports scenario.targets, and the schema imports faults.catalog
    code = f"import {first}; from wiber_harness.scenario import Scenario, load_scenario"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_reexport_is_its_home_module_object() -> None:
    for name in [*pkg.__all__, "_validate"]:
        module, attr = pkg._HOMES[name]
        home = importlib.import_module(f"wiber_harness.scenario.{module}")
        assert getattr(pkg, name) is getattr(home, attr), name
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError):
        _ = pkg.no_such_name


def test_vocabularies_are_the_defining_code() -> None:
    assert list(vocab.SYSTEM_SETTINGS) == [f"WIBER_{f.upper()}" for f in TUNABLE]
    for field in TUNABLE:
        spec = vocab.SYSTEM_SETTINGS[f"WIBER_{field.upper()}"]
        assert spec.unsafe == UNSAFE_VALUES.get(field, ())
        # a scenario can write every unsafe value
        assert set(spec.unsafe) <= set(spec.choices), field
    assert list(SUITE) == list(vocab.CHECKERS)
    assert set(vocab.DEFAULT_VALID) <= set(vocab.CHECKERS)
    assert vocab.METRICS is THRESHOLD_METRICS
    assert vocab.FAULT_KINDS is CATALOG
