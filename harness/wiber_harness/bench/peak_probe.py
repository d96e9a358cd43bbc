"""Measure one ``wiber-harness check RUN_DIR``: wall time, peak memory, exit code.

    python peak_probe.py RUN_DIR     (prints "WALL_S PEAK_MB EXIT_CODE")

Standard library only, and started as a file by
:mod:`wiber_harness.bench.check_folder`, so the measuring process stays small:
on Linux a child's peak resident memory (``RUSAGE_CHILDREN``) includes what
it had before ``exec``, which is its parent's.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path


def one_check(run_dir: Path) -> tuple[float, float, int]:
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
        tree_kb = max(tree_kb, tree_rss_kb(proc.pid))
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, tree_kb)
    return wall, peak_kb / 1024, int(proc.returncode)


def tree_rss_kb(pid: int) -> int:
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


if __name__ == "__main__":
    wall, peak, code = one_check(Path(sys.argv[1]))
    print(wall, peak, code)
