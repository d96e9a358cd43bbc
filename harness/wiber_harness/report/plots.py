"""The report's plots: matplotlib (Agg, no display), PNG bytes.

Rendering is Agg's (:class:`FigureCanvasAgg` attached to each figure, so
the global backend is never consulted and no display is needed). Every
time plot shares one look: x = seconds since run start, fault windows
shaded red and labelled ``kind target`` along the top, a legend, axis labels
with units. Figures are built with :class:`matplotlib.figure.Figure`
directly, not ``pyplot``: no global state, nothing left open, safe to call
from any thread.

* :func:`throughput_plot`: sent / acknowledged / failed / indeterminate /
  stored per second;
* :func:`latency_plot`: ack p50/p99 and e2e p50/p99 per second, log y (a
  stall is orders of magnitude above steady state);
* :func:`percentile_plot`: latency by percentile, x = 1/(1-p) on a log
  scale labelled 50%, 90%, 99%, 99.9% ... (HdrHistogram's plot);
* :func:`backlog_plot`: messages acknowledged but not yet stored.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    NullFormatter,
    NullLocator,
)

SIZE = (10.0, 3.8)
DPI = 100
FAULT_COLOR = "#d62728"
SERIES_COLORS: dict[str, str] = {
    "sent": "#7f7f7f",
    "acknowledged": "#2ca02c",
    "failed": "#d62728",
    "indeterminate": "#ff7f0e",
    "stored": "#1f77b4",
}
LATENCY_STYLE: dict[str, tuple[str, str]] = {  # column -> (colour, line style)
    "ack_p50_ms": ("#2ca02c", "-"),
    "ack_p99_ms": ("#2ca02c", "--"),
    "e2e_p50_ms": ("#1f77b4", "-"),
    "e2e_p99_ms": ("#1f77b4", "--"),
}
LATENCY_LABELS = {
    "ack_p50_ms": "ack p50",
    "ack_p99_ms": "ack p99",
    "e2e_p50_ms": "e2e p50 (send to stored)",
    "e2e_p99_ms": "e2e p99 (send to stored)",
}


def _figure() -> tuple[Figure, Axes]:
    # fixed margins, room on the right for the legend: a layout engine would draw every
    # figure twice, and the report draws hundreds of them
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=0.075, right=0.755, top=0.91, bottom=0.13)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def fault_label(w: Mapping[str, Any]) -> str:
    kind = w.get("kind") or "fault"
    target = w.get("target")
    return f"{kind} {target}" if target else str(kind)


def shade_faults(ax: Axes, windows: Sequence[Mapping[str, Any]]) -> bool:
    """Shade and label each window; labels step down so overlapping ones stay readable."""
    drawn = False
    for i, w in enumerate(windows):
        start, end = w.get("start_s"), w.get("end_s")
        if start is None or end is None:
            continue
        ax.axvspan(
            float(start), max(float(end), float(start) + 0.05), color=FAULT_COLOR, alpha=0.12, lw=0
        )
        ax.text(
            float(start),
            0.97 - 0.09 * (i % 4),
            " " + fault_label(w),
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=8,
            color=FAULT_COLOR,
            clip_on=True,
            bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 1.0},
        )
        drawn = True
    return drawn


def _legend(ax: Axes, faults: bool, **kw: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if faults:
        handles.append(Patch(color=FAULT_COLOR, alpha=0.12, label="fault window"))
        labels.append("fault window")
    # outside the axes, on the right: a legend inside would hide the data it explains
    ax.legend(
        handles,
        labels,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        **kw,
    )


def _end_s(frame: pd.DataFrame) -> float:
    """The end of the frame's last second (its rows may skip quiet seconds)."""
    return float(frame["time_s"].iloc[-1]) + 1.0 if len(frame) else 1.0


def _xlim(ax: Axes, frame: pd.DataFrame) -> None:
    ax.set_xlim(0, max(_end_s(frame), 1.0))
    ax.set_xlabel("time since run start (s)")


def throughput_plot(frame: pd.DataFrame, windows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    fig, ax = _figure()
    # one extra edge so the last second's step is drawn to its end
    x = np.append(frame["time_s"].to_numpy(), _end_s(frame))
    for col, color in SERIES_COLORS.items():
        y = frame[col].to_numpy()
        y = np.append(y, y[-1:])
        if col in ("failed", "indeterminate") and not y.any():
            continue  # an empty series only crowds the legend
        # sent is drawn wide and pale under the rest: in steady state it equals acknowledged
        wide = col == "sent"
        ax.step(
            x,
            y,
            where="post",
            color=color,
            lw=4.0 if wide else 1.3,
            alpha=0.45 if wide else 1.0,
            label=f"{col} ({int(y[:-1].sum())} total)",
            zorder=1 if wide else 2,
        )
    faults = shade_faults(ax, windows)
    _xlim(ax, frame)
    ax.set_ylim(bottom=0, top=max(float(frame[list(SERIES_COLORS)].to_numpy().max()), 1.0) * 1.3)
    ax.set_ylabel("messages per second")
    ax.set_title(f"{title}: throughput per second")
    _legend(ax, faults)
    return png(fig)


def latency_plot(frame: pd.DataFrame, windows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    fig, ax = _figure()
    x = frame["time_s"].to_numpy() + 0.5  # a second's figure sits mid-second
    drew = False
    for col, (color, ls) in LATENCY_STYLE.items():
        if col not in frame:
            continue
        y = frame[col].to_numpy(dtype=np.float64)
        if np.isnan(y).all():
            continue
        ax.plot(
            x,
            y,
            color=color,
            ls=ls,
            lw=1.3,
            marker="." if len(x) < 40 else None,
            label=LATENCY_LABELS[col],
        )
        drew = True
    if drew:
        log_y(ax)
    faults = shade_faults(ax, windows)
    _xlim(ax, frame)
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title(f"{title}: latency per second (by completion / store time)")
    _legend(ax, faults)
    return png(fig)


def _plain(v: float, _pos: int) -> str:
    return f"{v:g}"


def log_y(ax: Axes) -> None:
    """A log y axis labelled with plain numbers; minor ticks too when it spans few decades."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    few = lo > 0 and np.log10(hi / lo) < 1.6
    ax.yaxis.set_minor_formatter(FuncFormatter(_plain) if few else NullFormatter())


def _pct_label(tail: float, _pos: int) -> str:
    p = 100.0 * (1.0 - 1.0 / tail)
    return f"{p:.10g}%"


def percentile_axes(ax: Axes, top: float) -> None:
    """Label a percentile-curve axes: x is the tail 1/(1-p) on a log scale up to ``top``,
    shown as p."""
    ticks = [t for t in (1.0, 2.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6) if t <= top * 1.01]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(_pct_label))
    ax.set_xlim(1.0, top * 1.05)
    ax.set_xlabel("percentile (log scale of 1/(1-p))")
    ax.set_ylabel("latency (ms, log scale)")


def percentile_plot(curves: Mapping[str, pd.DataFrame], title: str) -> bytes:
    fig, ax = _figure()
    names = {"ack": ("ack (send to ack)", "#2ca02c"), "e2e": ("e2e (send to stored)", "#1f77b4")}
    top = 10.0
    for name, curve in curves.items():
        label, color = names.get(name, (name, None))
        n = curve.attrs.get("count")
        ax.plot(
            curve["tail"],
            curve["latency_ms"],
            color=color,
            lw=1.6,
            label=f"{label}, n={n}" if n is not None else label,
        )
        top = max(top, float(curve["tail"].max()))
    ax.set_xscale("log")
    if curves:
        log_y(ax)
    percentile_axes(ax, top)
    ax.set_title(f"{title}: latency by percentile")
    _legend(ax, False)
    return png(fig)


def backlog_plot(frame: pd.DataFrame, windows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    fig, ax = _figure()
    x = frame["time_s"].to_numpy() + 1.0  # counted at the end of each second
    y = frame["backlog"].to_numpy()
    ax.fill_between(x, y, step=None, color="#9467bd", alpha=0.25)
    ax.plot(x, y, color="#9467bd", lw=1.5, label="backlog (acked, not stored)")
    faults = shade_faults(ax, windows)
    _xlim(ax, frame)
    ax.set_ylim(bottom=0, top=max(float(y.max(initial=0)), 1.0) * 1.3)
    ax.set_ylabel("messages")
    ax.set_title(f"{title}: consumer lag (approximate, from history + final reads)")
    if len(y) and y[-1] > 0:
        # keys acknowledged and never stored stay in the backlog: the lost messages
        ax.annotate(
            f"{int(y[-1])} never stored (lost?)",
            xy=(float(x[-1]), float(y[-1])),
            xytext=(-8, 12),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="#9467bd",
            arrowprops={"arrowstyle": "->", "color": "#9467bd"},
        )
    _legend(ax, faults)
    return png(fig)


__all__ = [
    "backlog_plot",
    "data_uri",
    "fault_label",
    "latency_plot",
    "log_y",
    "percentile_plot",
    "png",
    "shade_faults",
    "throughput_plot",
]
