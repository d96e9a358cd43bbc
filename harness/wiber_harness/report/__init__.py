"""Reports and the regression gate.

From stored run folders (never a cluster), :func:`build_report` writes a
report folder: ``index.html`` (suite verdict table, one section per run
with plots), ``pages/<run id>.html``, ``summary.json`` (schema
``wiber-summary/1``), ``summary.md`` (CI job summary) and ``junit.xml``.
:func:`compare` gates a current summary (or bench.json) against a baseline:
exit 0 ok, 1 a broken promise or a regression beyond noise, 2 cannot
compare. The modules' docstrings are the specs:

* :mod:`~wiber_harness.report.runs`: finding and loading run folders;
* :mod:`~wiber_harness.report.summary`: the summary.json schema;
* :mod:`~wiber_harness.report.frames` / :mod:`~wiber_harness.report.plots`:
  what each plot shows;
* :mod:`~wiber_harness.report.html`, :mod:`~wiber_harness.report.markdown`,
  :mod:`~wiber_harness.report.junit`: the three renderings;
* :mod:`~wiber_harness.report.compare`: the gate's rules and defaults;
  :mod:`~wiber_harness.report.sides`: what it reads on each side.
"""

from wiber_harness.report.build import ReportPaths, build_report
from wiber_harness.report.compare import CompareResult, FigureDelta, compare
from wiber_harness.report.runs import ReportError, RunData, find_run_dirs, load_run, load_runs
from wiber_harness.report.sides import BENCH_SCHEMA, DEFAULT_FIGURES, Figure, load_side
from wiber_harness.report.summary import (
    KEY_METRICS,
    SUMMARY_SCHEMA,
    build_summary,
    load_summary,
    write_summary,
)

__all__ = [
    "BENCH_SCHEMA",
    "DEFAULT_FIGURES",
    "KEY_METRICS",
    "SUMMARY_SCHEMA",
    "CompareResult",
    "Figure",
    "FigureDelta",
    "ReportError",
    "ReportPaths",
    "RunData",
    "build_report",
    "build_summary",
    "compare",
    "find_run_dirs",
    "load_run",
    "load_runs",
    "load_side",
    "load_summary",
    "write_summary",
]
