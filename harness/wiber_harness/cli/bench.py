"""The ``bench`` command: the benchmark suite on one local stack.

``wiber-harness bench [--backend local] [--quick] --out DIR`` writes
``DIR/bench.json`` (``wiber-bench/1``: gate it with ``wiber-harness
compare BASELINE DIR``) and ``DIR/bench.html``; ``--profile`` adds py-spy
profiles under ``DIR/profiles/``. ``--from-json BENCH_JSON`` only renders
the report of a stored ``bench.json`` again (no cluster). Exit codes: 0
every gated ratio measured; 1 a promise was broken while benchmarking
(an acknowledged message lost or stored twice); 2 the bench could not
measure a gated ratio (fewer than 2 samples) or could not run.
"""

from __future__ import annotations

from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import parse_sets, progress, say, sets_option
from wiber_harness.verdict import EXIT_UNKNOWN


@cli.command("bench")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports") / "bench",
    show_default=True,
    help="Folder for bench.json, bench.html and profiles/.",
)
@click.option(
    "--backend",
    type=click.Choice(["local"]),
    default="local",
    show_default=True,
    help="Where the stack runs (the bench starts one local stack for all its phases).",
)
@click.option(
    "--quick", is_flag=True, help="Two short repetitions of everything (under 10 minutes)."
)
@click.option(
    "--repetitions",
    type=click.IntRange(min=2),
    default=None,
    help="Samples per figure (default 3, quick 2).",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=None, help="Messages per batch POST."
)
@click.option(
    "--ack-p99-bound-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="A rate step holds only if ack p99 stays below this (default 1000).",
)
@click.option(
    "--e2e-p99-bound-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="A rate step holds only if e2e p99 stays below this (default 3000).",
)
@click.option(
    "--generator-processes",
    type=click.IntRange(min=0),
    default=None,
    help="Load generator processes (0: 1, or 2 if 1 cannot reach half of wrk).",
)
@click.option(
    "--profile", is_flag=True, help="Profile the API and a consumer with py-spy at the max rate."
)
@click.option(
    "--checkers-ops",
    type=click.IntRange(min=0),
    default=None,
    help="Time the checkers on a synthetic history of this many ops (0: skip; "
    "default 1,000,000, quick 0).",
)
@sets_option("Extra system setting (env).")
@click.option(
    "--from-json",
    "from_json",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Only render bench.html from this stored bench.json (no cluster).",
)
def bench_cmd(
    out: Path,
    backend: str,
    quick: bool,
    repetitions: int | None,
    batch_size: int | None,
    ack_p99_bound_ms: float | None,
    e2e_p99_bound_ms: float | None,
    generator_processes: int | None,
    profile: bool,
    checkers_ops: int | None,
    sets: tuple[str, ...],
    from_json: Path | None,
) -> int:
    """Benchmark the pipeline against Kafka's own tools and the store; ratios in bench.json."""
    from dataclasses import replace

    from wiber_harness.bench import BenchConfig, build_bench_report, run_bench

    if from_json is not None:
        page = build_bench_report(from_json, out)
        say(f"report: {page}")
        return 0
    cfg = BenchConfig.preset(
        out,
        quick=quick,
        repetitions=repetitions,
        batch_size=batch_size,
        generator_processes=generator_processes,
        profile=profile or None,
        checkers_ops=checkers_ops,
        settings=parse_sets(sets, None),
    )
    if ack_p99_bound_ms is not None or e2e_p99_bound_ms is not None:
        b = cfg.bounds
        cfg = replace(
            cfg,
            bounds=replace(
                b,
                ack_p99_ms=ack_p99_bound_ms or b.ack_p99_ms,
                e2e_p99_ms=e2e_p99_bound_ms or b.e2e_p99_ms,
            ),
        )
    result = run_bench(cfg, say=progress)
    doc = result.document
    say("")
    for f in doc["figures"]:
        v, sp = f.get("value"), f.get("spread")
        shown = "-" if v is None else f"{v:.3g}" + (f" ± {sp:.2g}" if sp is not None else "")
        say(
            f"{f['name']:<26} {shown:>14}  ({f['direction']} is better; samples "
            f"{', '.join(f'{x:.3g}' for x in f['samples']) or 'none'})"
        )
    la = doc["load_average"]
    say(
        f"load average: start {la['start']}, end {la['end']}, "
        f"1-min during {la['min1']} to {la['max1']}"
    )
    for p in doc["promises"]:
        say(f"BROKEN PROMISE: {p}")
    for p in doc["problems"]:
        say(f"problem: {p}", err=True)
    say(f"bench.json: {result.bench_json}")
    if result.bench_html is not None:
        say(f"report: {result.bench_html}")
    code = result.exit_code
    return EXIT_UNKNOWN if code == 2 else code


__all__ = ["bench_cmd"]
