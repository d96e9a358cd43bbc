"""Scenario commands: ``run``, ``check``, ``scenarios``, ``faults``.

Each takes ``--json`` (one document on stdout, see :mod:`wiber_harness.cli._common`).
"""

from __future__ import annotations

from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import (
    MAX_SEED,
    SEED,
    attach_target,
    backend_option,
    emit_json,
    json_option,
    parse_sets,
    print_result,
    progress,
    result_doc,
    say,
    sets_option,
    system_option,
    target_option,
)
from wiber_harness.verdict import exit_code


@cli.command("run")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--seed", type=SEED, default=None, help="Override the workload seed (0..2**32-1).")
@click.option("--rate", type=float, default=None, help="Override the workload rate (messages/s).")
@click.option("--duration", type=float, default=None, help="Override the workload duration (s).")
@click.option("--quick", is_flag=True, help="Run each scenario in its shortened form.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports") / "runs", show_default=True
)
@backend_option
@sets_option("Extra system setting (env).")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run each scenario N times (seed+i).",
)
@system_option
@target_option
@json_option
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
    as_json: bool,
    target: Path | None = None,
) -> int:
    """Run scenario files on a fresh stack; exit 0 valid, 1 violation, 2 unknown.

    Everything is checked before the first stack starts: every scenario file
    (a folder without one is an error), the profile, every --set against the
    system's settings, and every seed the --repeat runs will use.
    """
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.runner import RunOptions, run_scenario
    from wiber_harness.scenario import load_scenarios

    loaded = load_scenarios(scenarios)  # validate every file before starting anything
    backend, deployment, system = attach_target(backend, target, system_profile)
    settings = parse_sets(sets, system)
    if deployment is not None:  # refuse what the deployment cannot do, before any run
        from wiber_harness.faults.needs import check_fit

        check_fit(loaded, deployment, settings)
    plan = [(sc, _seeds(sc.workload.seed, seed, repeat)) for sc in loaded]
    results = []
    for sc, seeds in plan:
        for s in seeds:
            opts = RunOptions(
                out_root=out,
                seed=s,
                rate=rate,
                duration=duration,
                quick=quick,
                backend=backend,
                settings=dict(settings),
                progress=progress,
                system=system,
                deployment=deployment,
            )
            r = run_scenario(sc, opts)
            print_result(r, err=as_json)
            results.append(r)
    verdicts = [r.verdict for r in results]
    code = exit_code(merge_validity(verdicts))
    if repeat > 1 or len(verdicts) > 1:
        bad = sum(1 for v in verdicts if v is not True)
        say(
            f"{len(verdicts)} runs: {len(verdicts) - bad} valid, {bad} not valid "
            f"(rate {bad / len(verdicts):.2%})",
            err=as_json,
        )
    if as_json:
        return emit_json(
            "run",
            code,
            verdict=merge_validity(verdicts),
            runs=[result_doc(r) for r in results],
        )
    return code


def _seeds(own: int, seed: int | None, repeat: int) -> list[int | None]:
    """The seed of each of ``repeat`` runs (None: the scenario's own); all checked first."""
    if seed is None and repeat == 1:
        return [None]
    first = seed if seed is not None else own
    if first + repeat - 1 > MAX_SEED:
        raise click.BadParameter(
            f"seeds {first}..{first + repeat - 1} go past {MAX_SEED} (2**32-1); "
            "use a smaller --seed or fewer --repeat",
            param_hint="'--seed' / '--repeat'",
        )
    return [first + i for i in range(repeat)]


@cli.command("check")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def check_cmd(run_dirs: tuple[Path, ...], as_json: bool) -> int:
    """Re-check stored runs offline from their history and final reads.

    A missing folder or an unreadable file is one sentence and exit 2 (the checker
    could not decide), never a traceback and never exit 1.
    """
    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.judge import check_run

    results = []
    for d in run_dirs:
        r = check_run(d)
        print_result(r, err=as_json)
        results.append(r)
    verdict = merge_validity([r.verdict for r in results])
    if as_json:
        return emit_json(
            "check", exit_code(verdict), verdict=verdict, runs=[result_doc(r) for r in results]
        )
    return exit_code(verdict)


@cli.command("scenarios")
@click.argument(
    "directory", required=False, type=click.Path(path_type=Path), default=Path("scenarios")
)
@json_option
def scenarios_cmd(directory: Path, as_json: bool) -> int:
    """List the scenario files of a folder (and their unsafe/ subfolder)."""
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.scenario import list_scenarios, load_scenario

    paths = list_scenarios(directory, recursive=True)
    if not paths:
        raise InvalidScenario(
            f"{directory}: no scenario files (*.yaml, *.yml) in this folder or below; "
            "pass a folder that holds scenarios, such as scenarios/"
        )
    docs = []
    for p in paths:
        sc = load_scenario(p)
        docs.append(
            {
                "name": sc.name,
                "path": str(p),
                "description": sc.description,
                "duration": sc.workload.duration,
                "unsafe": bool(sc.expect.violation),
                "timeline": [
                    {"at": st.at, "fault": st.fault, "target": str(st.target)} for st in sc.timeline
                ],
            }
        )
        if as_json:
            continue
        faults = ", ".join(f"{s.fault}@{s.at:g}s" for s in sc.timeline) or "no faults"
        tag = " [unsafe: must violate]" if sc.expect.violation else ""
        say(f"{sc.name:<32} {sc.workload.duration:>4g}s  {faults}{tag}")
        say(f"{'':<32} {sc.description}  ({p})")
    if as_json:
        return emit_json("scenarios", 0, scenarios=docs)
    return 0


@cli.command("faults")
@json_option
def faults_cmd(as_json: bool) -> int:
    """List the fault kinds, their targets and parameters."""
    from wiber_harness.faults.catalog import CATALOG

    if as_json:
        return emit_json("faults", 0, faults=[k.to_dict() for k in CATALOG.values()])
    for k in CATALOG.values():
        say(f"{k.signature():<60} [{k.category}] {k.description}")
        heal = k.heal or "(instantaneous)"
        say(f"{'':<60} e.g. target: {k.example}; heal: {heal}")
    return 0
