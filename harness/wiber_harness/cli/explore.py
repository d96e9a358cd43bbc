"""``wiber-harness explore``: random fault schedules, shrunk to a minimal reproducer.

See :mod:`wiber_harness.explore` for the schedules, the shrinking and the
output folder. Exit 1 when a violation was found (the reproducer's path is
printed last), 0 when every run was valid, 2 otherwise.
"""

from __future__ import annotations

import random
from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import (
    backend_option,
    load_system,
    parse_sets,
    print_result,
    progress,
    sets_option,
    system_option,
    utc_folder,
)


@cli.command("explore")
@click.option(
    "--faults",
    default="kill,partition,pause,latency,duplicate",
    show_default=True,
    help="Fault mix: families kill, stop, pause, restart, partition, latency, duplicate "
    "(or duplicate_retry, duplicate_replay, offset_rewind); FAMILY@TARGET pins a target.",
)
@click.option("--runs", type=int, default=10, show_default=True, help="Schedules to draw and run.")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the first schedule (run i uses seed+i); default: a random one, printed.",
)
@click.option(
    "--scenario",
    "base",
    type=click.Path(path_type=Path),
    default=Path("scenarios") / "baseline.yaml",
    show_default=True,
    help="Base scenario: topology, workload and settings (its timeline is replaced).",
)
@click.option("--quick", is_flag=True, help="Shorten the base scenario first (like run --quick).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default reports/explore/<UTC time>).",
)
@click.option(
    "--max-reruns", type=int, default=4, show_default=True, help="Runs the shrinker may spend."
)
@click.option(
    "--max-faults", type=int, default=3, show_default=True, help="Faults per schedule, at most."
)
@click.option(
    "--min-window",
    type=float,
    default=2.0,
    show_default=True,
    help="Shortest fault window (s), drawn or shrunk to.",
)
@sets_option("System setting for every schedule (stored in the scenario files).")
@system_option
@backend_option
def explore_cmd(
    faults: str,
    runs: int,
    seed: int | None,
    base: Path,
    quick: bool,
    out: Path | None,
    max_reruns: int,
    max_faults: int,
    min_window: float,
    sets: tuple[str, ...],
    system_profile: Path | None,
    backend: str,
) -> int:
    """Run random fault schedules; shrink and store the first one that breaks a promise."""
    from wiber_harness.explore import ExploreConfig, explore
    from wiber_harness.judge import RunResult
    from wiber_harness.runner import RunOptions, run_scenario
    from wiber_harness.scenario import Scenario

    if seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
        click.echo(f"explore: --seed {seed}", err=True)
    system = load_system(system_profile)
    # the run folders go inside the explore folder, so it is named here
    out = out or utc_folder("explore")
    cfg = ExploreConfig(
        base=base,
        faults=faults,
        runs=runs,
        seed=seed,
        quick=quick,
        out=out,
        max_reruns=max_reruns,
        max_faults=max_faults,
        min_window=min_window,
        settings=parse_sets(sets),
        system=system_profile,
    )

    def run(sc: Scenario) -> RunResult:
        opts = RunOptions(out_root=out / "runs", backend=backend, system=system, progress=progress)
        r = run_scenario(sc, opts)
        print_result(r)
        return r

    def say(line: str) -> None:
        click.echo(f"explore: {line}", err=True)

    report = explore(cfg, run, say)
    n_bad = sum(1 for o in report.outcomes if o.verdict is not True)
    click.echo(
        f"{len(report.outcomes)} runs ({n_bad} not valid); summary: {report.out / 'explore.json'}"
    )
    if report.found is not None and report.shrunk is not None and report.minimal is not None:
        k = report.found.kinds[0]
        click.echo(
            f"violation {k[0]}/{k[1]} found by {report.found.scenario.name}: "
            f"{len(report.found.scenario.timeline)} -> {len(report.shrunk.faults)} faults after "
            f"{report.shrunk.reruns} re-runs"
        )
        click.echo(f"minimal reproducer: {report.minimal}")
        again = f" --system {system_profile}" if system_profile else ""
        click.echo(f"replay: wiber-harness run {report.minimal}{again}")
    return report.exit_code
