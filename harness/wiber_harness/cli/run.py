"""Scenario commands: ``run``, ``check``, ``scenarios``, ``faults``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wiber_harness.cli import EXIT_UNKNOWN, cli
from wiber_harness.cluster.system_spec import SystemSpec

VERDICT_STYLE = {
    True: ("VALID", "green"),
    False: ("VIOLATION", "red"),
    "unknown": ("UNKNOWN", "yellow"),
}


def _progress(line: str) -> None:
    # one live line on a terminal, plain lines elsewhere (CI logs)
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{line[:200]}", err=True, nl=False)
    else:
        click.echo(line, err=True)


def print_result(r: object) -> None:
    from wiber_harness.runner import RunResult

    assert isinstance(r, RunResult)
    word, color = VERDICT_STYLE[r.verdict]
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(f"{click.style(word, fg=color, bold=True)}  {r.scenario}  ({r.run_dir})")
    for name, c in r.checks.items():
        v = VERDICT_STYLE[c["valid"]][0]
        counts = ", ".join(f"{k}={v2}" for k, v2 in list(c["counts"].items())[:8])
        click.echo(f"  {name:<13} {v:<9} {counts}")
        if c.get("error"):
            click.echo(f"  {'':<13} error: {c['error']}")
    for reason in r.reasons:
        click.echo(f"  - {reason}")


@cli.command("run")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the workload seed.")
@click.option("--rate", type=float, default=None, help="Override the workload rate (messages/s).")
@click.option("--duration", type=float, default=None, help="Override the workload duration (s).")
@click.option("--quick", is_flag=True, help="Run each scenario in its shortened form.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports") / "runs", show_default=True
)
@click.option(
    "--backend", type=click.Choice(["local", "compose"]), default="local", show_default=True
)
@click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help="Extra system setting (env)."
)
@click.option(
    "--repeat", type=int, default=1, show_default=True, help="Run each scenario N times (seed+i)."
)
@click.option(
    "--system",
    "system_profile",
    type=click.Path(path_type=Path),
    default=None,
    help="System profile (TOML) describing another pipeline implementation.",
)
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
) -> int:
    """Run scenario files on a fresh stack; exit 0 valid, 1 violation, 2 unknown."""
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.cli.stack import _settings
    from wiber_harness.runner import EXIT, RunOptions, run_scenario
    from wiber_harness.scenario import load_scenarios

    loaded = load_scenarios(scenarios)  # validate every file before starting anything
    system = _load_system(system_profile)
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
                settings=_settings(sets),
                progress=_progress,
                system=system,
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
    return EXIT[merge_validity(verdicts)]


def _load_system(path: Path | None) -> SystemSpec:
    from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM

    if path is None:
        return DEFAULT_SYSTEM
    from wiber_harness.scenario.profile import load_profile

    spec: SystemSpec = load_profile(path)
    return spec


@cli.command("check")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def check_cmd(run_dirs: tuple[Path, ...]) -> int:
    """Re-check stored runs offline from their history and final reads."""
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.runner import EXIT, check_run

    verdicts = []
    for d in run_dirs:
        r = check_run(d)
        print_result(r)
        verdicts.append(r.verdict)
    return EXIT[merge_validity(verdicts)]


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
