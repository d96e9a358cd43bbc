"""HTML reports: a suite index and one self-contained page per run.

``index.html`` holds the suite's verdict table (one row per run, linking to
the run's section and to its own page) and then one section per run; each
``pages/<run id>.html`` holds the same section alone. Both are
self-contained: CSS inline, plots as base64 PNG data URIs, no scripts, no
network. Templates (jinja2, autoescaped) live in ``templates/``.

A run's section: verdict, expectation, reasons, key figures, one row per
checker (headline counts, every count, examples of each anomaly), the fault
windows, and four plots (:mod:`wiber_harness.report.plots`): throughput
per second, latency per second, latency by percentile, and the backlog of
acknowledged-but-not-stored messages, fault windows shaded on the time
plots.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from wiber_harness import __version__
from wiber_harness.report import frames, plots
from wiber_harness.report.runs import RunData
from wiber_harness.report.views import (
    FIGURES,
    checker_rows,
    expectation,
    figure_cells,
    fmt,
    verdict_word,
    window_rows,
)

TEMPLATES = Path(__file__).parent / "templates"
COUNT_COLUMNS = ("sent", "acknowledged", "failed", "indeterminate", "stored")


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the build, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )


def anchor(run_id: str) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]+", "-", run_id)


def page_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id) + ".html"


def run_plots(run: RunData) -> list[dict[str, str]]:
    """The run's plots as data URIs with captions; empty when the history is unreadable."""
    frame = frames.timeline_frame(run)
    out: list[dict[str, str]] = []
    if frame is None:
        return out
    wins = frames.windows(run)
    name = run.scenario
    shaded = " Fault windows (inject completion to heal completion) are shaded." if wins else ""
    out.append(
        {
            "uri": plots.data_uri(plots.throughput_plot(frame, wins, name)),
            "alt": f"{name}: throughput per second",
            "caption": "Sends per second by invoke time; acknowledged, failed and indeterminate "
            "by completion time; stored by the store's write time." + shaded,
        }
    )
    out.append(
        {
            "uri": plots.data_uri(plots.latency_plot(frame, wins, name)),
            "alt": f"{name}: latency per second",
            "caption": "Ack latency (intended send time to acknowledgement) by completion second; "
            "e2e latency (intended send time to stored) by store second." + shaded,
        }
    )
    curves = frames.latency_curves(run)
    if curves:
        out.append(
            {
                "uri": plots.data_uri(plots.percentile_plot(curves, name)),
                "alt": f"{name}: latency by percentile",
                "caption": "Whole-run latency distribution from the HDR histograms "
                "(x: percentile on a log scale of 1/(1-p)).",
            }
        )
    out.append(
        {
            "uri": plots.data_uri(plots.backlog_plot(frame, wins, name)),
            "alt": f"{name}: backlog of acknowledged messages not yet stored",
            "caption": "Approximate consumer lag: messages acknowledged but not yet stored at the "
            "end of each second, from the history and the final reads (not the consumer "
            "group's offset lag). A level that never returns to 0 is messages never "
            "stored." + shaded,
        }
    )
    return out


def run_view(run: RunData, page: str | None, *, with_plots: bool = True) -> dict[str, Any]:
    r = run.result
    summ = run.summary
    counts = summ.get("counts") or {}
    header = run.history[0] if with_plots and run.history is not None else {}
    started = None
    if isinstance(header.get("wall0_ns"), int):
        started = dt.datetime.fromtimestamp(header["wall0_ns"] / 1e9, dt.UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        )
    plot_list = run_plots(run) if with_plots else []
    return {
        "id": run.run_id,
        "anchor": anchor(run.run_id),
        "page": page,
        "scenario": run.scenario,
        "description": r.get("description") or "",
        "verdict": verdict_word(run.verdict),
        "expectation": expectation(r.get("expect") or {}),
        "seed": r.get("seed"),
        "backend": r.get("backend") or "-",
        "started": started,
        "duration": fmt(summ.get("duration_s"), 1) if summ.get("duration_s") is not None else None,
        "path": str(run.path),
        "reasons": [str(x) for x in r.get("reasons") or []],
        "problems": list(dict.fromkeys(run.problems)),
        "counts": [fmt(counts.get(k), 0) for k in COUNT_COLUMNS],
        "figures": figure_cells(run.thresholds),
        "checkers": checker_rows(run.checks),
        "windows": window_rows(frames.windows(run)) if with_plots else [],
        "plots": plot_list,
    }


def _common(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def render_index(views: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], title: str) -> str:
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            **_common(title),
            runs=views,
            verdict=verdict_word(summary.get("verdict")),
            counts=summary.get("counts") or {},
            figure_labels=[
                f"{label}" + (f" ({unit})" if unit and unit != "%" else "")
                for _, label, unit, _ in FIGURES
            ],
        )
    )


def render_run_page(view: Mapping[str, Any], title: str, index: str) -> str:
    return (
        environment()
        .get_template("run.html.j2")
        .render(**_common(title), run={**view, "page": None}, index=index)
    )


__all__ = [
    "anchor",
    "environment",
    "page_name",
    "render_index",
    "render_run_page",
    "run_plots",
    "run_view",
]
