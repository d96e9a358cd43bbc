"""``wiber_harness.memory``: the collector pause restores what it found, even on error,
and a check leaves the collector as it was."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from wiber_harness.memory import gc_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_inside_and_restored_after(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with pytest.raises(RuntimeError), gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_check_leaves_the_collector_enabled(tmp_path: Path) -> None:
    from wiber_harness.bench.check_folder import write_run
    from wiber_harness.judge import check_run

    write_run(tmp_path, 400, seed=1)
    assert gc.isenabled()
    check_run(tmp_path)
    assert gc.isenabled()
