"""Mutation testing of the pipeline: does the scenario catalog catch realistic bugs?

A *mutant* is one small unified-diff patch of ``system/wiber`` that plants a
realistic bug (the kind a developer could write on the default code path, no
setting involved). The curated list is ``mutants/catalog.yaml`` with one
``mutants/<name>.patch`` per mutant; this module promises:

* :func:`load_catalog` validates the whole list before anything runs: unique
  names, a patch per mutant that touches only ``system/wiber/``, at least one
  scenario of the shipped catalog (``scenarios/*.yaml``, never ``unsafe/``)
  for every mutant that is not *equivalent*, and an argument for every one
  that is. Every problem is one sentence, all raised together as
  :class:`~wiber_harness.errors.InvalidScenario`.
* :func:`materialize` applies a patch to a **temporary copy** of the
  ``wiber`` package the harness itself imports (never to the working tree)
  and checks, in a fresh interpreter with that copy first on ``PYTHONPATH``,
  that the API and the consumer import from the copy. :func:`mutant_system`
  is the :class:`~wiber_harness.cluster.system_spec.SystemSpec` that starts
  the pipeline's processes from it; the harness process keeps the original.
* :func:`run_mutant` runs the scenarios the mutant names, in order, and stops
  at the first that *catches* it: a run in which a promise checker
  (:data:`PROMISE_CHECKERS`) reports a violation. It records, per run, the
  verdict, the checkers that failed with their non-zero anomaly counts, the
  run folder and the time taken. A mutant no scenario catches *survives*; a
  run that could not decide (a harness error, an "unknown" verdict) never
  counts as a catch. The local backend only (the compose backend runs the
  pipeline from its image, so a mutant would never be in it).
* :func:`write_kill_table` writes ``kill.json`` and ``kill.md`` (the kill
  table with run times and the kill rate over the non-equivalent mutants).

Equivalent mutants (a change no promise can observe) are listed with their
argument and not run. ``wiber-harness mutants`` (:mod:`wiber_harness.cli.mutants`)
is the command; ``tests/scenario/test_mutants.py`` gates the fast subset.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from wiber_harness.checkers.delivery import VIOLATIONS as DELIVERY_VIOLATIONS
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.errors import HarnessError, InvalidScenario

if TYPE_CHECKING:
    from wiber_harness.judge import RunResult
    from wiber_harness.runner import RunOptions
    from wiber_harness.scenario import Scenario

CATALOG_SCHEMA = 1
PROMISE_CHECKERS = ("delivery", "ordering", "convergence", "redelivery")
# counts that name an anomaly (a broken promise), per checker
ANOMALIES: Mapping[str, tuple[str, ...]] = {
    # the delivery checker's own list: a count it judges by is a count a mutant is caught by
    "delivery": DELIVERY_VIOLATIONS,
    "ordering": ("realtime_violations", "realtime_messages"),
    "convergence": ("not_stored",),
    "redelivery": ("missing_redelivery", "crash_windows"),
}
AREAS = (
    "api-ack",
    "producer",
    "commit-ordering",
    "rebalance",
    "retry-dlq",
    "store",
    "read",
    "idempotency",
)
_PATCH_ROOT = "system/wiber/"


@dataclass(frozen=True)
class Mutant:
    """One entry of the catalog."""

    name: str
    area: str
    models: str  # the realistic bug it plants, one sentence
    patch: Path
    scenarios: tuple[str, ...] = ()  # scenario names, the quickest catcher first
    equivalent: str | None = None  # the argument, when no promise can observe it
    fast: bool = False  # in the fast subset (runs its first scenario only)


@dataclass
class ScenarioRun:
    """One scenario run against a mutant."""

    scenario: str
    verdict: str  # valid | violation | unknown | error
    caught: bool
    checkers: dict[str, dict[str, int]] = field(default_factory=dict)  # failed -> anomalies
    run_dir: str | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class MutantResult:
    """What the catalog did to one mutant."""

    name: str
    area: str
    status: str  # killed | survived | equivalent | error
    runs: list[ScenarioRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def caught_by(self) -> ScenarioRun | None:
        return next((r for r in self.runs if r.caught), None)


# --- the catalog ---------------------------------------------------------------------


def load_catalog(path: Path, scenarios_dir: Path) -> list[Mutant]:
    """The mutants of ``path`` (``catalog.yaml``), validated completely (see module docstring)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise InvalidScenario(
            f"{path}: cannot read the mutant catalog ({e}); fix the file"
        ) from None
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("schema") != CATALOG_SCHEMA:
        raise InvalidScenario(
            f"{path}: not a mutant catalog (want a mapping with schema: {CATALOG_SCHEMA} "
            "and mutants: [...])"
        )
    shipped = {p.stem for p in scenarios_dir.glob("*.yaml")}
    out: list[Mutant] = []
    for i, raw in enumerate(data.get("mutants") or []):
        where = f"{path}: mutants[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        m, why = _mutant(raw, path.parent, shipped)
        problems += [f"{where} ({raw.get('name', '?')}): {w}" for w in why]
        if m is not None:
            if any(o.name == m.name for o in out):
                problems.append(f"{where}: name {m.name} is used twice; pick another")
            out.append(m)
    if not out and not problems:
        problems.append(f"{path}: the catalog lists no mutant")
    if problems:
        raise InvalidScenario("\n".join(problems))
    return out


_KEYS = {"name", "area", "models", "scenarios", "equivalent", "fast"}


def _mutant(
    raw: dict[str, Any], folder: Path, shipped: set[str]
) -> tuple[Mutant | None, list[str]]:
    why = [f"unknown key {k!r}; keys are {', '.join(sorted(_KEYS))}" for k in raw if k not in _KEYS]
    name, area, models = raw.get("name"), raw.get("area"), raw.get("models")
    if not isinstance(name, str) or not name.replace("-", "").isalnum():
        return None, [*why, "name must be lower-case words joined by dashes"]
    if area not in AREAS:
        why.append(f"area {area!r} is not one of {', '.join(AREAS)}")
    if not isinstance(models, str) or not models.strip():
        why.append("models must say, in one sentence, what realistic bug the mutant plants")
    scen = raw.get("scenarios") or []
    if not isinstance(scen, list) or not all(isinstance(s, str) for s in scen):
        why.append("scenarios must be a list of scenario names")
        scen = []
    why += [
        f"scenario {s!r} is not in the shipped catalog (scenarios/*.yaml)"
        for s in scen
        if s not in shipped
    ]
    equivalent = raw.get("equivalent")
    if equivalent is not None and (not isinstance(equivalent, str) or not equivalent.strip()):
        why.append("equivalent must be the argument why no promise can observe the change")
    if equivalent is None and not scen:
        why.append("name the scenarios expected to catch it, or argue that it is equivalent")
    fast = raw.get("fast", False)
    if not isinstance(fast, bool) or (fast and not scen):
        why.append("fast must be true or false, and a fast mutant needs a scenario")
    patch = folder / f"{name}.patch"
    why += _patch_problems(patch)
    m = Mutant(name, str(area), str(models), patch, tuple(scen), equivalent, fast is True)
    return m, why


def _patch_problems(patch: Path) -> list[str]:
    try:
        text = patch.read_text()
    except OSError:
        return [f"no patch {patch}; write one (git diff of a copy of system/wiber)"]
    paths = [ln.split(None, 1)[1] for ln in text.splitlines() if ln.startswith(("--- ", "+++ "))]
    if not paths:
        return [f"{patch} is not a unified diff"]
    bad = [p for p in paths if p.split("/", 1)[-1].split("\t")[0].find(_PATCH_ROOT) != 0]
    return [f"{patch} touches {bad[0]}; a mutant may only change {_PATCH_ROOT}"] if bad else []


# --- a mutated copy of the pipeline ------------------------------------------------


def wiber_source() -> Path:
    """The folder of the ``wiber`` package the harness imports (what a mutant copies)."""
    import wiber

    return Path(wiber.__file__).resolve().parent


def materialize(
    mutant: Mutant, dest: Path, source: Path | None = None, *, check_imports: bool = True
) -> Path:
    """Copy ``wiber`` into ``dest/system/wiber``, apply the patch; the ``PYTHONPATH`` root.

    Raises :class:`HarnessError` when the patch does not apply or (with
    ``check_imports``) the copy does not import as the pipeline's processes
    would import it.
    """
    src = source or wiber_source()
    root = dest / "system"
    shutil.copytree(src, root / "wiber", ignore=shutil.ignore_patterns("__pycache__"))
    # dest is its own repository, so git apply resolves paths against it, whatever
    # repository (if any) dest sits in
    git = ["git", "-c", "user.name=mutants", "-c", "user.email=mutants@localhost"]
    for args in (["init", "-q"], ["apply", "--whitespace=nowarn", str(mutant.patch.resolve())]):
        p = subprocess.run([*git, *args], cwd=dest, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise HarnessError(
                f"mutant {mutant.name}: git {args[0]} failed: {p.stderr.strip()[:400]}; "
                f"regenerate {mutant.patch} against the current system/wiber"
            )
    shutil.rmtree(dest / ".git", ignore_errors=True)
    if check_imports:
        _check_imports(mutant, root)
    return root


def _check_imports(mutant: Mutant, root: Path) -> None:
    code = "import wiber, wiber.api, wiber.consumer; print(wiber.__file__)"
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    where = p.stdout.strip()
    if p.returncode != 0 or not where.startswith(str(root)):
        raise HarnessError(
            f"mutant {mutant.name}: the mutated copy does not import from {root} "
            f"(got {where or p.stderr.strip()[-300:]}); fix the patch"
        )


def mutant_system(mutant: Mutant, root: Path, base: SystemSpec = DEFAULT_SYSTEM) -> SystemSpec:
    """``base`` with the mutated copy first on the processes' ``PYTHONPATH``."""
    env = dict(base.env)
    env["PYTHONPATH"] = str(root)
    return replace(base, name=f"{base.name}-mutant-{mutant.name}", env=env)


@contextmanager
def mutated(mutant: Mutant, keep: Path | None = None) -> Iterator[Path]:
    """A temporary mutated copy (removed afterwards); the patch is kept in ``keep``."""
    tmp = Path(tempfile.mkdtemp(prefix=f"wiber-mutant-{mutant.name}-"))
    try:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(mutant.patch, keep / mutant.patch.name)
        yield materialize(mutant, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- running ----------------------------------------------------------------------

RunFn = Callable[["Scenario", "RunOptions"], "RunResult"]


def judge_caught(result: RunResult) -> tuple[bool, dict[str, dict[str, int]]]:
    """Did a promise checker find a violation? The failed checkers and their anomalies."""
    failed: dict[str, dict[str, int]] = {}
    for name in PROMISE_CHECKERS:
        c = result.checks.get(name)
        if c is not None and c.get("valid") is False:
            counts = c.get("counts") or {}
            failed[name] = {a: int(counts[a]) for a in ANOMALIES[name] if counts.get(a)}
    return bool(failed), failed


def run_mutant(
    mutant: Mutant,
    scenarios_dir: Path,
    opts: RunOptions,
    *,
    fast: bool = False,
    run: RunFn | None = None,
    say: Callable[[str], None] = lambda s: None,
) -> MutantResult:
    """Run the mutant's scenarios until one catches it (see module docstring)."""
    from wiber_harness.scenario import load_scenario

    if opts.backend != "local":
        raise HarnessError(
            f"mutants run on the local backend only: the {opts.backend} backend starts the "
            "pipeline from its image, not from the mutated copy; use --backend local"
        )
    res = MutantResult(mutant.name, mutant.area, "equivalent")
    if mutant.equivalent is not None:
        return res
    if run is None:
        from wiber_harness.runner import run_scenario

        run = run_scenario
    t0 = time.monotonic()
    names = mutant.scenarios[:1] if fast else mutant.scenarios
    try:
        with mutated(mutant, keep=opts.out_root / mutant.name) as root:
            system = mutant_system(mutant, root, opts.system)
            for name in names:
                sc = load_scenario(scenarios_dir / f"{name}.yaml")
                o = replace(opts, system=system, out_root=opts.out_root / mutant.name)
                say(f"mutant {mutant.name}: running {name}")
                r = _one(sc, o, run)
                res.runs.append(r)
                say(f"mutant {mutant.name}: {name}: {r.verdict}{' (caught)' if r.caught else ''}")
                if r.caught:
                    break
    except HarnessError as e:
        res.runs.append(ScenarioRun("(setup)", "error", False, error=str(e)))
    res.seconds = round(time.monotonic() - t0, 1)
    if res.caught_by is not None:
        res.status = "killed"
    elif any(r.verdict == "error" for r in res.runs) or not res.runs:
        res.status = "error"
    else:
        res.status = "survived"
    return res


def _one(sc: Scenario, opts: RunOptions, run: RunFn) -> ScenarioRun:
    from wiber_harness.verdict import word

    t = time.monotonic()
    try:
        r = run(sc, opts)
    except HarnessError as e:
        return ScenarioRun(sc.name, "error", False, seconds=_since(t), error=str(e))
    caught, failed = judge_caught(r)
    return ScenarioRun(
        sc.name, word(r.verdict).lower(), caught, failed, str(r.run_dir), seconds=_since(t)
    )


def _since(t: float) -> float:
    return round(time.monotonic() - t, 1)


# --- the kill table ------------------------------------------------------------------


def load_results(out: Path) -> list[MutantResult]:
    """The results already in ``out/kill.json`` (none when there is no such file)."""
    path = out / "kill.json"
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
        return [
            MutantResult(
                m["name"],
                m["area"],
                m["status"],
                [ScenarioRun(**r) for r in m["runs"]],
                float(m["seconds"]),
            )
            for m in doc["mutants"]
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise HarnessError(
            f"{path}: not a kill table ({e}); move it away or pick another --out"
        ) from None


def merge_results(old: Sequence[MutantResult], new: Sequence[MutantResult]) -> list[MutantResult]:
    """``old`` with every mutant of ``new`` replaced or added (catalog order kept by caller)."""
    by = {r.name: r for r in old}
    by.update({r.name: r for r in new})
    return list(by.values())


def kill_rate(results: Sequence[MutantResult]) -> tuple[int, int]:
    """(killed, non-equivalent) over the results."""
    judged = [r for r in results if r.status != "equivalent"]
    return sum(1 for r in judged if r.status == "killed"), len(judged)


def write_kill_table(
    results: Sequence[MutantResult], mutants: Sequence[Mutant], out: Path, meta: dict[str, Any]
) -> tuple[Path, Path]:
    """``kill.json`` and ``kill.md`` in ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    killed, judged = kill_rate(results)
    by = {m.name: m for m in mutants}
    doc = {
        "schema": "wiber-mutants/1",
        **meta,
        "killed": killed,
        "non_equivalent": judged,
        "kill_rate": round(killed / judged, 4) if judged else None,
        "seconds": round(sum(r.seconds for r in results), 1),
        "mutants": [
            {**asdict(r), "models": by[r.name].models, "equivalent": by[r.name].equivalent}
            for r in results
        ],
    }
    jp, mp = out / "kill.json", out / "kill.md"
    jp.write_text(json.dumps(doc, indent=2) + "\n")
    mp.write_text(render_markdown(results, by, doc))
    return jp, mp


def render_markdown(
    results: Sequence[MutantResult], by: Mapping[str, Mutant], doc: Mapping[str, Any]
) -> str:
    rate = doc["kill_rate"]
    lines = [
        "# Mutation kill table",
        "",
        f"{doc['killed']} of {doc['non_equivalent']} non-equivalent mutants killed"
        + (f" ({rate:.0%})" if rate is not None else "")
        + f"; quick: {doc.get('quick')}, seed: {doc.get('seed')}; "
        f"{doc['seconds']:.0f} s of runs.",
        "",
        "| mutant | area | status | caught by | how | runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r.caught_by
        how = (
            "; ".join(
                f"{k}: " + ", ".join(f"{a}={n}" for a, n in v.items())
                for k, v in c.checkers.items()
            )
            if c is not None
            else ""
        )
        if r.status == "equivalent":
            how = "equivalent: " + str(by[r.name].equivalent).replace("\n", " ")
        elif r.status == "error":
            how = next((x.error or "" for x in r.runs if x.error), "")[:200]
        runs = ", ".join(f"{x.scenario} {x.verdict} {x.seconds:.0f}" for x in r.runs)
        caught = c.scenario if c is not None else ""
        lines.append(f"| {r.name} | {r.area} | {r.status} | {caught} | {how} | {runs} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "ANOMALIES",
    "AREAS",
    "PROMISE_CHECKERS",
    "Mutant",
    "MutantResult",
    "ScenarioRun",
    "judge_caught",
    "kill_rate",
    "load_catalog",
    "load_results",
    "materialize",
    "merge_results",
    "mutant_system",
    "mutated",
    "render_markdown",
    "run_mutant",
    "wiber_source",
    "write_kill_table",
]
