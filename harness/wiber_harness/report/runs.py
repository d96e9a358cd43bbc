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
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from wiber_harness.checkers.analysis import Analysis
from wiber_harness.checkers.base import Validity
from wiber_harness.errors import HarnessError
from wiber_harness.history import Op, read_history
from wiber_harness.reads import FinalReads

RESULT_FILE = "result.json"
HISTORY_FILE = "history.jsonl"
READS_FILE = "final_reads.json"
RESULT_SCHEMA = "wiber-result/1"
_SKIP_DIRS = frozenset({"cluster", "report", "__pycache__"})
T = TypeVar("T")


class ReportError(HarnessError):
    """A report or comparison could not be built from its inputs."""


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / RESULT_FILE).is_file() or (path / HISTORY_FILE).is_file())


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


def _below(root: Path) -> Iterable[Path]:
    for child in sorted(root.iterdir()):
        if child.is_symlink() or not child.is_dir() or child.name in _SKIP_DIRS:
            continue
        if is_run_dir(child):
            yield child
        else:
            yield from _below(child)


@dataclass
class RunData:
    """One run folder, loaded. ``result`` is result.json (or a stand-in)."""

    path: Path
    run_id: str
    result: dict[str, Any]
    problems: list[str] = field(default_factory=list)

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

    def _read(self, name: str, without: str, read: Callable[[Path], T]) -> T | None:
        """``read`` the run's file ``name``; None (and a problem noted) when it is missing
        (``without`` says what the report then lacks) or unreadable."""
        path = self.path / name
        if not path.is_file():
            self.problems.append(f"no {name}: {without}")
            return None
        try:
            return read(path)
        except HarnessError as e:
            self.problems.append(str(e))
            return None

    @cached_property
    def history(self) -> tuple[dict[str, Any], list[Op]] | None:
        """(header, ops), or None when the history cannot be read (noted in ``problems``)."""
        return self._read(HISTORY_FILE, "plots over time are not available", read_history)

    @cached_property
    def reads(self) -> FinalReads | None:
        without = "stored counts and e2e latency are not available"
        return self._read(READS_FILE, without, FinalReads.load)

    @cached_property
    def analysis(self) -> Analysis | None:
        """The shared analysis of history + final reads (empty reads when those are missing)."""
        h = self.history
        if h is None:
            return None
        return Analysis(h[1], self.reads or FinalReads())

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
    if not res_path.is_file():
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
        doc = json.loads(res_path.read_text())
    except (OSError, ValueError) as e:
        return RunData(
            path,
            rid,
            _stand_in(
                path,
                f"{res_path} is unreadable ({e}); re-judge it with `wiber-harness check {path}`",
            ),
        )
    if not isinstance(doc, dict) or doc.get("schema") != RESULT_SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        return RunData(
            path,
            rid,
            _stand_in(
                path,
                f"{res_path} has schema {schema!r}, not "
                f"{RESULT_SCHEMA!r}; re-judge it with this harness",
            ),
        )
    return RunData(path, rid, doc)


def _stand_in(path: Path, reason: str) -> dict[str, Any]:
    scenario = path.name
    with contextlib.suppress(HarnessError, OSError):
        if (path / HISTORY_FILE).is_file():
            scenario = str(read_history(path / HISTORY_FILE)[0].get("scenario") or scenario)
    return {
        "schema": RESULT_SCHEMA,
        "scenario": scenario,
        "description": "",
        "verdict": "unknown",
        "exit_code": 2,
        "reasons": [reason],
        "expect": {},
        "checks": {},
        "metrics": {},
    }


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
