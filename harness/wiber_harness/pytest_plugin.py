"""pytest plugin (registered through the ``pytest11`` entry point).

Registers the harness's markers and options. Scenario collection from
YAML files and the ``run_scenario`` fixture are added by
:mod:`wiber_harness.pytest_scenarios` when it is present.
"""

from __future__ import annotations

import pytest

MARKERS = (
    "integration: needs the real local stack (Kafka, store, Toxiproxy)",
    "slow: takes more than a minute",
    "scenario: runs a scenario file on the real stack",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("wiber", "Wiber fault-injection harness")
    g.addoption("--wiber-backend", default="local", choices=("local", "compose"),
                help="cluster backend for scenario tests (default: local)")
    g.addoption("--wiber-seed", type=int, default=None, help="override every scenario's workload seed")
    g.addoption("--wiber-quick", action="store_true", default=False, help="run scenarios in their quick form")


def pytest_configure(config: pytest.Config) -> None:
    for m in MARKERS:
        config.addinivalue_line("markers", m)
