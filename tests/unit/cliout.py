"""Run ``wiber-harness`` in-process (its real ``main``) or as a measured child process.

* :func:`invoke`: :func:`wiber_harness.cli.main` with stdout and stderr
  captured; the exit code it gave ``sys.exit``. An exception that escapes
  ``main`` (a traceback in a terminal) is re-raised, never swallowed.
* :func:`measured`: a child Python that runs one function on one file and
  reports how long that took and how much its peak memory grew, under an
  address-space limit (so a regression cannot take the machine down).
* :func:`bad_input`: the contract for bad input: exit 2, exactly one line on
  stderr, no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHILD_AS_LIMIT = 3 << 30  # bytes of address space for a measured child


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def invoke(*args: str, env: dict[str, str] | None = None) -> Outcome:
    """``wiber-harness ARGS`` in this process."""
    from wiber_harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Outcome(code, out.getvalue(), err.getvalue())


def bad_input(o: Outcome, *needles: str) -> str:
    """Exit 2, one line on stderr (holding every needle), no traceback."""
    assert o.code == 2, (o.code, o.out[-1000:], o.err[-2000:])
    assert "Traceback" not in o.err, o.err[-2000:]
    assert len(o.lines) == 1, o.err[-2000:]
    for n in needles:
        assert n in o.lines[0], (n, o.lines[0])
    return o.lines[0]


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from wiber_harness.cli.validate import check_file
check_file(Path(sys.argv[2]))  # warm: every lazy import done before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
entry = check_file(Path(sys.argv[1]))
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"entry": entry, "seconds": seconds, "cpu": cpu, "grew_mb": grew / 1024}))
"""


def _limit() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_AS_LIMIT, CHILD_AS_LIMIT))


def measured(path: Path, warm: Path | None = None, timeout: float = 60) -> dict[str, Any]:
    """Validate ``path`` in a child; ``{"entry", "seconds", "cpu", "grew_mb"}`` of that call."""
    warm = warm or ROOT / "scenarios" / "baseline.yaml"
    p = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(warm)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out: dict[str, Any] = json.loads(p.stdout)
    return out


__all__ = ["ROOT", "Outcome", "bad_input", "invoke", "measured"]
