"""The harness catches a broken pipeline: every unsafe configuration, paired
with the scenario that exposes it, must produce the violation it predicts.

Each file in scenarios/unsafe/ says which checker must fail
(``expect.violation``); the run's verdict is valid only when it does. A run
that is "unknown" (for example a fault without evidence) fails here too:
an unsafe setting that goes unnoticed is exactly what this guards against.

Every pairing reaches its window by construction, not by luck, also under
``--quick``: frozen followers and then a leader kill that outlasts the
brokers' session timeout (acks=1); a hang of the only consumer that lasts
past the auto-commit interval before its kill (auto-commit); a store cut
that outlasts the store timeout (skip on store error); a rewind over stored
records (no unique index); and the seeded conversations' keys, which put
both directions of a conversation in different partitions (key per
direction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.pytest_plugin import summarize
from wiber_harness.scenario import list_scenarios, load_scenario

pytestmark = [pytest.mark.integration, pytest.mark.scenario]

UNSAFE = Path(__file__).resolve().parents[2] / "scenarios" / "unsafe"
# the anomaly each pairing must show (beyond "the named checker failed"); one
# of several when the same bug can surface two ways: a write skipped after a
# store failure loses the message when the main insert failed ("lost") and
# leaves it stored but missing from the API's reads when the read-view write
# failed ("unreadable"), depending on which write the cut meets
EXPECTED_ANOMALY: dict[str, tuple[str, tuple[str, ...]]] = {
    "unsafe-acks1-leader-kill": ("delivery", ("lost",)),
    "unsafe-autocommit-consumer-kill": ("delivery", ("lost",)),
    "unsafe-commit-past-store-failure": ("delivery", ("lost", "unreadable")),
    "unsafe-no-unique-index-rewind": ("delivery", ("duplicated",)),
    "unsafe-key-per-direction": ("ordering", ("realtime_violations",)),
}


def test_every_unsafe_scenario_has_a_named_anomaly() -> None:
    names = {load_scenario(p).name for p in list_scenarios(UNSAFE)}
    assert names == set(EXPECTED_ANOMALY)


@pytest.mark.parametrize("name", sorted(EXPECTED_ANOMALY))
def test_unsafe_setting_is_caught(
    name: str, run_scenario: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    r = run_scenario(UNSAFE / f"{name}.yaml", quick=True, out_root=tmp_path_factory.mktemp("runs"))
    checker, anomalies = EXPECTED_ANOMALY[name]
    assert r.checks[checker]["valid"] is False, summarize(r)
    assert sum(r.checks[checker]["counts"].get(a, 0) for a in anomalies) > 0, summarize(r)
    assert r.verdict is True, summarize(r)  # the scenario's expectation: this violation
