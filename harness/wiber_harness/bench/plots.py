"""The bench report's plots, from a ``bench.json`` document alone (matplotlib Agg, PNG bytes).

Same conventions as :mod:`wiber_harness.report.plots` (a
:class:`~matplotlib.figure.Figure` per plot with its own Agg canvas, no
pyplot state, legends outside the axes, log latency axes with plain
numbers):

* :func:`ratios_plot`: each gated ratio's samples (dots) and median (bar),
  1.0 marked: the summary at a glance;
* :func:`latency_throughput_plot`: per path (per-message, batch), latency
  against acknowledged throughput: ack and e2e p50 / p99 at each load level
  (median of the repetitions, whiskers from the lowest to the highest), the
  end-to-end search's steps (circles: held, crosses: did not hold), the
  end-to-end maximum (dashed), the ingest maximum (dash-dotted, when on
  scale) and Kafka's EndToEndLatency p99 (dotted) as references;
* :func:`percentile_plot`: per path, the latency distribution at each load
  level (HDR histograms of the repetitions merged), e2e solid and ack
  dashed, x = 1/(1-p) on a log scale labelled 50 %, 90 %, 99 % ..., with
  Kafka's EndToEndLatency p50 / p99 / p99.9 as grey markers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from wiber_harness.metrics import decode_histogram, new_histogram
from wiber_harness.report.frames import percentile_curve
from wiber_harness.report.plots import log_y, percentile_axes, png

DPI = 100
LEVEL_COLORS = ("#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b")
SERIES = (  # (which, quantile, colour, line style, label)
    ("ack", "p50", "#2ca02c", "-", "ack p50"),
    ("ack", "p99", "#2ca02c", "--", "ack p99"),
    ("e2e", "p50", "#1f77b4", "-", "e2e p50"),
    ("e2e", "p99", "#1f77b4", "--", "e2e p99"),
)
PATH_TITLES = {"single": "per-message POST /messages", "batch": "batch POST /messages/batch"}


def _fig(w: float, h: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(w, h), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def ratios_plot(doc: Mapping[str, Any]) -> bytes:
    figs = [f for f in doc.get("figures", []) if f.get("samples")]
    fig, (ax,) = _fig(10.0, 0.9 + 0.75 * max(len(figs), 1))
    fig.subplots_adjust(left=0.27, right=0.97, top=0.86, bottom=0.16)
    for i, f in enumerate(figs):
        y = len(figs) - 1 - i
        v = f.get("value")
        better = "higher" if f.get("direction") == "higher" else "lower"
        if v is not None:
            ax.barh(
                y, v, height=0.5, color="#1f77b4" if better == "higher" else "#ff7f0e", alpha=0.35
            )
            ax.text(
                v,
                y + 0.3,
                f" {v:.3g}" + (f" ± {f['spread']:.2g}" if f.get("spread") is not None else ""),
                va="bottom",
                fontsize=8,
            )
        ax.plot(f["samples"], [y] * len(f["samples"]), "o", color="#333333", ms=4)
    ax.set_yticks(range(len(figs)))
    ax.set_yticklabels(
        [f"{f.get('title', f['name'])}\n({f['direction']} is better)" for f in reversed(figs)],
        fontsize=8,
    )
    ax.axvline(1.0, color="#888888", lw=1, ls=":")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xlabel("ratio (pipeline ÷ reference, log scale); dots: repetitions, bar: median")
    ax.set_title("Gated ratios, each against a reference measured in the same run")
    return png(fig)


def _level_points(
    levels: Sequence[Mapping[str, Any]], which: str, q: str
) -> tuple[list[float], ...]:
    xs, ys, lo, hi = [], [], [], []
    for lv in levels:
        runs = lv.get("runs") or []
        vals = [((r.get(which) or {}).get(q), r.get("ack_rate")) for r in runs]
        vals = [(float(v), float(x)) for v, x in vals if isinstance(v, int | float) and x]
        if not vals:
            continue
        v = np.array([a for a, _ in vals])
        xs.append(float(np.median([x for _, x in vals])))
        ys.append(float(np.median(v)))
        lo.append(float(np.median(v) - v.min()))
        hi.append(float(v.max() - np.median(v)))
    return xs, ys, lo, hi


def _kafka_p99(doc: Mapping[str, Any]) -> float | None:
    v = (doc.get("context", {}).get("kafka_e2e_p99_ms") or {}).get("value")
    return float(v) if isinstance(v, int | float) else None


def _shared_legend(fig: Figure, handles: list[Any], labels: list[str]) -> None:
    # under both panels: beside them it would steal the width the data needs
    fig.legend(
        handles,
        labels,
        fontsize=8,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.005),
        ncol=3,
        frameon=False,
    )


def _vline(ax: Axes, x: float, text: str, ls: str) -> None:
    ax.axvline(x, color="#555555", ls=ls, lw=1)
    ax.text(
        x,
        0.02,
        f" {text}",
        transform=ax.get_xaxis_transform(),
        rotation=90,
        va="bottom",
        ha="right",
        fontsize=7.5,
        color="#555555",
    )


def _hline(ax: Axes, y: float, text: str) -> None:
    ax.axhline(y, color="#7f7f7f", ls=":", lw=1.2)
    ax.text(
        0.01,
        y,
        f" {text}",
        transform=ax.get_yaxis_transform(),
        va="bottom",
        ha="left",
        fontsize=7.5,
        color="#555555",
    )


def latency_throughput_plot(doc: Mapping[str, Any]) -> bytes:
    fig, axes = _fig(12.0, 5.6, ncols=2)
    fig.subplots_adjust(left=0.065, right=0.98, top=0.88, bottom=0.25, wspace=0.18)
    pipe = doc.get("pipeline", {})
    kafka = _kafka_p99(doc)
    for ax, kind in zip(axes, ("single", "batch"), strict=True):
        p = pipe.get(kind) or {}
        levels = p.get("levels") or []
        drew = False
        for which, q, color, ls, label in SERIES:
            xs, ys, lo, hi = _level_points(levels, which, q)
            if xs:
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lo, hi],
                    color=color,
                    ls=ls,
                    marker="o",
                    ms=4,
                    lw=1.4,
                    capsize=3,
                    label=label + " at 25/50/75% (median, min-max)",
                )
                drew = True
        for s in (p.get("e2e") or {}).get("searches") or []:
            for st in s.get("steps") or []:
                v = (st.get("e2e") or {}).get("p99")
                if isinstance(v, int | float) and v > 0:
                    ax.plot(
                        [st.get("ack_rate")],
                        [v],
                        marker="o" if st.get("held") else "x",
                        color="#1f77b4",
                        mfc="none" if st.get("held") else None,
                        ms=6,
                        alpha=0.6,
                        ls="none",
                    )
                    drew = True
        ax.plot(
            [],
            [],
            "o",
            mfc="none",
            color="#1f77b4",
            ls="none",
            label="e2e search step, e2e p99: held",
        )
        ax.plot(
            [], [], "x", color="#1f77b4", ls="none", label="e2e search step, e2e p99: did not hold"
        )
        if drew:
            log_y(ax)
        msr = ((p.get("e2e") or {}).get("max") or {}).get("value")
        if isinstance(msr, int | float):
            _vline(ax, msr, f"max end to end {msr:.0f}/s", "--")
        ing = ((p.get("ingest") or {}).get("max") or {}).get("value")
        if isinstance(ing, int | float) and isinstance(msr, int | float) and ing < 2.5 * msr:
            _vline(ax, ing, f"max ingest {ing:.0f}/s", "-.")
        elif isinstance(ing, int | float):
            ax.text(
                0.99,
                0.97,
                f"max ingest {ing:.0f}/s (off scale)",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7.5,
                color="#555555",
            )
        if kafka is not None:
            _hline(ax, kafka, f"Kafka EndToEndLatency p99 {kafka:g} ms")
        ax.set_xlim(left=0)
        ax.set_xlabel("acknowledged messages per second")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(PATH_TITLES[kind], fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    _shared_legend(fig, handles, labels)
    fig.suptitle("Latency against throughput (from intended send time: no coordinated omission)")
    return png(fig)


def _merged_curve(hists: Sequence[str | None]) -> Any:
    h = new_histogram()
    n = 0
    for text in hists:
        if isinstance(text, str) and text:
            h.add(decode_histogram(text))
            n += 1
    return percentile_curve(h) if n else None


def percentile_plot(doc: Mapping[str, Any]) -> bytes:
    fig, axes = _fig(12.0, 5.8, ncols=2)
    fig.subplots_adjust(left=0.065, right=0.98, top=0.84, bottom=0.24, wspace=0.18)
    kafka = [k for k in (doc.get("references") or {}).get("end_to_end_latency") or [] if k]
    fractions: list[float] = []
    for ax, kind in zip(axes, ("single", "batch"), strict=True):
        levels = ((doc.get("pipeline") or {}).get(kind) or {}).get("levels") or []
        top = 10.0
        drew = False
        rates = []
        for i, lv in enumerate(levels):
            color = LEVEL_COLORS[i % len(LEVEL_COLORS)]
            if lv["fraction"] not in fractions:
                fractions.append(lv["fraction"])
            rates.append(f"{lv['rate']:.0f}" if lv.get("rate") else "-")
            runs = lv.get("runs") or []
            for which, ls in (("e2e", "-"), ("ack", "--")):
                curve = _merged_curve([r.get(f"{which}_hist") for r in runs])
                if curve is None or not len(curve):
                    continue
                ax.plot(curve["tail"], curve["latency_ms"], color=color, ls=ls, lw=1.5)
                top = max(top, float(curve["tail"].max()))
                drew = True
        for q, tail in (("p50_ms", 2.0), ("p99_ms", 100.0), ("p999_ms", 1000.0)):
            vals = [max(float(k[q]), 0.5) for k in kafka if isinstance(k.get(q), int | float)]
            if vals and tail <= top * 1.01:
                ax.plot([tail], [float(np.median(vals))], "s", color="#7f7f7f", ms=6)
                drew = True
        ax.set_xscale("log")
        if drew:
            log_y(ax)
        percentile_axes(ax, top)
        ax.set_title(
            f"{PATH_TITLES[kind]}\nlevels at {' / '.join(rates) or '-'} msg/s", fontsize=10
        )
    handles = [
        Line2D([], [], color=LEVEL_COLORS[i % len(LEVEL_COLORS)], lw=2)
        for i in range(len(fractions))
    ]
    labels = [f"{f:.0%} of the end-to-end maximum" for f in fractions]
    handles += [
        Line2D([], [], color="#333333", ls="-"),
        Line2D([], [], color="#333333", ls="--"),
        Line2D([], [], color="#7f7f7f", marker="s", ls="none"),
    ]
    labels += [
        "e2e (intended send to stored)",
        "ack (intended send to answer)",
        "Kafka EndToEndLatency p50/p99/p99.9",
    ]
    _shared_legend(fig, handles, labels)
    fig.suptitle(
        "Latency by percentile at each load level (HDR histograms, repetitions merged)", y=0.985
    )
    return png(fig)


__all__ = ["latency_throughput_plot", "percentile_plot", "ratios_plot"]
