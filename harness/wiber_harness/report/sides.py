"""One side of the regression gate, read from whatever it was given (:func:`load_side`).

A side is a ``summary.json`` (``wiber-summary/1``), a ``bench.json``
(``wiber-bench/1``), a folder holding either, run folders or a suite folder
(their summary is built first), or an already loaded document. It is reduced
to samples per (group, figure) (:class:`Side`): a summary's groups are its
scenarios, each run one sample of each key figure (:data:`DEFAULT_FIGURES`);
a bench's groups and figures are the document's own, with their samples and
spread. Its broken promises and undecided verdicts come along. A side that
cannot be read raises :class:`~wiber_harness.report.runs.ReportError` (or
:class:`~wiber_harness.inputs.UnreadableInput`) with one sentence naming the
file, the field and the fix: a file that is not JSON, too large
(:mod:`wiber_harness.inputs`), nested deeper than 64 levels, or whose fields
the gate reads have the wrong type or a non-finite or absurd number
(:mod:`wiber_harness.report.doc_checks`); and a run folder whose
``result.json`` is unreadable. The gate's rules are in
:mod:`wiber_harness.report.compare`.

``bench.json`` (written by the benchmark suite), what the gate reads::

    {"schema": "wiber-bench/1",
     "figures": [{"name": str, "group": str (default "bench"),
                  "direction": "higher" | "lower",
                  "value": float, "spread": float (optional),
                  "samples": [float, ...] (optional; value/spread from them),
                  "unit": str, "threshold_pct": float, "floor": float (optional)},
                 ...],
     "promises": [str, ...] (optional: broken promises seen while benchmarking)}

Any other key is ignored, so the bench document can grow. The figure
specification comes from CURRENT's document (falling back to the
baseline's), so a new figure is gated as soon as both sides carry it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wiber_harness.inputs import UnreadableInput, load_json
from wiber_harness.report.doc_checks import check_bench, check_summary
from wiber_harness.report.runs import (
    ReportError,
    RunData,
    find_run_dirs,
    is_run_dir,
    load_runs,
)
from wiber_harness.report.summary import (
    PROMISE_COUNTS,
    SUMMARY_FILE,
    SUMMARY_SCHEMA,
    build_summary,
)
from wiber_harness.words import kind

Direction = Literal["higher", "lower"]
BENCH_SCHEMA = "wiber-bench/1"
BENCH_FILE = "bench.json"
DEFAULT_THRESHOLD_PCT = 30.0  # for bench figures that name no threshold


@dataclass(frozen=True)
class Figure:
    """A gated figure: which way is better and how much worse is still noise."""

    name: str
    direction: Direction
    threshold_pct: float = DEFAULT_THRESHOLD_PCT
    floor: float = 0.0
    unit: str = ""


DEFAULT_FIGURES: tuple[Figure, ...] = (
    Figure("throughput", "higher", 30.0, 0.0, "ack/s"),
    Figure("ack_p50_ms", "lower", 100.0, 5.0, "ms"),
    Figure("ack_p99_ms", "lower", 100.0, 25.0, "ms"),
    Figure("e2e_p50_ms", "lower", 100.0, 10.0, "ms"),
    Figure("e2e_p99_ms", "lower", 100.0, 50.0, "ms"),
    Figure("error_rate", "lower", 50.0, 0.05, ""),
    Figure("recovery_s", "lower", 50.0, 5.0, "s"),
    Figure("max_gap_s", "lower", 50.0, 2.0, "s"),
    Figure("convergence_s", "lower", 50.0, 10.0, "s"),
)


@dataclass
class Side:
    """One side of a comparison, reduced to samples per (group, figure)."""

    source: str
    kind: Literal["summary", "bench"]
    groups: list[str]
    samples: dict[tuple[str, str], list[float]]
    figures: dict[str, Figure]
    spreads: dict[tuple[str, str], float] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)


SideInput = Path | str | Sequence[Path] | Mapping[str, Any]


def load_side(source: SideInput) -> Side:
    """A summary.json / bench.json file or folder, run folders, or a loaded document."""
    if isinstance(source, Mapping):
        return _from_doc(dict(source), "<document>")
    if isinstance(source, str | Path):
        return _from_path(Path(source))
    dirs = [Path(p) for p in source]
    if not dirs:
        raise ReportError(
            "no run folders given; pass a summary.json, a report folder or run folders"
        )
    if len(dirs) == 1:
        return _from_path(dirs[0])
    return _from_runs(dirs, f"{len(dirs)} run folders ({dirs[0]} ...)")


def _from_runs(dirs: Sequence[Path], source: str) -> Side:
    """The summary of run folders; a run whose result.json is unreadable stops the gate."""
    runs: list[RunData] = load_runs(dirs)
    for run in runs:
        if run.unreadable:
            raise ReportError(run.unreadable[0])
    return _from_doc(build_summary(runs), source)


_FIX = "write it again with `wiber-harness report` (or the benchmark suite)"


def _from_path(path: Path) -> Side:
    if path.is_dir():
        for name in (SUMMARY_FILE, BENCH_FILE):
            p = path / name
            if p.exists() or p.is_symlink():
                return _from_doc(_read_json(p), str(p))
        if is_run_dir(path) or _has_runs(path):
            return _from_runs([path], str(path))
        raise ReportError(
            f"{path}: holds no {SUMMARY_FILE}, {BENCH_FILE} or run folders; pass a report "
            "folder, a suite folder or the JSON file itself"
        )
    if path.exists() or path.is_symlink():
        return _from_doc(_read_json(path), str(path))
    raise ReportError(
        f"{path}: no such file or folder; check the path, or write it with "
        "`wiber-harness report RUN_DIR... --out DIR`"
    )


def _has_runs(path: Path) -> bool:
    try:
        return bool(find_run_dirs([path]))
    except ReportError:
        return False


def _read_json(path: Path) -> dict[str, Any]:
    file_kind = "bench" if path.name == BENCH_FILE else "summary"
    doc = load_json(path, file_kind, _FIX)
    if not isinstance(doc, dict):
        raise UnreadableInput(
            f"{path}: the top level is {kind(doc)}, not an object of schema "
            f"{SUMMARY_SCHEMA!r} or {BENCH_SCHEMA!r}; {_FIX}"
        )
    return doc


def _from_doc(doc: dict[str, Any], source: str) -> Side:
    schema = doc.get("schema")
    try:
        if schema == SUMMARY_SCHEMA:
            return _summary_side(dict(check_summary(doc)), source)
        if schema == BENCH_SCHEMA:
            return _bench_side(dict(check_bench(doc)), source)
    except ValueError as e:
        raise UnreadableInput(f"{source}: {e}; {_FIX}") from None
    raise ReportError(
        f"{source}: schema {schema!r:.60} is neither {SUMMARY_SCHEMA!r} nor {BENCH_SCHEMA!r}; "
        "compare two summary.json or two bench.json files written by this harness"
    )


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _summary_side(doc: dict[str, Any], source: str) -> Side:
    scenarios: dict[str, Any] = dict(doc.get("scenarios") or {})
    runs: list[dict[str, Any]] = list(doc.get("runs") or [])
    samples: dict[tuple[str, str], list[float]] = {}
    names = [f.name for f in DEFAULT_FIGURES]
    by_run = bool(runs)
    for r in runs:
        for name in names:
            v = _num((r.get("metrics") or {}).get(name))
            if v is not None:
                samples.setdefault((str(r.get("scenario")), name), []).append(v)
    if not by_run:  # a hand-written or trimmed summary: one sample per scenario
        for sc, s in scenarios.items():
            for name in names:
                v = _num((s.get("metrics") or {}).get(name))
                if v is not None:
                    samples[(sc, name)] = [v]
    broken: list[str] = []
    undecided: list[str] = []
    for sc, s in scenarios.items():
        verdict = s.get("verdict")
        reasons = "; ".join(str(x) for x in s.get("reasons") or []) or "no reason recorded"
        if verdict is False:
            broken.append(f"{sc}: verdict violation ({reasons})")
        elif verdict is not True:
            undecided.append(
                f"{sc}: verdict unknown, the harness could not decide ({reasons}); "
                "look at its run in the report and run it again"
            )
        if s.get("expect_violation"):
            continue  # an unsafe-setting scenario is meant to lose or duplicate
        for r in [r for r in runs if r.get("scenario") == sc] or [s]:
            m = r.get("metrics") or {}
            for count in PROMISE_COUNTS:
                n = _num(m.get(count))
                if n:
                    where = f" in run {r['id']}" if "id" in r else ""
                    broken.append(
                        f"{sc}: {count} = {n:g}{where} (acknowledged messages must be stored "
                        "exactly once)"
                    )
    return Side(
        source,
        "summary",
        sorted(scenarios),
        samples,
        {f.name: f for f in DEFAULT_FIGURES},
        broken=broken,
        undecided=undecided,
    )


def _bench_side(doc: dict[str, Any], source: str) -> Side:
    figures: dict[str, Figure] = {}
    samples: dict[tuple[str, str], list[float]] = {}
    spreads: dict[tuple[str, str], float] = {}
    groups: set[str] = set()
    for f in doc["figures"]:  # checked by check_bench
        name, direction = f["name"], f["direction"]
        group = str(f.get("group") or "bench")
        groups.add(group)
        pct = f.get("threshold_pct")
        figures[name] = Figure(
            name,
            direction,
            float(DEFAULT_THRESHOLD_PCT if pct is None else pct),
            float(f.get("floor") or 0.0),
            str(f.get("unit") or ""),
        )
        vals = [v for v in (_num(x) for x in f.get("samples") or []) if v is not None]
        if vals:
            samples[(group, name)] = vals
        elif (v := _num(f.get("value"))) is not None:
            samples[(group, name)] = [v]
        if (sp := _num(f.get("spread"))) is not None:
            spreads[(group, name)] = sp
    broken = [str(p) for p in doc.get("promises") or []]
    return Side(source, "bench", sorted(groups), samples, figures, spreads, broken=broken)


__all__ = [
    "BENCH_FILE",
    "BENCH_SCHEMA",
    "DEFAULT_FIGURES",
    "DEFAULT_THRESHOLD_PCT",
    "Direction",
    "Figure",
    "Side",
    "SideInput",
    "load_side",
]
