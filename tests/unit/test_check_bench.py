"""The ``check`` benchmark measures the check, not the process that measures it."""

from __future__ import annotations

from pathlib import Path

from wiber_harness.bench.check_folder import _measure_in_fresh_parent, write_run


def test_the_probe_runs_a_check_and_reports_its_figures(tmp_path: Path) -> None:
    write_run(tmp_path, 2000, seed=1)
    wall, peak_mb, code = _measure_in_fresh_parent(tmp_path)
    assert code == 0  # the synthetic run is clean: VALID
    assert wall > 0 and peak_mb > 0
