"""Random fault schedules: draw them, run them, shrink the ones that break a promise.
One module of about 700 lines because drawing, running and shrinking share the
:class:`Fault`/:data:`Schedule` types and this docstring is the one
specification of all three; what each fault kind contributes to a draw lives
with the kind, in :mod:`wiber_harness.faults.kinds`.

``wiber-harness explore --faults kill,partition --runs N --seed S`` runs N
scenarios, each the base scenario's topology and workload (default
``scenarios/baseline.yaml``; ``--quick`` shortens it first) with a fault
timeline drawn at random from a *fault mix*. A run whose verdict is a
violation (False) is shrunk to a minimal reproducer, stored as a scenario
file that ``wiber-harness run FILE`` replays.

**Fault mix.** Comma-separated families (:data:`FAMILIES`, declared by
each kind's module in :mod:`wiber_harness.faults.kinds`): ``kill``,
``stop``, ``pause``, ``restart`` (process faults), ``partition``,
``latency`` (link faults), ``duplicate`` (``duplicate_retry``,
``duplicate_replay``, ``offset_rewind``), or one of those three by name.
``FAMILY@TARGET`` pins the family to one target spec
(``partition@link(consumer, store)``); otherwise targets are drawn from
:func:`default_targets` for the base topology (including seeded picks like
``consumer.any`` and ``kafka.leader(partition=0)``).

**Schedules** (:func:`draw_schedule`, one definition for both drawing
back-ends): 1..``max_faults`` faults; each picks a family, a kind of the
family, a target, a start time (half-second grid, from ``WARMUP_S`` s),
a window (healable kinds; ``min_window`` s, default ``MIN_WINDOW_S``, up
to half the workload,
healed at least 1 s before the workload ends) and parameters (latency,
counts, rewind depth). Overlap is allowed, except that two faults on the
same *resource* may not be in effect at once (a later one is dropped): one
process fault per role (plus ``GAP_S`` s for the node to come back; an
offset rewind counts as a consumer fault), one link fault per kind. Each
kind's :class:`~wiber_harness.faults.kind.Explorable` says what it draws
and occupies. That
rule keeps every fault effective: a second kill of an already-dead
process would have no evidence and make the run "unknown".
:func:`schedules` is the same definition as a hypothesis strategy (for
property tests and hypothesis-driven exploration); :func:`seeded_schedule`
draws it with ``random.Random`` from a seed, which is what the CLI does:
run ``i`` uses seed ``S + i`` both for its schedule and as its workload
seed, and the nemesis resolves random targets from that same seed, so the
stored scenario replays the same faults at the same times on the same
nodes.

**Verdict and violation kind.** Explored scenarios expect
``valid: [delivery, ordering, convergence]`` with no thresholds: explore
hunts broken promises, not slow recoveries. A run's violation kinds are the
(checker, anomaly) pairs of its failing checkers with a positive count
(:data:`ANOMALIES`; a failing checker with none is ``(checker,
"violation")``); its *target* is the first in that order.

**Shrinking** (:func:`shrink`, greedy, at most ``max_reruns`` re-runs):
candidates in order: drop one fault (last first), halve one window (not
below the explored ``min_window``, so the reproducer stays as reliable as
what was explored), end the workload ``TAIL_S`` s after the last
heal. A candidate is kept when its run violates with the same target kind
(same checker and anomaly); the next pass starts from it. Runs that are
valid, unknown or violate differently are rejected.

**Output** (``--out``, default ``reports/explore/<UTC time>``):
``schedules/<name>.yaml`` for every schedule run (shrink candidates too),
``runs/`` the run folders, ``minimal-<name>.yaml`` the reproducer, and
``explore.json`` the summary. Scenario files start with comments naming
the seed, the mix and the replay command. ``--set NAME=VALUE`` goes into
each scenario's ``topology.settings`` (so the file replays it);
``--system PROFILE`` is not part of a scenario: pass it to ``run`` again
(the header says so).

Exit code of the command: 1 a violation was found (reproducer stored), 0
every run valid, 2 otherwise (some run unknown, or bad input).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from hypothesis import strategies as st

from wiber_harness.errors import InvalidScenario
from wiber_harness.faults.catalog import CatalogError, check_target, fault_kind
from wiber_harness.faults.kind import Draw
from wiber_harness.faults.registry import explorable, families
from wiber_harness.scenario import DEFAULT_VALID, Scenario, parse_scenario
from wiber_harness.scenario.targets import (
    TargetResolutionError,
    TargetSyntaxError,
    TopologyView,
    parse,
    resolve,
)
from wiber_harness.verdict import quiet_word

T = TypeVar("T")

# every --faults word and its kinds, from the kinds' own Explorable (faults/kinds)
FAMILIES: Mapping[str, tuple[str, ...]] = families()
DEFAULT_MIX = "kill,partition,pause,latency,duplicate"
WARMUP_S = 2.0  # no fault before the pipeline has carried some load
MIN_WINDOW_S = 2.0
GAP_S = 2.0  # a healed process needs a moment before the same role is hit again
INSTANT_S = 5.0  # how long an instantaneous restart or rewind occupies its resource
TAIL_S = 5.0  # load after the last heal when a shrink trims the workload
ANOMALIES: Mapping[str, tuple[str, ...]] = {
    "delivery": ("lost", "unreadable", "duplicated", "duplicated_ids", "aborted", "unexpected"),
    "ordering": ("realtime_violations",),
    "convergence": ("not_drained",),
}

Kind = tuple[str, str]  # (checker, anomaly)


# --- the fault mix and the schedule space ------------------------------------


@dataclass(frozen=True)
class MixEntry:
    """One family of the mix, optionally pinned to one target."""

    family: str
    kinds: tuple[str, ...]
    target: str | None = None


@dataclass(frozen=True)
class Space:
    """Everything a schedule is drawn from."""

    mix: tuple[MixEntry, ...]
    duration: float
    consumers: int
    apis: int
    partitions: int
    max_faults: int = 3
    min_window: float = MIN_WINDOW_S

    @classmethod
    def for_base(
        cls,
        base: Scenario,
        mix: tuple[MixEntry, ...],
        max_faults: int = 3,
        min_window: float = MIN_WINDOW_S,
    ) -> Space:
        t = base.topology
        return cls(
            mix,
            float(base.workload.duration),
            t.consumers,
            t.apis,
            t.partitions,
            max_faults,
            min_window,
        )


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses (targets hold commas)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur]


def parse_mix(text: str, base: Scenario) -> tuple[MixEntry, ...]:
    """``kill,partition@link(consumer, store)`` -> entries.

    A bad word or target raises InvalidScenario naming --faults and the fix.
    """
    import difflib

    entries: list[MixEntry] = []
    view = TopologyView(base.topology.brokers, base.topology.consumers, base.topology.apis)
    for raw in _split_top(text):
        word, _, target = (s.strip() for s in raw.partition("@"))
        if word not in FAMILIES:
            close = difflib.get_close_matches(word, list(FAMILIES), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InvalidScenario(
                f"--faults: '{word}' is not a fault family; {hint}use a comma-separated "
                f"list of {', '.join(FAMILIES)} (FAMILY@TARGET pins a target)"
            )
        if target:
            for kind in FAMILIES[word]:
                try:
                    t = parse(target)
                    check_target(fault_kind(kind), t)
                    resolve(t, view)
                except (TargetSyntaxError, TargetResolutionError, CatalogError) as e:
                    raise InvalidScenario(f"--faults: {word}@{target}: {e}") from None
        entries.append(MixEntry(word, FAMILIES[word], target or None))
    if not entries:
        raise InvalidScenario(f"--faults: the mix is empty; give families such as {DEFAULT_MIX}")
    return tuple(entries)


def default_targets(kind: str, space: Space) -> tuple[str, ...]:
    """Targets a kind is drawn from (repeats weight the draw).

    ``("workload",)`` for a kind explore never draws.
    """
    ex = explorable(kind)
    return ("workload",) if ex is None else ex.targets(space)


# --- drawing -------------------------------------------------------------------


class RandomDraw:
    """Seeded drawing with the standard library (what the CLI uses)."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(f"wiber-explore/{seed}")

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


class HypothesisDraw:
    """Drawing inside a hypothesis strategy (shrinks toward fewer, earlier, shorter faults)."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self.draw(st.integers(0, len(options) - 1)))]


@dataclass(frozen=True)
class Fault:
    """One drawn fault: a timeline step."""

    at: float
    kind: str
    target: str
    hold: float | None = None  # seconds until the heal; None for instantaneous kinds
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def end(self) -> float:
        """Until when it occupies its resource."""
        ex = explorable(self.kind)
        if self.hold is not None:
            return self.at + self.hold + (GAP_S if ex is not None and ex.settles else 0.0)
        return self.at + (INSTANT_S if ex is not None and ex.lingers else 0.0)

    @property
    def resource(self) -> str | None:
        """What it occupies (two faults on one resource never overlap); None: nothing."""
        ex = explorable(self.kind)
        return None if ex is None else ex.resource(self.target)

    def to_step(self) -> dict[str, Any]:
        step: dict[str, Any] = {"at": self.at, "fault": self.kind, "target": self.target}
        if self.hold is not None:
            step["for"] = self.hold
        if self.params:
            step["params"] = dict(self.params)
        return step

    def describe(self) -> str:
        window = f" for {self.hold:g} s" if self.hold is not None else ""
        return f"{self.kind} {self.target} at {self.at:g} s{window}"


Schedule = tuple[Fault, ...]


def _params(draw: Draw, kind: str) -> tuple[tuple[str, Any], ...]:
    ex = explorable(kind)
    return () if ex is None else ex.params(draw)


def draw_schedule(draw: Draw, space: Space) -> Schedule:
    """One schedule from ``space`` (see the module docstring for the rules)."""

    def half(s: float) -> int:  # times are drawn on a half-second grid
        return int(s * 2)

    last_heal = space.duration - 1.0
    faults: list[Fault] = []
    for _ in range(draw.integer(1, space.max_faults)):
        entry = draw.choice(space.mix)
        kind = draw.choice(entry.kinds)
        target = entry.target or draw.choice(default_targets(kind, space))
        healable = fault_kind(kind).healable
        latest = last_heal - (space.min_window if healable else 0.0)
        at = draw.integer(half(WARMUP_S), max(half(WARMUP_S), half(latest))) / 2
        hold = None
        if healable:
            longest = max(space.min_window, min(space.duration / 2, last_heal - at))
            hold = draw.integer(half(space.min_window), half(longest)) / 2
        f = Fault(at, kind, target, hold, _params(draw, kind))
        if f.resource is None or all(
            o.resource != f.resource or o.end <= f.at or f.end <= o.at for o in faults
        ):
            faults.append(f)
    return tuple(sorted(faults, key=lambda f: f.at))


def seeded_schedule(space: Space, seed: int) -> Schedule:
    """The schedule of one explore run: the same seed always gives the same faults."""
    return draw_schedule(RandomDraw(seed), space)


def schedules(space: Space) -> st.SearchStrategy[Schedule]:
    """The same schedules as a hypothesis strategy."""
    return st.composite(lambda draw: draw_schedule(HypothesisDraw(draw), space))()


# --- scenarios, verdicts ----------------------------------------------------------


def schedule_scenario(
    base: Scenario,
    faults: Schedule,
    *,
    name: str,
    seed: int,
    settings: Mapping[str, str] | None = None,
    duration: float | None = None,
) -> Scenario:
    """The base scenario with ``faults`` as its timeline and ``seed`` as its workload seed.

    It expects safety (the promise checkers valid), no thresholds.
    """
    data = base.to_dict()
    data["name"] = name
    what = "; ".join(f.describe() for f in faults) or "no faults"
    data["description"] = f"Explored schedule (seed {seed}) on {base.name}: {what}."
    data["workload"]["seed"] = seed
    if duration is not None:
        data["workload"]["duration"] = duration
    data["topology"]["settings"] = {**data["topology"].get("settings", {}), **(settings or {})}
    data["timeline"] = [f.to_step() for f in faults]
    data["expect"] = {"valid": list(DEFAULT_VALID)}
    return parse_scenario(
        yaml.safe_dump(data, sort_keys=False), f"explore schedule {name} (from {base.source})"
    )


def violation_kinds(checks: Mapping[str, Mapping[str, Any]]) -> tuple[Kind, ...]:
    """(checker, anomaly) of every failing checker, in :data:`ANOMALIES` order."""
    out: list[Kind] = []
    for checker, c in checks.items():
        if c.get("valid") is not False or checker == "faults":
            continue
        counts = c.get("counts") or {}
        names = ANOMALIES.get(checker, ())
        found = [(checker, a) for a in names if a == "not_drained" or (counts.get(a) or 0) > 0]
        out += found or [(checker, "violation")]
    order = [(c, a) for c, names in ANOMALIES.items() for a in names]
    return tuple(sorted(out, key=lambda k: order.index(k) if k in order else len(order)))


@dataclass(frozen=True)
class Outcome:
    """What one run of a schedule showed."""

    scenario: Scenario
    path: Path  # the scenario file
    verdict: Any  # True | False | "unknown"
    kinds: tuple[Kind, ...]
    run_dir: Path | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "file": str(self.path),
            "verdict": self.verdict,
            "kinds": [f"{c}/{a}" for c, a in self.kinds],
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "seconds": round(self.seconds, 1),
        }


RunFn = Callable[[Scenario], Any]  # -> RunResult (verdict, checks, run_dir)


@dataclass
class Explorer:
    """Writes each schedule as a scenario file, runs it, remembers the outcome."""

    base: Scenario
    out: Path
    run: RunFn
    settings: Mapping[str, str] = field(default_factory=dict)
    header: str = ""
    say: Callable[[str], None] = lambda s: None
    outcomes: list[Outcome] = field(default_factory=list)

    def scenario(
        self, faults: Schedule, seed: int, name: str, duration: float | None = None
    ) -> Scenario:
        return schedule_scenario(
            self.base, faults, name=name, seed=seed, settings=self.settings, duration=duration
        )

    def write(self, sc: Scenario, path: Path, note: str = "") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"# {x}" for x in (note, *self.header.splitlines()) if x]
        path.write_text("\n".join(lines) + ("\n" if lines else "") + sc.to_yaml())
        return path

    def attempt(self, sc: Scenario, note: str = "") -> Outcome:
        path = self.write(sc, self.out / "schedules" / f"{sc.name}.yaml", note)
        t0 = time.monotonic()
        r = self.run(sc)
        kinds = violation_kinds(r.checks) if r.verdict is False else ()
        o = Outcome(sc, path, r.verdict, kinds, getattr(r, "run_dir", None), time.monotonic() - t0)
        self.outcomes.append(o)
        word = quiet_word(r.verdict)
        extra = f" ({', '.join(f'{c}/{a}' for c, a in kinds)})" if kinds else ""
        self.say(f"{sc.name}: {word}{extra} in {o.seconds:.0f} s: {sc.description}")
        return o


@dataclass(frozen=True)
class Shrunk:
    """The result of :func:`shrink`."""

    faults: Schedule
    duration: float
    outcome: Outcome  # the smallest run that still showed the target kind
    reruns: int


def _candidates(
    faults: Schedule, duration: float, min_window: float
) -> list[tuple[Schedule, float]]:
    out: list[tuple[Schedule, float]] = []
    if len(faults) > 1:
        out += [(faults[:i] + faults[i + 1 :], duration) for i in reversed(range(len(faults)))]
    for i, f in enumerate(faults):
        if f.hold is not None and f.hold > min_window:
            shorter = max(min_window, math.floor(f.hold) / 2)  # stays on the half-second grid
            out.append(((*faults[:i], replace(f, hold=shorter), *faults[i + 1 :]), duration))
    end = max((f.at + (f.hold or 0.0) for f in faults), default=0.0) + TAIL_S
    trimmed = float(math.ceil(end))
    if trimmed <= duration - 3:
        out.append((faults, trimmed))
    return out


def shrink(
    explorer: Explorer,
    found: Outcome,
    faults: Schedule,
    seed: int,
    max_reruns: int,
    min_window: float = MIN_WINDOW_S,
) -> Shrunk:
    """Greedy shrinking of a violating schedule within ``max_reruns`` runs.

    See the module docstring for the candidates and what is kept.
    """
    target = found.kinds[0]
    best = Shrunk(faults, float(found.scenario.workload.duration), found, 0)
    runs = 0
    improved = True
    while improved and runs < max_reruns:
        improved = False
        for cand, duration in _candidates(best.faults, best.duration, min_window):
            if runs >= max_reruns:
                break
            runs += 1
            sc = explorer.scenario(cand, seed, f"{found.scenario.name}-s{runs}", duration)
            o = explorer.attempt(
                sc,
                f"shrink step {runs} of {found.scenario.name}, looking for {target[0]}/{target[1]}",
            )
            if o.verdict is False and target in o.kinds:
                best = Shrunk(cand, duration, o, runs)
                improved = True
                break
    return replace(best, reruns=runs)


class _Found(Exception):
    """Stops a hypothesis search at the first violating schedule."""


def hypothesis_search(
    explorer: Explorer, space: Space, max_examples: int
) -> tuple[Outcome, Schedule, int] | None:
    """Search with hypothesis itself: at most ``max_examples`` runs of :func:`schedules` examples.

    The property "no schedule breaks a promise" is checked by hypothesis
    (derandomized, generation only: shrinking is :func:`shrink`'s job, with
    its own bounded budget); returns the first violating run, its schedule
    and workload seed, or None. Runs are memoised, so hypothesis replaying
    the failing example costs nothing.
    """
    from hypothesis import HealthCheck, Phase, given, settings

    memo: dict[tuple[Schedule, int], Outcome] = {}
    found: list[tuple[Outcome, Schedule, int]] = []

    @settings(
        max_examples=max_examples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(schedules(space), st.integers(1, 999_999))
    def no_violation(faults: Schedule, seed: int) -> None:
        if (faults, seed) not in memo:
            n = len(memo) + 1
            sc = explorer.scenario(faults, seed, f"{explorer.base.name}-h{n}")
            memo[faults, seed] = explorer.attempt(
                sc, f"hypothesis example {n} of at most {max_examples}"
            )
        o = memo[faults, seed]
        if o.verdict is False:
            if not found:
                found.append((o, faults, seed))
            raise _Found(o.scenario.name)

    try:
        no_violation()
    except _Found:
        return found[0]
    return None


def shrink_and_store(
    explorer: Explorer,
    found: Outcome,
    faults: Schedule,
    seed: int,
    max_reruns: int,
    min_window: float = MIN_WINDOW_S,
) -> tuple[Shrunk, Path]:
    """Shrink a violating schedule and write ``minimal-<name>.yaml`` into the explorer's folder."""
    k = found.kinds[0]
    explorer.say(
        f"{found.scenario.name}: {k[0]}/{k[1]}; shrinking with at most {max_reruns} re-runs"
    )
    shrunk = shrink(explorer, found, faults, seed, max_reruns, min_window)
    best = shrunk.outcome
    path = explorer.write(
        best.scenario,
        explorer.out / f"minimal-{best.scenario.name}.yaml",
        f"minimal reproducer of {k[0]}/{k[1]} found by {found.scenario.name} "
        f"({len(faults)} -> {len(shrunk.faults)} faults, {shrunk.reruns} re-runs); "
        f"it violated in {best.run_dir}",
    )
    explorer.say(f"minimal reproducer: {path}")
    return shrunk, path


# --- the command ----------------------------------------------------------------


@dataclass(frozen=True)
class ExploreConfig:
    """Options of ``wiber-harness explore``."""

    base: Path = Path("scenarios") / "baseline.yaml"
    faults: str = DEFAULT_MIX
    runs: int = 10
    seed: int = 1
    quick: bool = False
    out: Path | None = None
    max_reruns: int = 4
    max_faults: int = 3
    min_window: float = MIN_WINDOW_S
    settings: Mapping[str, str] = field(default_factory=dict)
    system: Path | None = None


@dataclass
class ExploreReport:
    """What :func:`explore` did; ``minimal`` is the reproducer's path (None: no violation)."""

    out: Path
    outcomes: list[Outcome]
    found: Outcome | None = None
    shrunk: Shrunk | None = None
    minimal: Path | None = None

    @property
    def exit_code(self) -> int:
        if self.found is not None:
            return 1
        return 0 if all(o.verdict is True for o in self.outcomes) else 2

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "out": str(self.out),
            "runs": [o.to_dict() for o in self.outcomes],
            "exit_code": self.exit_code,
        }
        if self.found is not None and self.shrunk is not None:
            d["violation"] = {
                "kind": "/".join(self.found.kinds[0]),
                "found_by": self.found.scenario.name,
                "faults_before": len(self.found.scenario.timeline),
                "faults_after": len(self.shrunk.faults),
                "reruns": self.shrunk.reruns,
                "minimal": str(self.minimal),
            }
        return d


def explore(
    cfg: ExploreConfig, run: RunFn, say: Callable[[str], None] = lambda s: None
) -> ExploreReport:
    """Draw ``cfg.runs`` schedules, run each with ``run``; shrink and store the first violation."""
    from wiber_harness.scenario import load_scenario

    if cfg.runs < 1 or cfg.max_reruns < 0 or cfg.max_faults < 1 or cfg.min_window < 0.5:
        raise InvalidScenario(
            "explore: --runs and --max-faults must be >= 1, --max-reruns >= 0 and "
            "--min-window >= 0.5; fix the option"
        )
    base = load_scenario(cfg.base)
    base = base.quick() if cfg.quick else base
    space = Space.for_base(base, parse_mix(cfg.faults, base), cfg.max_faults, cfg.min_window)
    if space.duration - 1.0 - WARMUP_S < space.min_window:
        raise InvalidScenario(
            f"explore: --min-window {cfg.min_window:g} s does not fit a "
            f"{space.duration:g} s workload after the {WARMUP_S:g} s warm-up; "
            "lower it or use a longer base scenario"
        )
    out = (
        cfg.out or Path("reports") / "explore" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    ).resolve()
    sets = "".join(f" --set {k}={v}" for k, v in cfg.settings.items())
    system = f" --system {cfg.system}" if cfg.system else ""
    header = (
        f"wiber-harness explore --faults '{cfg.faults}' --seed {cfg.seed} --scenario {cfg.base}"
        f"{' --quick' if cfg.quick else ''}{sets}{system}\n"
        f"replay exactly (same faults, times, seeded targets): wiber-harness run THIS_FILE{system}"
    )
    ex = Explorer(base, out, run, cfg.settings, header, say)
    # every --set is validated once, before anything starts
    ex.scenario((), cfg.seed, f"{base.name}-x{cfg.seed}")
    report = ExploreReport(out, ex.outcomes)
    for i in range(cfg.runs):
        seed = cfg.seed + i
        faults = seeded_schedule(space, seed)
        sc = ex.scenario(faults, seed, f"{base.name}-x{seed}")
        o = ex.attempt(sc, f"explore run {i + 1} of {cfg.runs}: schedule seed {seed}")
        if o.verdict is False:
            report.found = o
            report.shrunk, report.minimal = shrink_and_store(
                ex, o, faults, seed, cfg.max_reruns, cfg.min_window
            )
            break
    out.mkdir(parents=True, exist_ok=True)
    (out / "explore.json").write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return report


__all__ = [
    "ANOMALIES",
    "DEFAULT_MIX",
    "FAMILIES",
    "Draw",
    "ExploreConfig",
    "ExploreReport",
    "Explorer",
    "Fault",
    "HypothesisDraw",
    "MixEntry",
    "Outcome",
    "RandomDraw",
    "Schedule",
    "Shrunk",
    "Space",
    "default_targets",
    "draw_schedule",
    "explore",
    "hypothesis_search",
    "parse_mix",
    "schedule_scenario",
    "schedules",
    "seeded_schedule",
    "shrink",
    "shrink_and_store",
    "violation_kinds",
]
