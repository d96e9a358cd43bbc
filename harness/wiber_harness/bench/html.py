"""``bench.html``: the bench report, from ``bench.json`` alone, self-contained.

Same page style as the run reports (the report package's ``base.html.j2``:
inline CSS, plots as base64 PNG data URIs, no scripts, no network); the
templates are ``bench.html.j2`` and ``_bench_search.html.j2`` beside it.
Sections, in order:

1. the gated ratios: value ± spread, every sample, numerator and
   denominator named, load average, and their plot;
2. the absolute figures behind them (context, not gated);
3. latency against throughput, and latency by percentile per load level
   (:mod:`wiber_harness.bench.plots`);
4. per path, the load levels and the ingest and end-to-end max-rate
   searches, step by step (why a step did not hold);
5. the references: ProducerPerformance, EndToEndLatency, raw inserts, wrk
   and the generator check;
6. the sink runs; the profiles (top frames, share of samples, CPU used,
   links to the flame graphs); the checkers' timing; environment, broken
   promises and problems.

:func:`build_bench_report` re-renders a stored ``bench.json`` (no cluster);
a plot that cannot be drawn is replaced by its reason, never drops the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wiber_harness import __version__
from wiber_harness.bench.document import load_document
from wiber_harness.bench.plots import (
    PATH_TITLES,
    latency_throughput_plot,
    percentile_plot,
    ratios_plot,
)
from wiber_harness.report.html import environment
from wiber_harness.report.plots import data_uri
from wiber_harness.report.views import fmt

BENCH_HTML = "bench.html"

TEMPLATE = "bench.html.j2"  # in the report package's templates/, beside base.html.j2
SEARCH_TABLE = "_bench_search.html.j2"


def _plots(doc: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    makers: dict[str, tuple[Callable[[Mapping[str, Any]], bytes], str]] = {
        "ratios": (ratios_plot, "Gated ratios: samples and medians"),
        "latency_throughput": (latency_throughput_plot, "Latency against throughput"),
        "percentiles": (percentile_plot, "Latency by percentile per load level"),
    }
    for key, (fn, alt) in makers.items():
        try:
            out[key] = f'<figure><img src="{data_uri(fn(doc))}" alt="{alt}"></figure>'
        except Exception as e:  # one plot must not take the report down
            out[key] = (
                f'<p class="muted">{alt}: the plot could not be drawn ({type(e).__name__}: {e})</p>'
            )
    return out


def render_bench_html(doc: Mapping[str, Any]) -> str:
    """The bench report page of a ``bench.json`` document."""
    import json

    import markupsafe

    env = environment()
    plots = _plots(doc)
    search_t = env.get_template(SEARCH_TABLE)

    def plot(key: str) -> markupsafe.Markup:
        return markupsafe.Markup(plots.get(key, ""))

    def search_table(s: Mapping[str, Any], n: int) -> markupsafe.Markup:
        return markupsafe.Markup(search_t.render(s=s, n=n, fmt=fmt))

    pipeline = doc.get("pipeline") or {}
    paths = [(k, pipeline[k]) for k in ("single", "batch") if pipeline.get(k)]
    return env.get_template(TEMPLATE).render(
        doc=doc,
        fmt=fmt,
        plot=plot,
        search_table=search_table,
        paths=paths,
        kind_title=PATH_TITLES,
        config_json=json.dumps(doc.get("config", {}), indent=2),
        title=doc.get("title", "Wiber benchmark"),
        version=__version__,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


def write_bench_html(doc: Mapping[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / BENCH_HTML
    path.write_text(render_bench_html(doc))
    return path


def build_bench_report(bench_json: Path, out_dir: Path | None = None) -> Path:
    """Re-render ``bench.html`` from a stored ``bench.json`` (a file or its folder); no cluster."""
    doc = load_document(Path(bench_json))
    target = out_dir or (Path(bench_json) if Path(bench_json).is_dir() else Path(bench_json).parent)
    return write_bench_html(doc, target)


__all__ = ["BENCH_HTML", "build_bench_report", "render_bench_html", "write_bench_html"]
