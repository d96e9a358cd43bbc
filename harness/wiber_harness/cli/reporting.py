"""Report commands: ``report`` and ``compare``.

``wiber-harness report RUN_DIR... --out DIR`` writes the report of stored
runs (a RUN_DIR may be a suite folder holding run folders); it exits with
the suite's verdict (0 valid, 1 violation, 2 unknown), like ``check``,
except that a file of a run that is there but unreadable (malformed,
too large, a folder in its place ...) makes it exit 2 whatever the
verdicts: the report is still written, showing the problem, and stderr
gets one sentence naming the first such file (``docs/verdicts.md``
section 8).
``wiber-harness compare BASELINE CURRENT`` is the regression gate (0 ok,
1 broken promise or regression, 2 cannot compare); see
:mod:`wiber_harness.report.compare` for its rules. ``--json`` writes
strict JSON (never ``NaN`` or ``Infinity``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wiber_harness.cli import cli
from wiber_harness.verdict import EXIT_UNKNOWN

MAX_THRESHOLD_PCT = 1e6  # = wiber_harness.report.doc_checks.MAX_THRESHOLD_PCT (lazy import)


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Report folder (index.html, pages/, summary.json, summary.md, junit.xml).",
)
@click.option("--title", default="Wiber suite", show_default=True, help="Title of the report.")
def report_cmd(run_dirs: tuple[Path, ...], out: Path, title: str) -> int:
    """Write the HTML/Markdown/JSON/JUnit report of stored runs; exit with their verdict."""
    from wiber_harness.report import build_report

    paths = build_report(
        list(run_dirs), out, title=title, progress=lambda line: click.echo(line, err=True)
    )
    s = paths.summary
    c = s["counts"]
    click.echo(
        f"{c['scenarios']} scenarios, {c['runs']} runs: {c['valid']} valid, "
        f"{c['violation']} violation, {c['unknown']} unknown"
    )
    click.echo(f"summary: {paths.summary_md}  junit: {paths.junit}  json: {paths.summary_json}")
    click.echo(f"report: {paths.index}")
    if paths.unreadable:
        more = len(paths.unreadable) - 1
        tail = f" (and {more} more unreadable file{'s' * (more > 1)}, listed in the report)"
        click.echo(f"wiber-harness: {paths.unreadable[0]}{tail if more else ''}", err=True)
        return EXIT_UNKNOWN
    return int(s["exit_code"])


@cli.command("compare")
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    "threshold_pct",
    type=click.FloatRange(min=0, max=MAX_THRESHOLD_PCT),
    default=None,
    metavar="PCT",
    help="Allowed worsening in % of the baseline for every figure "
    "(default per figure: throughput 30, latencies and times 50).",
)
@click.option(
    "--mad-k",
    type=click.FloatRange(min=0, max=MAX_THRESHOLD_PCT),
    default=None,
    help="Noise bound in baseline MADs when the baseline has repeats (default 4).",
)
@click.option(
    "--markdown",
    "markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Append the comparison as Markdown to this file (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the comparison as JSON to this file.",
)
def compare_cmd(
    baseline: Path,
    current: Path,
    threshold_pct: float | None,
    mad_k: float | None,
    markdown: Path | None,
    json_out: Path | None,
) -> int:
    """Gate CURRENT against BASELINE (summary.json, bench.json, report or suite folders)."""
    from wiber_harness.report.compare import DEFAULT_MAD_K, compare

    result = compare(
        baseline,
        current,
        threshold_pct=threshold_pct,
        mad_k=DEFAULT_MAD_K if mad_k is None else mad_k,
    )
    if result.exit_code == EXIT_UNKNOWN and not result.deltas:
        # nothing was compared: the input is wrong; say so like any other bad input, in
        # one line however many problems there are
        click.echo(f"wiber-harness: {'; and '.join(result.problems)}", err=True)
    else:
        for line in result.lines():
            click.echo(line)
    try:
        if markdown is not None:
            with markdown.open("a") as fh:
                fh.write(result.markdown())
        if json_out is not None:
            # strict JSON: a non-finite number is a bug upstream, never "Infinity" in the file
            json_out.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    except (OSError, ValueError) as e:
        what = e.strerror if isinstance(e, OSError) else str(e)
        where = (e.filename if isinstance(e, OSError) else None) or json_out or markdown
        click.echo(f"wiber-harness: {where}: cannot write the comparison ({what})", err=True)
        return EXIT_UNKNOWN
    return result.exit_code
