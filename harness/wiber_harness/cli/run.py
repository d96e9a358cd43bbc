"""Scenario commands: ``run``, ``check``, ``scenarios``, ``faults``."""

from __future__ import annotations

from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import (
    attach_target,
    backend_option,
    parse_sets,
    print_result,
    progress,
    sets_option,
    system_option,
    target_option,
)
from wiber_harness.verdict import EXIT_UNKNOWN, exit_code


@cli.command("run")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the workload seed.")
@click.option("--rate", type=float, default=None, help="Override the workload rate (messages/s).")
@click.option("--duration", type=float, default=None, help="Override the workload duration (s).")
@click.option("--quick", is_flag=True, help="Run each scenario in its shortened form.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports") / "runs", show_default=True
)
@backend_option
@sets_option("Extra system setting (env).")
@click.option(
    "--repeat", type=int, default=1, show_default=True, help="Run each scenario N times (seed+i)."
)
@system_option
@target_option
def run_cmd(
    scenarios: tuple[Path, ...],
    seed: int | None,
    rate: float | None,
    duration: float | None,
    quick: bool,
    out: Path,
    backend: str,
    sets: tuple[str, ...],
    repeat: int,
    system_profile: Path | None,
    target: Path | None = None,
) -> int:
    """Run scenario files on a fresh stack; exit 0 valid, 1 violation, 2 unknown."""
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.runner import RunOptions, run_scenario
    from wiber_harness.scenario import load_scenarios

    loaded = load_scenarios(scenarios)  # validate every file before starting anything
    backend, deployment, system = attach_target(backend, target, system_profile)
    if deployment is not None:  # refuse what the deployment cannot do, before any run
        from wiber_harness.faults.needs import check_fit

        check_fit(loaded, deployment, parse_sets(sets))
    verdicts = []
    for sc in loaded:
        for i in range(max(1, repeat)):
            s = (
                None
                if seed is None and repeat == 1
                else (seed if seed is not None else sc.workload.seed) + i
            )
            opts = RunOptions(
                out_root=out,
                seed=s,
                rate=rate,
                duration=duration,
                quick=quick,
                backend=backend,
                settings=parse_sets(sets),
                progress=progress,
                system=system,
                deployment=deployment,
            )
            r = run_scenario(sc, opts)
            print_result(r)
            verdicts.append(r.verdict)
    if repeat > 1 or len(verdicts) > 1:
        bad = sum(1 for v in verdicts if v is not True)
        click.echo(
            f"{len(verdicts)} runs: {len(verdicts) - bad} valid, {bad} not valid "
            f"(rate {bad / len(verdicts):.2%})"
        )
    return exit_code(merge_validity(verdicts))


@cli.command("check")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def check_cmd(run_dirs: tuple[Path, ...]) -> int:
    """Re-check stored runs offline from their history and final reads."""
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.judge import check_run

    verdicts = []
    for d in run_dirs:
        r = check_run(d)
        print_result(r)
        verdicts.append(r.verdict)
    return exit_code(merge_validity(verdicts))


@cli.command("scenarios")
@click.argument(
    "directory", required=False, type=click.Path(path_type=Path), default=Path("scenarios")
)
def scenarios_cmd(directory: Path) -> int:
    """List the scenario files of a folder (and their unsafe/ subfolder)."""
    from wiber_harness.scenario import list_scenarios, load_scenario

    paths = list_scenarios(directory, recursive=True)
    if not paths:
        click.echo(f"no scenario files in {directory}", err=True)
        return EXIT_UNKNOWN
    for p in paths:
        sc = load_scenario(p)
        faults = ", ".join(f"{s.fault}@{s.at:g}s" for s in sc.timeline) or "no faults"
        tag = " [unsafe: must violate]" if sc.expect.violation else ""
        click.echo(f"{sc.name:<32} {sc.workload.duration:>4g}s  {faults}{tag}")
        click.echo(f"{'':<32} {sc.description}  ({p})")
    return 0


@cli.command("faults")
def faults_cmd() -> int:
    """List the fault kinds, their targets and parameters."""
    from wiber_harness.faults.catalog import CATALOG

    for k in CATALOG.values():
        click.echo(f"{k.signature():<60} [{k.category}] {k.description}")
        heal = k.heal or "(instantaneous)"
        click.echo(f"{'':<60} e.g. target: {k.example}; heal: {heal}")
    return 0
