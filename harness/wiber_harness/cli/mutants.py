"""``wiber-harness mutants``: run the mutation suite and write its kill table.

``wiber-harness mutants [--quick] [--fast] [--only NAME]... [--seed N] --out DIR``
loads ``mutants/catalog.yaml`` (:func:`wiber_harness.mutants.load_catalog`),
runs every selected mutant against the scenarios it names on a fresh stack
each (:func:`wiber_harness.mutants.run_mutant`) and writes ``kill.json`` and
``kill.md`` into ``DIR``. ``--fast`` selects the fast subset (each on its
first, quickest scenario only). Results accumulate in ``DIR``: a mutant
already in ``DIR/kill.json`` is replaced by its new run, the others are kept,
so the suite can run one mutant at a time (``--only``). Exit 0 when no selected mutant survived or
errored, 1 when one survived, 2 when one could not be run. The local
backend only: the compose backend starts the pipeline from its app image,
not from the mutated copy, so every mutant would survive there unseen.
"""

from __future__ import annotations

from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import progress
from wiber_harness.verdict import EXIT_UNKNOWN, EXIT_VALID, EXIT_VIOLATION


@cli.command("mutants")
@click.option(
    "--catalog",
    type=click.Path(path_type=Path),
    default=Path("mutants/catalog.yaml"),
    show_default=True,
    help="The mutant catalog.",
)
@click.option(
    "--scenarios",
    "scenarios_dir",
    type=click.Path(path_type=Path),
    default=Path("scenarios"),
    show_default=True,
)
@click.option("--quick", is_flag=True, help="Run each scenario in its shortened form.")
@click.option("--fast", is_flag=True, help="Only the fast subset, each on its first scenario.")
@click.option("--only", multiple=True, metavar="NAME", help="Only these mutants (repeatable).")
@click.option("--seed", type=int, default=None, help="Override every scenario's seed.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
def mutants_cmd(
    catalog: Path,
    scenarios_dir: Path,
    quick: bool,
    fast: bool,
    only: tuple[str, ...],
    seed: int | None,
    out: Path,
) -> int:
    """Plant each mutant in a copy of the pipeline; which scenario catches it?"""
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.mutants import (
        MutantResult,
        kill_rate,
        load_catalog,
        load_results,
        merge_results,
        run_mutant,
        write_kill_table,
    )
    from wiber_harness.runner import RunOptions

    mutants = load_catalog(catalog, scenarios_dir)
    unknown = sorted(set(only) - {m.name for m in mutants})
    if unknown:
        raise InvalidScenario(f"--only {', '.join(unknown)}: no such mutant in {catalog}")
    chosen = [m for m in mutants if (not only or m.name in only) and (not fast or m.fast)]
    opts = RunOptions(
        out_root=out.resolve(), seed=seed, quick=quick, backend="local", progress=progress
    )
    order = {m.name: i for i, m in enumerate(mutants)}
    earlier = [r for r in load_results(out) if r.name in order]
    results: list[MutantResult] = []
    meta = {"quick": quick, "fast": fast, "seed": seed}

    def table() -> tuple[Path, Path]:
        merged = sorted(merge_results(earlier, results), key=lambda r: order[r.name])
        return write_kill_table(merged, mutants, out, meta)

    for m in chosen:
        r = run_mutant(m, scenarios_dir, opts, fast=fast, say=progress)
        results.append(r)
        c = r.caught_by
        click.echo(
            f"{r.status.upper():<10} {m.name:<40} {c.scenario if c else ''} {r.seconds:.0f} s"
        )
        table()
    jp, mp = table()
    killed, judged = kill_rate(results)
    click.echo(
        f"{killed} of {judged} non-equivalent mutants run here killed; kill table: {mp} "
        f"({jp.name}, every mutant run into {out})"
    )
    if any(r.status == "error" for r in results):
        return EXIT_UNKNOWN
    return EXIT_VIOLATION if any(r.status == "survived" for r in results) else EXIT_VALID
