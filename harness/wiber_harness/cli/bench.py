"""The ``bench`` command: the benchmark suite on one stack.

``wiber-harness bench [--backend local|compose] [--quick] --out DIR`` writes
``DIR/bench.json`` (``wiber-bench/1``: gate it with ``wiber-harness
compare BASELINE DIR``) and ``DIR/bench.html``; ``--profile`` adds py-spy
profiles under ``DIR/profiles/``. ``--from-json BENCH_JSON`` only renders
the report of a stored ``bench.json`` again (no cluster).

``--system PROFILE.toml`` benchmarks another pipeline (any system profile,
validated like ``run --system``: a bad one exits 2 before anything starts)
on the same references; figures that do not apply to it are recorded as
not applicable, with the reason (:mod:`wiber_harness.bench.applicability`).
Given more than once, each system is benchmarked in turn on a stack of its
own into ``DIR/<name>/``, and ``DIR/versus.json`` puts every later system
beside the first (:mod:`wiber_harness.bench.versus`):
``--system tests/tutorial/tutorial.toml --system profiles/wiber.toml``
gives Wiber's figures as multiples of the tutorial's.

``--backend compose`` runs the same-rate phase only (ack and e2e p50 /
p99 at the baseline's rate, :mod:`wiber_harness.bench.phase_same_rate`);
every gated and context figure is recorded as not applicable there, with
the reason (:mod:`wiber_harness.bench.applicability`). Given more than
once (``--backend local --backend compose``), each backend is benchmarked
in turn into ``DIR/<backend>/`` and ``DIR/backends.json`` puts their
same-rate figures side by side, later ones as multiples of the first
(:mod:`wiber_harness.bench.backends`); ``--same-rate-only`` skips every
other phase on the local backend too, for a comparison in minutes.

Exit codes (the worst over the systems): 0 every gated ratio that applies
measured; 1 a promise was broken while benchmarking (an acknowledged
message lost or stored twice); 2 the bench could not measure a gated ratio
that applies (fewer than 2 samples) or could not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wiber_harness.bench.config import BACKENDS
from wiber_harness.cli import cli
from wiber_harness.cli._common import load_system, parse_sets, progress, say, sets_option
from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.verdict import EXIT_UNKNOWN

if TYPE_CHECKING:
    from wiber_harness.bench import BenchConfig, BenchResult


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
    "backends",
    type=click.Choice(list(BACKENDS)),
    multiple=True,
    help="Where the stack runs (default local; one stack per backend for all its phases). "
    "compose measures the same-rate figures only. Repeat it to benchmark each backend in "
    "turn and put their same-rate figures side by side (backends.json).",
)
@click.option(
    "--same-rate-only",
    is_flag=True,
    help="Run only the same-rate phase (ack and e2e latency at the baseline's rate).",
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
@click.option(
    "--e2e-searches",
    type=click.IntRange(min=1),
    default=None,
    help="End-to-end max-rate searches per path (default 2, quick 1; 2 gives a spread).",
)
@click.option(
    "--system",
    "system_profiles",
    type=click.Path(path_type=Path),
    multiple=True,
    help="System profile (TOML) of the pipeline to benchmark (default: Wiber's own). "
    "Repeat it to benchmark each in turn and compare them with the first (versus.json).",
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
    backends: tuple[str, ...],
    same_rate_only: bool,
    quick: bool,
    repetitions: int | None,
    batch_size: int | None,
    ack_p99_bound_ms: float | None,
    e2e_p99_bound_ms: float | None,
    generator_processes: int | None,
    profile: bool,
    checkers_ops: int | None,
    e2e_searches: int | None,
    system_profiles: tuple[Path, ...],
    sets: tuple[str, ...],
    from_json: Path | None,
) -> int:
    """Benchmark the pipeline against Kafka's own tools and the store; ratios in bench.json."""
    from dataclasses import replace

    from wiber_harness.bench import BenchConfig, build_bench_report

    if from_json is not None:
        page = build_bench_report(from_json, out)
        say(f"report: {page}")
        return 0
    systems = _systems(system_profiles)  # every profile checked before anything starts
    backends = tuple(dict.fromkeys(backends)) or ("local",)
    if len(backends) > 1 and len(systems) > 1:
        raise click.UsageError(
            "--backend and --system: repeat one of them, not both (each comparison "
            "varies one thing)"
        )
    settings = [parse_sets(sets, spec) for _, spec in systems]
    cfg = BenchConfig.preset(
        out,
        quick=quick,
        repetitions=repetitions,
        batch_size=batch_size,
        generator_processes=generator_processes,
        profile=profile or None,
        checkers_ops=checkers_ops,
        e2e_searches=e2e_searches,
        backend=backends[0],
        same_rate_only=same_rate_only or None,
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
    if len(backends) > 1:
        return _backends(cfg, backends, systems[0], settings[0])
    results = []
    for (path, spec), sets_ in zip(systems, settings, strict=True):
        one = replace(
            cfg,
            out_dir=out / spec.name if len(systems) > 1 else out,
            system=spec,
            system_path=None if path is None else str(path),
            settings=sets_,
        )
        if len(systems) > 1:
            say(f"== {spec.name} ({path}) into {one.out_dir}")
        results.append(_one(one))
    if len(systems) > 1:
        from wiber_harness.bench.versus import versus_document, versus_lines, write_versus

        vs = versus_document([(str(r.out_dir), r.document) for r in results])
        say("")
        for line in versus_lines(vs):
            say(line)
        say(f"versus.json: {write_versus(vs, out)}")
    return _exit_code(results)


def _backends(
    cfg: BenchConfig,
    backends: tuple[str, ...],
    system: tuple[Path | None, SystemSpec],
    settings: dict[str, str],
) -> int:
    """Benchmark each backend in turn into ``out/<backend>/``; their same-rate table."""
    from dataclasses import replace

    from wiber_harness.bench.backends import backends_document, backends_lines, write_backends

    path, spec = system
    results = []
    for backend in backends:
        one = replace(
            cfg,
            out_dir=cfg.out_dir / backend,
            backend=backend,
            system=spec,
            system_path=None if path is None else str(path),
            settings=settings,
        )
        say(f"== backend {backend} into {one.out_dir}")
        results.append(_one(one))
    doc = backends_document([(str(r.out_dir), r.document) for r in results])
    say("")
    for line in backends_lines(doc):
        say(line)
    say(f"backends.json: {write_backends(doc, cfg.out_dir)}")
    return _exit_code(results)


def _exit_code(results: list[BenchResult]) -> int:
    """The worst exit code of the runs (a failed measurement is unknown, as everywhere)."""
    code = max(r.exit_code for r in results)
    return EXIT_UNKNOWN if code == 2 else code


def _systems(paths: tuple[Path, ...]) -> list[tuple[Path | None, SystemSpec]]:
    """(profile path, spec) per --system (Wiber's own when none); names must differ, as
    each system's results go into a folder named after it."""
    systems: list[tuple[Path | None, SystemSpec]] = [(p, load_system(p)) for p in paths]
    if not systems:
        return [(None, load_system(None))]
    names = [s.name for _, s in systems]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise click.UsageError(
            f"--system: the profiles name the same system ({', '.join(dup)}) more than once; "
            "each system's results go into a folder named after it, so give each once"
        )
    return systems


def _one(cfg: BenchConfig) -> BenchResult:
    """Benchmark one system and say its figures."""
    from wiber_harness.bench import run_bench
    from wiber_harness.bench.applicability import backend_reason

    result = run_bench(cfg, say=progress)
    doc = result.document
    say("")
    say(f"{doc['title']}: system {doc['system']['name']} ({doc['system']['path'] or 'built in'})")
    na = doc["system"]["not_applicable"]
    unmeasured = backend_reason(cfg.backend, cfg.same_rate_only)
    if unmeasured is not None and set(na.values()) == {unmeasured}:
        say(f"{len(na)} gated and context figures: {unmeasured}")
    else:
        for f in doc["figures"]:
            say(f"{f['name']:<26} {_shown(f)}")
        for name, why in na.items():
            if name not in {f["name"] for f in doc["figures"]}:
                say(f"{name:<26} not applicable to this system ({why})")
    la = doc["load_average"]
    say(
        f"load average: start {la['start']}, end {la['end']}, "
        f"1-min during {la['min1']} to {la['max1']}"
    )
    sr = doc["same_rate"]
    fig = sr["figures"]
    say(
        f"same rate {sr['rate']:g} msg/s ({sr['backend']}): ack p50 "
        f"{fig['ack_p50_ms']['value']} ms, p99 {fig['ack_p99_ms']['value']} ms; e2e p50 "
        f"{fig['e2e_p50_ms']['value']} ms, p99 {fig['e2e_p99_ms']['value']} ms"
    )
    for p in doc["promises"]:
        say(f"BROKEN PROMISE: {p}")
    for p in doc["problems"]:
        say(f"problem: {p}", err=True)
    say(f"bench.json: {result.bench_json}")
    if result.bench_html is not None:
        say(f"report: {result.bench_html}")
    return result


def _shown(f: dict[str, Any]) -> str:
    """One gated figure as the terminal shows it."""
    if f.get("not_applicable"):
        return f"not applicable to this system ({f['not_applicable']})"
    v, sp = f.get("value"), f.get("spread")
    shown = "-" if v is None else f"{v:.3g}" + (f" ± {sp:.2g}" if sp is not None else "")
    return (
        f"{shown:>14}  ({f['direction']} is better; samples "
        f"{', '.join(f'{x:.3g}' for x in f['samples']) or 'none'})"
    )


__all__ = ["bench_cmd"]
