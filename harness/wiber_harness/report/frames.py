"""pandas frames behind the report's plots, computed from a stored run.

* :func:`timeline_frame`: one row per second since run start in which
  something happened, and its neighbours (every second of a real run;
  :func:`wiber_harness.metrics.per_second_frame`: sent, acknowledged,
  failed, indeterminate, stored, ack p50/p99/max, fault, phase) plus

  - ``e2e_p50_ms`` / ``e2e_p99_ms``: end-to-end latency (intended send time
    to stored) of the keys first stored in that second, NaN if none;
  - ``backlog``: messages acknowledged but not yet stored at the end of the
    second. It approximates consumer lag from the history and the final
    reads alone: a key joins at its first acknowledgement and leaves at its
    first known ``stored_at`` (a key stored before its ack never joins; one
    never stored, i.e. lost, stays for good). It is not the consumer group's
    offset lag, which the harness does not sample during a run.

* :func:`percentile_curve`: an HDR-style latency-by-percentile curve,
  ``percentile`` (0..100), ``tail`` = 1/(1 - p) (the x axis of the plot, log
  scale: 10 is p90, 100 p99 ...) and ``latency_ms``, from an encoded HDR
  histogram of result.json (decoded only when :func:`safe_histogram`
  accepts it: our own parameters, at most :data:`MAX_HISTOGRAM_BYTES`
  decompressed, so a crafted encoding cannot make the report allocate
  gigabytes), or from the run's history otherwise;
  ``attrs["count"]`` is the number of latencies behind it.

* :func:`windows`: the run's fault windows (inject completion .. heal
  completion) as dicts with ``kind``, ``target``, ``start_s``, ``end_s``.
"""

from __future__ import annotations

import base64
import contextlib
import struct
import zlib
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from wiber_harness.checkers.analysis import NS
from wiber_harness.distinct import unique
from wiber_harness.frames import per_second_frame
from wiber_harness.metrics import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    decode_histogram,
    e2e_latencies,
    latency_histograms,
)
from wiber_harness.metrics import fault_windows as metric_windows
from wiber_harness.report.runs import RunData

# points of the percentile curve: evenly spaced in log(1/(1-p))
_CURVE_POINTS = 160


def timeline_frame(run: RunData) -> pd.DataFrame | None:
    """Per-second throughput, latency and backlog; None when the history is unreadable."""
    an = run.analysis
    h = run.history
    if an is None or h is None:
        return None
    frame = per_second_frame(h[1], an.reads, analysis=an)
    rows = frame.index.to_numpy(dtype=np.int64)
    last = int(rows[-1])
    t, lat = e2e_latencies(an)
    stored_at = t + lat
    e2e = pd.DataFrame(
        {"second": np.clip((stored_at // NS).astype(np.int64), 0, last), "ms": lat / 1e6}
    )
    g = e2e.groupby("second")["ms"]
    frame["e2e_p50_ms"] = g.quantile(0.5).reindex(frame.index)
    frame["e2e_p99_ms"] = g.quantile(0.99).reindex(frame.index)
    frame["backlog"] = _backlog(an.sends.k_ack, an.store.k_stored_at, rows)
    frame["time_s"] = rows.astype(np.float64)
    return frame


def _backlog(ack: np.ndarray, stored: np.ndarray, rows: np.ndarray) -> np.ndarray:
    acked = ~np.isnan(ack)
    joins = np.sort(ack[acked])
    done = acked & ~np.isnan(stored)
    leaves = np.sort(np.maximum(ack[done], stored[done]))
    ends = (rows.astype(np.float64) + 1.0) * NS
    return (
        np.searchsorted(joins, ends, side="right") - np.searchsorted(leaves, ends, side="right")
    ).astype(np.int64)


def percentile_curve(h: HdrHistogram) -> pd.DataFrame:
    """Latency (ms) by percentile from p0 up to the max, spaced for a log ``tail`` axis."""
    count = int(h.get_total_count())
    if count == 0:
        return pd.DataFrame({"percentile": [], "tail": [], "latency_ms": []}, dtype=np.float64)
    # beyond 1/(1-p) = count every percentile is the max; stop there
    top = max(np.log10(count), 1.0)
    tails = unique(np.concatenate([np.logspace(0.0, top, _CURVE_POINTS), [2.0, 10.0, 100.0]]))
    tails = tails[tails <= max(count, 10.0)]
    pcts = [float(100.0 * (1.0 - 1.0 / x)) for x in tails]
    values = h.get_percentile_to_value_dict(pcts)
    curve = pd.DataFrame(
        {
            "percentile": pcts,
            "tail": tails,
            "latency_ms": [values[p] / 1000.0 for p in pcts],
        }
    )
    curve.attrs["count"] = count
    return curve


def latency_curves(run: RunData) -> dict[str, pd.DataFrame]:
    """``{"ack": curve, "e2e": curve}`` from result.json's histograms, else from the history."""
    hist = run.summary.get("histograms") or {}
    out: dict[str, pd.DataFrame] = {}
    decoded: dict[str, HdrHistogram] = {}
    for name in ("ack", "e2e"):
        text = hist.get(name)
        if isinstance(text, str) and text and safe_histogram(text):
            # a corrupt encoding: recompute below rather than drop the plot
            with contextlib.suppress(Exception):
                decoded[name] = decode_histogram(text)
    missing = [n for n in ("ack", "e2e") if n not in decoded]
    if missing and run.analysis is not None and run.history is not None:
        rec = latency_histograms(run.history[1], run.analysis.reads, analysis=run.analysis)
        for name in missing:
            decoded[name] = rec[name].histogram
    for name, h in decoded.items():
        curve = percentile_curve(h)
        if len(curve):
            out[name] = curve
    return out


# our histograms (1 us .. 1 h, 3 digits) have 23,552 counters of 8 bytes
MAX_HISTOGRAM_BYTES = 1 << 20
_EXTERNAL = struct.Struct(">II")  # cookie, length of the compressed payload
_PAYLOAD = struct.Struct(">IIIIQQd")  # cookie, payload length, offset, digits, lowest, highest


def safe_histogram(text: str) -> bool:
    """Whether ``text`` is an HdrHistogram encoding with our own parameters that
    decompresses to at most :data:`MAX_HISTOGRAM_BYTES` (checked with a bounded
    decompression before hdrh allocates anything)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        _, length = _EXTERNAL.unpack_from(raw)
        if length != len(raw) - _EXTERNAL.size:
            return False
        z = zlib.decompressobj()
        payload = z.decompress(raw[_EXTERNAL.size :], MAX_HISTOGRAM_BYTES + 1)
        if len(payload) > MAX_HISTOGRAM_BYTES or z.unconsumed_tail:
            return False
        _, _, _, digits, lowest, highest, _ = _PAYLOAD.unpack_from(payload)
    except (ValueError, UnicodeError, struct.error, zlib.error):
        return False
    return (digits, lowest, highest) == (SIGNIFICANT_DIGITS, LOWEST_US, HIGHEST_US)


def windows(run: RunData) -> list[dict[str, Any]]:
    """Fault windows from result.json, else recomputed from the history."""
    stored = run.summary.get("fault_windows")
    if isinstance(stored, list) and (stored or run.analysis is None):
        return [dict(w) for w in stored]
    if run.analysis is None:
        return []
    return [w.to_dict() for w in metric_windows(run.analysis)]


__all__ = [
    "MAX_HISTOGRAM_BYTES",
    "latency_curves",
    "percentile_curve",
    "safe_histogram",
    "timeline_frame",
    "windows",
]
