"""``bench.html``: the bench report, from ``bench.json`` alone, self-contained.

Same page style as the run reports (the report package's ``base.html.j2``:
inline CSS, plots as base64 PNG data URIs, no scripts, no network).
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
from wiber_harness.bench.plots import latency_throughput_plot, percentile_plot, ratios_plot
from wiber_harness.report.html import environment
from wiber_harness.report.plots import data_uri
from wiber_harness.report.views import fmt

BENCH_HTML = "bench.html"

TEMPLATE = """\
{% extends "base.html.j2" %}
{% block title %}{{ doc.title }}{% endblock %}
{% block body %}
<h1>{{ doc.title }}</h1>
<p class="muted">{{ doc.started_at }} → {{ doc.finished_at }} ({{ fmt(doc.elapsed_s, 0) }} s);
{{ doc.host.cpus }} CPUs; load average at start {{ doc.load_average.start|join(" / ") }}, at end
{{ doc.load_average.end|join(" / ") }}; 1-minute load during the measurements
{{ fmt(doc.load_average.min1) }} to {{ fmt(doc.load_average.max1) }} (mean {{ fmt(doc.load_average.mean1) }}).
Every ratio below compares the pipeline with a reference measured on the same cluster in the same run;
absolute figures move with the machine's load and are context only.</p>
<p class="small">A rate step <i>holds</i> when the generator sent at least {{ fmt(doc.config.bounds.min_send_ratio, 0, "%") }}
of the offered rate, skipped at most {{ fmt(doc.config.bounds.max_skipped, 0, "%") }} at its concurrency bound
({{ doc.config.concurrency }} requests), at most {{ fmt(doc.config.bounds.max_errors, 0, "%") }} of sends failed and ack p99
&le; {{ fmt(doc.config.bounds.ack_p99_ms, 0) }} ms (ingest); end to end also e2e p99 &le;
{{ fmt(doc.config.bounds.e2e_p99_ms, 0) }} ms, a backlog growing by at most
{{ fmt(doc.config.bounds.max_backlog_growth, 0, "%") }} of the rate per second, and a full drain.
{{ doc.config.repetitions }} repetitions; steps of {{ doc.config.step_s }} s, levels of {{ doc.config.level_s }} s;
batches of {{ doc.config.batch_size }}; {{ doc.config.payload_size }}-byte contents;
{{ doc.generator.processes }} generator process(es).</p>
{% if doc.promises %}<h2>Broken promises</h2><ul class="reasons">{% for p in doc.promises %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}

<h2>Gated ratios</h2>
<table>
<tr><th>ratio</th><th>better</th><th>value</th><th>spread (MAD)</th><th>samples</th><th>numerator ÷ denominator</th><th>load</th></tr>
{% for f in doc.figures %}
<tr><td><b>{{ f.title or f.name }}</b><br><span class="small muted">{{ f.name }}</span></td>
<td>{{ f.direction }}</td><td class="num">{{ fmt(f.value, 3) }}</td><td class="num">{{ fmt(f.spread, 3) }}</td>
<td class="num">{{ f.samples|map("round", 3)|join(", ") or "-" }}</td>
<td class="small">{{ f.numerator }}<br>÷ {{ f.denominator }}<br><span class="muted">{{ f.description }}</span></td>
<td class="num">{{ fmt(f.load_avg) }}</td></tr>
{% endfor %}
</table>
{{ plot("ratios") }}

<h2>Absolute figures (context, not gated)</h2>
<table>
<tr><th>figure</th><th>value</th><th>spread</th><th>samples</th><th>unit</th><th>what</th><th>load</th></tr>
{% for name, c in doc.context.items() %}
<tr><td>{{ c.title }}<br><span class="small muted">{{ name }}</span></td><td class="num">{{ fmt(c.value, 2) }}</td>
<td class="num">{{ fmt(c.spread, 2) }}</td><td class="num small">{{ c.samples|map("round", 2)|join(", ") or "-" }}</td>
<td>{{ c.unit }}</td><td class="small">{{ c.description }}</td><td class="num">{{ fmt(c.load_avg) }}</td></tr>
{% endfor %}
</table>

<h2>Latency against throughput</h2>
{{ plot("latency_throughput") }}
<h2>Latency by percentile per load level</h2>
{{ plot("percentiles") }}

{% for kind, p in paths %}
<h2>Pipeline: {{ kind_title[kind] }}</h2>
<p>Maximum sustainable <b>ingest</b> rate (consumers stopped): <b>{{ fmt(p.ingest.max.value, 0) }}</b> msg/s
(spread {{ fmt(p.ingest.max.spread, 0) }}; samples {{ p.ingest.max.samples|join(", ") or "-" }}).
Maximum sustainable <b>end-to-end</b> rate (consumers keeping up): <b>{{ fmt(p.e2e.max.value, 0) }}</b> msg/s
(samples {{ p.e2e.max.samples|join(", ") or "-" }}); the load levels are fractions of it.</p>
<h3>Load levels</h3>
<table>
<tr><th>level</th><th>rep</th><th>offered /s</th><th>ack /s</th><th>ack p50</th><th>ack p90</th><th>ack p99</th><th>ack p99.9</th><th>ack max</th>
<th>e2e p50</th><th>e2e p90</th><th>e2e p99</th><th>e2e p99.9</th><th>e2e max</th><th>lost</th><th>load</th></tr>
{% for lv in p.levels %}{% for r in lv.runs %}
<tr><td>{{ (lv.fraction * 100)|round|int }}%</td><td>{{ loop.index }}</td><td class="num">{{ fmt(r.rate, 0) }}</td><td class="num">{{ fmt(r.ack_rate, 0) }}</td>
{% for q in ("p50", "p90", "p99", "p99.9", "max") %}<td class="num">{{ fmt(r.ack.get(q), 1) }}</td>{% endfor %}
{% for q in ("p50", "p90", "p99", "p99.9", "max") %}<td class="num">{{ fmt((r.e2e or {}).get(q), 1) }}</td>{% endfor %}
<td class="num">{{ fmt(r.lost, 0) }}</td><td class="num">{{ fmt(r.load_avg[0]) }}</td></tr>
{% endfor %}{% endfor %}
</table>
<p class="small muted">Latencies in ms from each message's intended send time (open loop, no coordinated omission).</p>
<h3>Ingest searches (consumers stopped; held = ingest bounds)</h3>
{% for s in p.ingest.searches %}{{ search_table(s, loop.index) }}{% endfor %}
<h3>End-to-end searches (consumers running; held = every bound)</h3>
{% for s in p.e2e.searches %}{{ search_table(s, loop.index) }}{% endfor %}
{% endfor %}

<h2>HTTP floor</h2>
<p>The Wiber request models behind the API's uvicorn command line, nothing else; the generator used
{{ doc.generator.processes }} process(es).</p>
{% for s in doc.floor.searches %}{{ search_table(s, loop.index) }}{% endfor %}
{% if doc.generator.trials %}<h3>Generator check (saturated, against wrk)</h3>
<table><tr><th>round</th><th>processes</th><th>connections</th><th>generator req/s</th><th>wrk req/s</th><th>generator ÷ wrk</th><th>generator CPU s</th><th>chosen</th></tr>
{% for t in doc.generator.trials %}<tr><td>{{ t.get("rep", 1) }}</td><td>{{ t.processes }}</td><td>{{ t.get("connections", "-") }}</td><td class="num">{{ fmt(t.ack_rate, 0) }}</td>
<td class="num">{{ fmt(t.wrk_req_per_s, 0) }}</td><td class="num">{{ fmt(t.vs_wrk, 2) }}</td><td class="num">{{ fmt(t.cpu_s, 1) }}</td>
<td>{{ "yes" if t.get("chosen") else "" }}</td></tr>{% endfor %}</table>{% endif %}

<h2>References</h2>
<p>Record size {{ fmt(doc.references.record_size, 0) }} bytes (Wiber records as the API produces them).</p>
<h3>Kafka ProducerPerformance</h3>
<table><tr><th>bootstrap</th><th>rep</th><th>records/s</th><th>MB/s</th><th>avg ms</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>records</th><th>steady state</th></tr>
{% for label, rows in doc.references.producer_performance.items() %}{% for r in rows %}
<tr><td>{{ label }}</td><td>{{ loop.index }}</td>{% if r %}<td class="num">{{ fmt(r.records_per_s, 0) }}</td><td class="num">{{ fmt(r.mb_per_s, 2) }}</td>
<td class="num">{{ fmt(r.avg_ms, 1) }}</td><td class="num">{{ fmt(r.p50_ms, 0) }}</td><td class="num">{{ fmt(r.p95_ms, 0) }}</td><td class="num">{{ fmt(r.p99_ms, 0) }}</td>
<td class="num">{{ fmt(r.p999_ms, 0) }}</td><td class="num">{{ fmt(r.records, 0) }}</td><td>{{ r.steady_state }}</td>{% else %}<td colspan="9">failed (see problems)</td>{% endif %}</tr>
{% endfor %}{% endfor %}</table>
<h3>Kafka EndToEndLatency</h3>
<table><tr><th>rep</th><th>avg ms</th><th>p50</th><th>p99</th><th>p99.9</th></tr>
{% for r in doc.references.end_to_end_latency %}<tr><td>{{ loop.index }}</td>{% if r %}<td class="num">{{ fmt(r.avg_ms, 2) }}</td><td class="num">{{ fmt(r.p50_ms, 0) }}</td>
<td class="num">{{ fmt(r.p99_ms, 0) }}</td><td class="num">{{ fmt(r.p999_ms, 0) }}</td>{% else %}<td colspan="4">failed</td>{% endif %}</tr>{% endfor %}</table>
<h3>Raw store inserts</h3>
<table><tr><th>kind</th><th>rep</th><th>docs</th><th>writers</th><th>batch</th><th>seconds</th><th>docs/s</th><th>failed</th></tr>
{% for label, rows in (("insert_many", doc.references.raw_insert), ("insert_many + read view", doc.references.raw_insert_with_view)) %}{% for r in rows %}
<tr><td>{{ label }}</td><td>{{ loop.index }}</td>{% if r %}<td class="num">{{ fmt(r.docs, 0) }}</td><td class="num">{{ r.writers }}</td><td class="num">{{ r.batch }}</td>
<td class="num">{{ fmt(r.seconds, 2) }}</td><td class="num">{{ fmt(r.docs_per_s, 0) }}</td><td class="num">{{ r.failed }}</td>{% else %}<td colspan="6">failed</td>{% endif %}</tr>
{% endfor %}{% endfor %}</table>
<h3>wrk against the floor</h3>
<table><tr><th>rep</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>non-2xx</th><th>socket errors</th></tr>
{% for w in doc.references.wrk %}<tr><td>{{ loop.index }}</td><td class="num">{{ fmt(w.req_per_s, 0) }}</td><td class="num">{{ fmt(w.latency_ms.get("p50"), 2) }}</td>
<td class="num">{{ fmt(w.latency_ms.get("p90"), 2) }}</td><td class="num">{{ fmt(w.latency_ms.get("p99"), 2) }}</td><td class="num">{{ w.non_2xx }}</td><td class="num">{{ w.socket_errors }}</td></tr>{% endfor %}</table>

<h2>Sink</h2>
<table><tr><th>rep</th><th>records</th><th>stored</th><th>steady stored/s</th><th>drain s</th><th>consumers ready s</th><th>prefill s</th></tr>
{% for r in doc.sink.runs %}<tr><td>{{ loop.index }}</td>{% if r %}<td class="num">{{ fmt(r.records, 0) }}</td><td class="num">{{ fmt(r.stored, 0) }}</td>
<td class="num">{{ fmt(r.stored_per_s, 0) }}</td><td class="num">{{ fmt(r.drain_s, 1) }}</td><td class="num">{{ fmt(r.consumers_ready_s, 1) }}</td>
<td class="num">{{ fmt(r.prefill_s, 1) }}</td>{% else %}<td colspan="6">failed</td>{% endif %}</tr>{% endfor %}</table>

{% if doc.profiles %}<h2>Profiles (py-spy)</h2>
{% for pr in doc.profiles %}
<h3>{{ pr.name }}: {{ pr.scenario }}</h3>
{% if pr.get("error") %}<p class="muted">{{ pr.error }}</p>{% else %}
<p>{{ pr.role }} (pid {{ pr.pid }}): {{ fmt(pr.samples, 0) }} samples over {{ pr.duration_s }} s at {{ pr.rate_hz }} Hz;
CPU used {{ fmt(pr.get("cpu_util"), 2) }} cores{% if pr.get("load") %}; load: {{ pr.load }}{% endif %}.
Flame graph: <a href="profiles/{{ pr.files.svg }}">{{ pr.files.svg }}</a>.</p>
{% set busy = pr.get("top_self_busy") or pr.top_self %}
<p class="small">Samples with the event loop waiting for I/O (idle, not work): {{ fmt(pr.get("loop_idle_pct"), 1) }}%.
{% if pr.get("stack_cores") %}CPU used by every process of the stack over the same window (cores):
{% for k, v in pr.stack_cores.items() %}{{ k }} {{ fmt(v, 2) }}{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}</p>
<table><tr><th>top self among busy samples (where the work was)</th><th>%</th><th>top inclusive (what it was under)</th><th>%</th></tr>
{% for i in range([busy|length, 12]|min) %}<tr><td class="small">{{ busy[i].frame }}</td><td class="num">{{ busy[i].pct }}</td>
<td class="small">{{ pr.top_inclusive[i].frame if i < pr.top_inclusive|length else "" }}</td><td class="num">{{ pr.top_inclusive[i].pct if i < pr.top_inclusive|length else "" }}</td></tr>{% endfor %}
</table>
<p class="small">Self time by package: {% for k, v in pr.by_package.items() %}{{ k }} {{ v }}%{% if not loop.last %}, {% endif %}{% endfor %}</p>
{% endif %}{% endfor %}{% endif %}

{% if doc.checkers %}<h2>Checkers on a synthetic history</h2>
<p>{{ fmt(doc.checkers.ops, 0) }} ops: check_all {{ doc.checkers.check_all_s }} s + summary {{ doc.checkers.summary_s }} s
= {{ doc.checkers.total_s }} s wall ({{ doc.checkers.total_cpu_s }} s CPU); budget 10 s.</p>{% endif %}

{% if doc.problems %}<h2>Problems</h2><ul class="problems">{% for p in doc.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}
{% if doc.get("phases") %}<p class="small muted">Time per phase: {% for k, v in doc.phases.items() %}{{ k }} {{ fmt(v, 0) }} s{% if not loop.last %}, {% endif %}{% endfor %}.</p>{% endif %}
<details><summary>Configuration</summary><pre>{{ config_json }}</pre></details>
{% endblock %}
"""

SEARCH_TABLE = """\
<table><tr><th colspan="9">{{ s.criterion }} search {{ n }}: probe {{ fmt(s.probe.rate if s.probe else None, 0) }}/s offered →
{{ fmt(s.probe.ack_rate if s.probe else None, 0) }}/s acknowledged; estimate {{ fmt(s.estimate, 0) }}/s;
maximum sustainable <b>{% if s.open_ended %}&ge; {% endif %}{{ fmt(s.max_sustainable_rate, 0) }}</b>/s</th></tr>
<tr><th>offered /s</th><th>sent /s</th><th>ack /s</th><th>ack p99</th><th>e2e p99</th><th>backlog growth /s</th><th>held</th><th>why not</th><th>load</th></tr>
{% for m in s.steps %}<tr><td class="num">{{ fmt(m.rate, 0) }}</td><td class="num">{{ fmt(m.send_rate, 0) }}</td><td class="num">{{ fmt(m.ack_rate, 0) }}</td>
<td class="num">{{ fmt(m.ack.get("p99"), 1) }}</td><td class="num">{{ fmt((m.e2e or {}).get("p99"), 1) }}</td><td class="num">{{ fmt(m.backlog_growth, 0) }}</td>
<td>{{ "yes" if (m.ingest_held if s.criterion == "ingest" else m.held) else "no" }}</td><td class="small">{{ m.why|join("; ") }}</td><td class="num">{{ fmt(m.load_avg[0]) }}</td></tr>{% endfor %}
</table>
"""

KIND_TITLES = {"single": "per-message POST /messages", "batch": "batch POST /messages/batch"}


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
    search_t = env.from_string(SEARCH_TABLE)

    def plot(key: str) -> markupsafe.Markup:
        return markupsafe.Markup(plots.get(key, ""))

    def search_table(s: Mapping[str, Any], n: int) -> markupsafe.Markup:
        return markupsafe.Markup(search_t.render(s=s, n=n, fmt=fmt))

    pipeline = doc.get("pipeline") or {}
    paths = [(k, pipeline[k]) for k in ("single", "batch") if pipeline.get(k)]
    return env.from_string(TEMPLATE).render(
        doc=doc,
        fmt=fmt,
        plot=plot,
        search_table=search_table,
        paths=paths,
        kind_title=KIND_TITLES,
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
