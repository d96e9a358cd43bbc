"""``wiber-harness suite``: the standard scenario suite, then the report.

The full suite is every scenario in ``scenarios/`` (not ``unsafe/``); the
quick suite is :data:`QUICK_SUITE`, each in its shortened form. Each
scenario runs on its own fresh stack, with a progress bar; the command ends
with the verdict table and the path of the report (``index.html``,
``summary.md``, ``summary.json``, ``junit.xml`` in the suite folder).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import (
    SEED,
    attach_target,
    backend_option,
    say,
    system_option,
    target_option,
    utc_folder,
)
from wiber_harness.printable import escape_controls
from wiber_harness.verdict import exit_code, styled, word

QUICK_SUITE = (
    "baseline",
    "leader-kill",
    "consumer-kill-failpoint",
    "consumer-store-partition",
    "duplicate-retry",
    "offset-rewind",
)


def suite_paths(directory: Path, quick: bool) -> list[Path]:
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.scenario import list_scenarios

    if quick:
        paths = [directory / f"{n}.yaml" for n in QUICK_SUITE]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise InvalidScenario(
                f"the quick suite needs {', '.join(missing)}; restore them or run the full suite"
            )
        return paths
    return list_scenarios(directory)


@cli.command("suite")
@backend_option
@click.option("--quick", is_flag=True, help=f"Only {', '.join(QUICK_SUITE)}, each shortened.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Suite folder (default reports/suites/<UTC time>).",
)
@click.option(
    "--scenarios",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("scenarios"),
    show_default=True,
)
@click.option("--seed", type=SEED, default=None, help="Override every scenario's seed.")
@system_option
@target_option
def suite_cmd(
    backend: str,
    quick: bool,
    out: Path | None,
    directory: Path,
    seed: int | None,
    system_profile: Path | None,
    target: Path | None = None,
) -> int:
    """Run the standard scenario suite and write the report."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from wiber_harness.checkers.base import merge_validity
    from wiber_harness.judge import RunResult
    from wiber_harness.report import build_report
    from wiber_harness.runner import RunOptions, run_scenario
    from wiber_harness.scenario import load_scenarios

    scenarios = load_scenarios(suite_paths(directory, quick))
    backend, deployment, system = attach_target(backend, target, system_profile)
    if deployment is not None:  # refuse what the deployment cannot do, before any run
        from wiber_harness.faults.needs import check_fit

        check_fit(scenarios, deployment)
    folder = out or utc_folder("suites")
    runs_root = folder / "runs"
    console = Console(stderr=True)
    # on a terminal a live bar per scenario; elsewhere (CI, a log file) the bars would
    # only be drawn at the end, so a plain line per scenario start and end instead
    plain = not console.is_terminal
    results: list[RunResult] = []
    with Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=plain,
    ) as prog:
        tasks = {sc.name: prog.add_task(sc.name, total=1.0, status="waiting") for sc in scenarios}
        for i, sc in enumerate(scenarios, 1):
            task = tasks[sc.name]
            started = time.monotonic()
            if plain:
                say(f"[{i}/{len(scenarios)}] {sc.name}: running", err=True)

            def tick(el: float, dur: float, p: dict[str, int], task: TaskID = task) -> None:
                prog.update(
                    task,
                    completed=min(el / dur, 1.0) * 0.9,
                    status=f"ok {p.get('ok', 0)} fail {p.get('fail', 0)} info {p.get('info', 0)}",
                )

            def status(line: str, task: TaskID = task) -> None:
                if line.split(": ", 1)[-1].startswith(
                    ("starting", "stack ready", "draining", "stopping")
                ):
                    prog.update(task, status=line.split(": ", 1)[-1][:40])

            opts = RunOptions(
                out_root=runs_root,
                quick=quick,
                backend=backend,
                seed=seed,
                progress=status,
                tick=tick,
                system=system,
                deployment=deployment,
            )
            r = run_scenario(sc, opts)
            results.append(r)
            prog.update(task, completed=1.0, status=styled(r.verdict))
            if plain:
                took = time.monotonic() - started
                done = f"{word(r.verdict)} in {took:.0f} s"
                say(f"[{i}/{len(scenarios)}] {sc.name}: {done}", err=True)
    table = Table(title=f"suite ({'quick' if quick else 'full'}, {backend})")
    for col in ("scenario", "verdict", "acked/s", "ack p99 ms", "lost", "dup", "reasons"):
        table.add_column(col)
    for r in results:
        th = r.metrics.get("thresholds", {})
        table.add_row(
            r.scenario,
            styled(r.verdict),
            _fmt(th.get("throughput")),
            _fmt(th.get("ack_p99_ms")),
            _fmt(th.get("lost")),
            _fmt(th.get("duplicated")),
            escape(escape_controls("; ".join(r.reasons)[:80])),
        )
    Console().print(table)
    paths = build_report([r.run_dir for r in results], folder)
    say(f"report: {paths.index}")
    return exit_code(merge_validity([r.verdict for r in results]))


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.0f}" if v >= 10 else f"{v:.2f}"
    return str(v)
