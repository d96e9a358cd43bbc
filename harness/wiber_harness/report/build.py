"""``build_report``: run folders in, a report folder out.

Writes into ``out_dir`` (created if needed; files of an earlier report are
overwritten, nothing else is touched):

* ``index.html``: the suite's verdict table and one section per run, plots
  included (:mod:`wiber_harness.report.html`);
* ``pages/<run id>.html``: each run's section as a page of its own;
* ``summary.json``: ``wiber-summary/1`` (:mod:`wiber_harness.report.summary`);
* ``summary.md``: for CI job summaries (:mod:`wiber_harness.report.markdown`);
* ``junit.xml``: one testcase per scenario (:mod:`wiber_harness.report.junit`).

Run folders are only read (see :mod:`wiber_harness.report.runs`). A run
whose plots cannot be drawn still gets its section, with the reason; a
report is never dropped for one bad run. A run's file that is there but
unreadable is listed in :attr:`ReportPaths.unreadable` (one sentence each),
and the ``report`` command then exits 2 after writing the report. No run
folder at all, or an output folder that cannot be written, is a
:class:`~wiber_harness.report.runs.ReportError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wiber_harness.report.html import page_name, render_index, render_run_page, run_view
from wiber_harness.report.junit import write_junit
from wiber_harness.report.markdown import render_markdown
from wiber_harness.report.runs import ReportError, RunData, load_runs
from wiber_harness.report.summary import SUMMARY_FILE, build_summary, write_summary

RUN_PAGES = "pages"


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`build_report` wrote each file."""

    out_dir: Path
    index: Path
    summary_json: Path
    summary_md: Path
    junit: Path
    run_pages: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    unreadable: list[str] = field(default_factory=list)  # one sentence per unreadable file


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return str(path.resolve())


def _view(run: RunData, page: str) -> dict[str, Any]:
    try:
        return run_view(run, page)
    except Exception as e:  # one bad run must not take the whole report down
        run.problems.append(f"the plots could not be drawn ({type(e).__name__}: {e})")
        return run_view(run, page, with_plots=False)


def build_report(
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    title: str = "Wiber suite",
    progress: Callable[[str], None] | None = None,
) -> ReportPaths:
    """Write the report of ``run_dirs`` (run or suite folders) into ``out_dir``."""
    runs = load_runs([Path(d) for d in run_dirs])
    out_dir = Path(out_dir)
    try:
        return _write(runs, out_dir, title, progress or (lambda s: None))
    except OSError as e:
        raise ReportError(
            f"{e.filename or out_dir}: cannot write the report there ({e.strerror}); pass an "
            "--out folder you can write to"
        ) from None


def _write(
    runs: list[RunData], out_dir: Path, title: str, say: Callable[[str], None]
) -> ReportPaths:
    pages_dir = out_dir / RUN_PAGES
    pages_dir.mkdir(parents=True, exist_ok=True)

    summary = build_summary(runs, title=title)
    for entry, run in zip(summary["runs"], runs, strict=True):
        entry["path"] = _rel(
            run.path, out_dir
        )  # a report folder stays valid when moved with its runs

    views = []
    pages: dict[str, Path] = {}
    for i, run in enumerate(runs, 1):
        say(f"report: {i}/{len(runs)} {run.run_id}")
        page = pages_dir / page_name(run.run_id)
        run.read_inputs()
        view = _view(run, f"{RUN_PAGES}/{page.name}")
        view["path"] = _rel(run.path, out_dir)
        page.write_text(
            render_run_page({**view, "path": _rel(run.path, pages_dir)}, title, "../index.html")
        )
        pages[run.run_id] = page
        views.append(view)
        run.release()

    paths = ReportPaths(
        out_dir=out_dir,
        index=out_dir / "index.html",
        summary_json=out_dir / SUMMARY_FILE,
        summary_md=out_dir / "summary.md",
        junit=out_dir / "junit.xml",
        run_pages=pages,
        summary=summary,
        unreadable=[u for run in runs for u in dict.fromkeys(run.unreadable)],
    )
    write_summary(summary, paths.summary_json)
    paths.summary_md.write_text(render_markdown(summary))
    write_junit(runs, paths.junit, title)
    paths.index.write_text(render_index(views, summary, title))
    return paths


__all__ = ["RUN_PAGES", "ReportPaths", "build_report"]
