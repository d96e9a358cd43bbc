"""The benchmark suite: the pipeline side by side with Kafka's own tools, in ratios.

``wiber-harness bench [--quick] --out DIR`` runs :func:`run_bench` on one
local stack and writes ``DIR/bench.json`` (schema ``wiber-bench/1``, which
``wiber-harness compare`` gates) and ``DIR/bench.html``. The methodology
is OpenMessaging Benchmark's: find each path's maximum sustainable rate by
stepping an open-loop rate, then measure latency (from intended send
times, so without coordinated omission) at fixed fractions of it; and,
because the machine is shared and absolute figures drift with everybody
else's load, every gated figure is a *ratio* against a reference measured
on the same cluster in the same run. The modules' docstrings are the specs:

* :mod:`~wiber_harness.bench.suite`: the phases and their order;
  :mod:`~wiber_harness.bench.context`: a run's state and the helpers every
  phase uses; :mod:`~wiber_harness.bench.phase_ingest`,
  :mod:`~wiber_harness.bench.phase_pipeline`,
  :mod:`~wiber_harness.bench.phase_profiles`: the phases;
* :mod:`~wiber_harness.bench.config`: every knob (quick and full presets);
* :mod:`~wiber_harness.bench.generator`: open-loop load from N processes;
* :mod:`~wiber_harness.bench.measure`, :mod:`~wiber_harness.bench.search`:
  one measured load and when it *held*; the max-rate search;
* :mod:`~wiber_harness.bench.kafka_tools`, :mod:`~wiber_harness.bench.floor`,
  :mod:`~wiber_harness.bench.endpoint`, :mod:`~wiber_harness.bench.stack_ops`,
  :mod:`~wiber_harness.bench.sink`: the references and the sink;
* :mod:`~wiber_harness.bench.profiling`: py-spy profiles and their summary;
* :mod:`~wiber_harness.bench.document`: the ``bench.json`` schema, figure by
  figure (computed by :mod:`~wiber_harness.bench.figures`);
  :mod:`~wiber_harness.bench.html`, :mod:`~wiber_harness.bench.plots`: the
  report;
* :mod:`~wiber_harness.bench.stats`: value (median) and spread (MAD);
* :mod:`~wiber_harness.bench.applicability`: which figures apply to which
  system (``bench --system PROFILE.toml`` measures any pipeline with a
  profile); :mod:`~wiber_harness.bench.store_poll`: stored times for a
  pipeline that stores none; :mod:`~wiber_harness.bench.versus`: several
  systems side by side (``versus.json``).
"""

from wiber_harness.bench.config import BenchConfig
from wiber_harness.bench.document import build_document, load_document, write_document
from wiber_harness.bench.html import build_bench_report, render_bench_html, write_bench_html
from wiber_harness.bench.measure import Bounds
from wiber_harness.bench.suite import BenchResult, run_bench

__all__ = [
    "BenchConfig",
    "BenchResult",
    "Bounds",
    "build_bench_report",
    "build_document",
    "load_document",
    "render_bench_html",
    "run_bench",
    "write_bench_html",
    "write_document",
]
