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
:func:`_one_check`). The targets (issue 13)
are under 5 s wall and under 600 MB on a 2-core machine with nothing else
running; the one-minute load average before each run is printed so a reader
can tell a busy machine from a slow check. Exit 0 when the check said
VALID every time, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _one_check(run_dir: Path) -> tuple[float, float, int]:
    """(wall s, peak MB, exit code) of one ``wiber-harness check`` in a fresh child.

    The peak is the larger of the biggest process's own peak
    (``RUSAGE_CHILDREN``) and the summed resident memory of the check and its
    helper process (:mod:`wiber_harness.columns_split`), sampled every 5 ms
    while they run: the two read the history at the same time.
    """
    argv = [sys.executable, "-m", "wiber_harness.cli", "check", str(run_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree_kb = 0
    while proc.poll() is None:
        tree_kb = max(tree_kb, _tree_rss_kb(proc.pid))
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, tree_kb)
    return wall, peak_kb / 1024, int(proc.returncode)


def _tree_rss_kb(pid: int) -> int:
    """Resident kB of ``pid`` and its children (0 for any that ended meanwhile)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        todo.extend(int(k) for k in kids)
    return total


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
    """Run :func:`_one_check` in a fresh interpreter, so the children's peak is this run's."""
    code = (
        "import sys; from pathlib import Path; "
        "from wiber_harness.bench.check_folder import _one_check; "
        f"w, m, c = _one_check(Path({str(run_dir)!r})); print(w, m, c)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    w, m, c = out.stdout.split()
    return float(w), float(m), int(c)


if __name__ == "__main__":
    sys.exit(main())
