"""Run folders as the report sees them: found, loaded, never modified.

A *run folder* is what :func:`wiber_harness.runner.run_scenario` writes:
``scenario.yaml``, ``history.jsonl``, ``final_reads.json``, ``result.json``
and ``cluster/``. A folder counts as a run folder when it holds
``result.json`` or ``history.jsonl``; any other folder given to
:func:`find_run_dirs` (a suite folder, ``reports/runs``) is searched for run
folders below it, skipping ``cluster/`` (node data) and symlinks such as
``latest`` (they would list a run twice).

:func:`load_run` reads what a report needs. ``result.json`` is required for
the verdict; a folder without one (a run that crashed before it was judged)
still loads, with the verdict ``"unknown"`` and a reason that says how to
re-judge it, because a report must show a broken run rather than hide it.
The history and final reads are loaded lazily, only for the plots; a
report never re-judges or rewrites a run.

A file that is there but cannot be used (not JSON, a field of the wrong
type, too large, a folder or a symlink loop in its place: see
:mod:`wiber_harness.inputs` and :mod:`wiber_harness.report.result_file`)
is *unreadable*: its sentence goes to the run's ``problems`` (shown in the
report) and to ``unreadable``, and a report with any unreadable input exits
2 (``docs/verdicts.md`` section 8). An unreadable ``result.json`` makes the
run's verdict ``"unknown"``, like a missing one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import orjson

from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import Validity
from wiber_harness.errors import HarnessError
from wiber_harness.history import Op, read_history
from wiber_harness.inputs import check_file, too_deep
from wiber_harness.reads import FinalReads
from wiber_harness.report.result_file import RESULT_SCHEMA, read_result

RESULT_FILE = "result.json"
HISTORY_FILE = "history.jsonl"
READS_FILE = "final_reads.json"
_SKIP_DIRS = frozenset({"cluster", "report", "__pycache__"})
T = TypeVar("T")


class ReportError(HarnessError):
    """A report or comparison could not be built from its inputs."""


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (_present(path / RESULT_FILE) or _present(path / HISTORY_FILE))


def find_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Run folders named directly or found below the given folders, in order, each once.

    Raises :class:`ReportError` for a path that does not exist or holds no run.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if not p.is_dir():
            raise ReportError(
                f"{p}: no such folder; pass run folders or a suite folder holding them"
            )
        found = [p] if is_run_dir(p) else sorted(_below(p))
        if not found:
            raise ReportError(
                f"{p}: no run folders in it (none holds {RESULT_FILE} or {HISTORY_FILE}); "
                "pass the folder a run or suite wrote"
            )
        for d in found:
            r = d.resolve()
            if r not in seen:
                seen.add(r)
                out.append(d)
    return out


def _below(root: Path) -> list[Path]:
    """Run folders below ``root``, found without recursion (a deep
    tree of folders must not exhaust the stack)."""
    found: list[Path] = []
    todo = [root]
    while todo:
        d = todo.pop()
        try:
            children = sorted(d.iterdir())
        except OSError as e:
            raise ReportError(
                f"{d}: cannot list the folder ({e.strerror}); check its permissions"
            ) from None
        sub: list[Path] = []
        for child in children:
            if child.is_symlink() or not child.is_dir() or child.name in _SKIP_DIRS:
                continue
            if is_run_dir(child):
                found.append(child)
            else:
                sub.append(child)
        todo.extend(reversed(sub))
    return found


def _present(path: Path) -> bool:
    """Whether something is at ``path`` (a dangling symlink counts: it is a broken file)."""
    return path.exists() or path.is_symlink()


@dataclass
class RunData:
    """One run folder, loaded. ``result`` is result.json (or a stand-in)."""

    path: Path
    run_id: str
    result: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        return str(self.result.get("scenario") or self.path.name)

    @property
    def verdict(self) -> Validity:
        v = self.result.get("verdict")
        return v if v is True or v is False else "unknown"

    @property
    def expect_violation(self) -> bool:
        return bool((self.result.get("expect") or {}).get("violation"))

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        return dict(self.result.get("checks") or {})

    @property
    def thresholds(self) -> dict[str, Any]:
        return dict((self.result.get("metrics") or {}).get("thresholds") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict((self.result.get("metrics") or {}).get("summary") or {})

    def _read(self, name: str, kind: str, without: str, read: Callable[[Path], T]) -> T | None:
        """``read`` the run's file ``name``; None (and a problem noted) when it is missing
        (``without`` says what the report then lacks) or unreadable (also noted in
        ``unreadable``)."""
        path = self.path / name
        if not _present(path):
            self.problems.append(f"no {name}: {without}")
            return None
        fix = "re-run the scenario (or restore the file)"
        try:
            check_file(path, kind, fix)
            return read(path)
        except RecursionError:
            problem = str(too_deep(path, fix))
        except HarnessError as e:
            problem = str(e)
        self.problems.append(problem)
        self.unreadable.append(problem)
        return None

    @cached_property
    def history(self) -> tuple[dict[str, Any], list[Op]] | None:
        """(header, ops), or None when the history cannot be read (noted in ``problems``)."""
        return self._read(
            HISTORY_FILE, "history", "plots over time are not available", read_history
        )

    @cached_property
    def reads(self) -> FinalReads | None:
        without = "stored counts and e2e latency are not available"
        return self._read(READS_FILE, "final reads", without, FinalReads.load)

    @cached_property
    def analysis(self) -> Analysis | None:
        """The shared analysis of history + final reads (empty reads when those are missing)."""
        h = self.history
        if h is None:
            return None
        return Analysis(h[1], self.reads or FinalReads())

    def read_inputs(self) -> None:
        """Read the history and the final reads that are present (both cached), so that an
        unreadable one is noted even where nothing else needs it."""
        if _present(self.path / HISTORY_FILE):
            _ = self.history
        if _present(self.path / READS_FILE):
            _ = self.reads

    def release(self) -> None:
        """Forget the loaded history, reads and analysis (a suite's runs need not all fit in
        memory)."""
        for name in ("history", "reads", "analysis"):
            self.__dict__.pop(name, None)


def load_run(path: Path, run_id: str | None = None) -> RunData:
    """Load one run folder's result.json; see the module docstring for a missing one."""
    path = Path(path)
    rid = run_id or path.name
    res_path = path / RESULT_FILE
    if not _present(res_path):
        return RunData(
            path,
            rid,
            _stand_in(
                path,
                f"no {RESULT_FILE}: the run was never judged; "
                f"re-judge it with `wiber-harness check {path}`",
            ),
        )
    try:
        doc = read_result(res_path)
    except HarnessError as e:
        run = RunData(path, rid, _stand_in(path, str(e)))
        run.unreadable.append(str(e))
        return run
    return RunData(path, rid, doc)


def _stand_in(path: Path, reason: str) -> dict[str, Any]:
    return {
        "schema": RESULT_SCHEMA,
        "scenario": _history_scenario(path / HISTORY_FILE) or path.name,
        "description": "",
        "verdict": "unknown",
        "exit_code": 2,
        "reasons": [reason],
        "expect": {},
        "checks": {},
        "metrics": {},
    }


def _history_scenario(path: Path) -> str | None:
    """The scenario named by a history's header line (read alone, at most 1 MB), if any."""
    with contextlib.suppress(HarnessError, OSError, ValueError):
        check_file(path, "history", "")
        with path.open("rb") as fh:
            header = orjson.loads(fh.readline(1 << 20))
        name = header.get("scenario") if isinstance(header, dict) else None
        return name if isinstance(name, str) and name else None
    return None


def load_runs(run_dirs: Sequence[Path]) -> list[RunData]:
    """Load run folders (suite folders expanded); run ids are folder names, made unique."""
    runs: list[RunData] = []
    used: dict[str, int] = {}
    for d in find_run_dirs(run_dirs):
        rid = d.name
        n = used.get(rid, 0)
        used[rid] = n + 1
        runs.append(load_run(d, rid if n == 0 else f"{rid}-{n + 1}"))
    return runs


__all__ = [
    "ReportError",
    "RunData",
    "find_run_dirs",
    "is_run_dir",
    "load_run",
    "load_runs",
]
