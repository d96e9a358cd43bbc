"""The ``check`` benchmark: how long and how much memory re-checking a big run takes.

    python -m wiber_harness.bench.check_folder [--ops 1000000] [--seed 1] [--repeat 3]
        [--dir DIR] [--keep]

Writes a run folder of about ``--ops`` ops with the synthetic clean run of
:mod:`wiber_harness.bench.checkers_timing` (500k send invoke/completion
pairs at the default size, 1,000 conversations, final reads of the same
size, fault windows with their evidence), then runs
``wiber-harness check DIR`` as a child process ``--repeat`` times and
prints, for each run and as medians, the wall time and the child's peak
resident memory (the check's own process, imports included, plus the helper
that reads the second half of a large history at the same time: see
:mod:`wiber_harness.bench.peak_probe`). The targets (issue 13)
are under 5 s wall and under 600 MB on a 2-core machine with nothing else
running; the one-minute load average before each run is printed so a reader
can tell a busy machine from a slow check. Exit 0 when the check said
VALID every time, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wiber_harness.bench.checkers_timing import synthetic_run
from wiber_harness.history import write_history

TARGET_WALL_S = 5.0
TARGET_PEAK_MB = 600.0

_SCENARIO = """\
name: bench-check
description: A synthetic clean run of many operations, to time the checkers.
workload:
  rate: 10000
  duration: 60
expect:
  valid: [delivery, ordering, convergence, redelivery]
"""


def write_run(out: Path, n_ops: int, seed: int) -> int:
    """Write ``scenario.yaml``, ``history.jsonl`` and ``final_reads.json``; the op count."""
    out.mkdir(parents=True, exist_ok=True)
    ops, reads = synthetic_run(n_ops, seed)
    write_history(out / "history.jsonl", ops, {"scenario": "bench-check", "seed": seed})
    reads.save(out / "final_reads.json")
    (out / "scenario.yaml").write_text(_SCENARIO)
    return len(ops)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--ops", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", type=Path, default=None, help="where to write the run folder")
    p.add_argument("--keep", action="store_true", help="keep the run folder")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.ops < 1:
        p.error("--repeat and --ops must be at least 1")
    base = args.dir or Path(tempfile.mkdtemp(prefix="wiber-check-bench-"))
    run_dir = base / "run"
    t0 = time.perf_counter()
    n = write_run(run_dir, args.ops, args.seed)
    sizes = {f: (run_dir / f).stat().st_size >> 20 for f in ("history.jsonl", "final_reads.json")}
    print(f"wrote {n} ops to {run_dir} in {time.perf_counter() - t0:.1f} s ({sizes} MB)")
    walls, peaks, ok = [], [], True
    try:
        for i in range(args.repeat):
            load = os.getloadavg()[0]
            # RUSAGE_CHILDREN is the max over all children so far: a fresh process per run
            wall, peak, code = _measure_in_fresh_parent(run_dir)
            walls.append(wall)
            peaks.append(peak)
            ok = ok and code == 0
            print(
                f"run {i + 1}: {wall:.2f} s wall, {peak:.0f} MB peak, exit {code}, "
                f"load before {load:.2f}"
            )
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    w, m = statistics.median(walls), statistics.median(peaks)
    met = "met" if w < TARGET_WALL_S and m < TARGET_PEAK_MB else "NOT met"
    print(
        f"median: {w:.2f} s wall (target < {TARGET_WALL_S:g}), {m:.0f} MB peak "
        f"(target < {TARGET_PEAK_MB:g}); {met}"
    )
    return 0 if ok else 1


def _measure_in_fresh_parent(run_dir: Path) -> tuple[float, float, int]:
    """Run :func:`wiber_harness.bench.peak_probe.one_check` in a fresh, small interpreter.

    The probe is started as a file, not imported through ``wiber_harness.bench``
    (whose imports weigh 140 MB): on Linux a child's peak counts the memory it
    had before ``exec``, that is, its parent's, so the parent must be small.
    """
    probe = Path(__file__).with_name("peak_probe.py")
    out = subprocess.run(
        [sys.executable, str(probe), str(run_dir)], capture_output=True, text=True, check=True
    )
    w, m, c = out.stdout.split()
    return float(w), float(m), int(c)


if __name__ == "__main__":
    sys.exit(main())
