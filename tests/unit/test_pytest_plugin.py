"""The pytest plugin's option parsing (no cluster)."""

from __future__ import annotations

import pytest

from wiber_harness.pytest_plugin import _settings


def test_wiber_set_pairs_become_system_settings() -> None:
    assert _settings(["WIBER_CONSUMER_COMMIT_MODE=auto", "WIBER_X=a=b"]) == {
        "WIBER_CONSUMER_COMMIT_MODE": "auto",
        "WIBER_X": "a=b",
    }
    with pytest.raises(pytest.UsageError, match="expected NAME=VALUE"):
        _settings(["WIBER_PRODUCER_ACKS"])
