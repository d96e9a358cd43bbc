"""Metrics: latency histograms, throughput and phases of one run.
Over 500 lines because this docstring is the one definition of every figure a
report, a threshold and ``compare`` gate on, and each figure's code stays next
to the others it shares phases and histograms with.

Everything is computed from the history and the final reads (through the
same :class:`~wiber_harness.checkers.analysis.Analysis` the checkers use),
so a run folder can be re-measured offline.

Definitions:

* **ack latency** of an ``ok`` send attempt: its completion time minus the
  ``intended`` time of its invoke (the open-loop schedule's time, so a
  stalled client does not hide a stall: no coordinated omission);
* **e2e latency** of a stored key: its earliest known ``stored_at`` minus
  the ``intended`` time of its first attempt (acknowledged or not; not
  measured when ``FinalReads.stored_at_observed``);
* latencies go into HDR histograms (``hdrh``) in microseconds, 1 us to
  1 h, 3 significant digits; a negative latency (clock trouble) is recorded
  as 0 and one above 1 h as 1 h, and both are counted;
* **throughput** per integer second since run start: ``sent`` (invokes),
  ``acknowledged`` / ``failed`` / ``indeterminate`` (completions ``ok`` /
  ``fail`` / ``info`` by completion time), ``stored`` (store records by
  ``stored_at``). Only the seconds :func:`row_seconds` names get a row: every
  second in which something happened and its two neighbours, so a quiet
  stretch shows as zeros at both of its ends and a real run (something
  happens every second) has every second. The number of rows is bounded by
  the number of events, never by a time value (one stored time of epoch ns
  among run-relative ones once asked for 1.7e9 rows, 12.7 GiB);
* **phases**: ``before`` the first fault window starts, ``during`` (from the
  first window's start to the last window's end) and ``after`` the last
  window's end. An attempt belongs to the phase of its intended time (a key
  to that of its first attempt); ``*_per_s`` rates count events by their own
  time within the phase. Without faults everything is ``before``.

:func:`summary` returns a JSON-serialisable dict (None for what cannot be
known, never NaN). Pandas frames of a run for plots are in
:mod:`wiber_harness.frames`, so judging a run never imports pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from wiber_harness.checkers.analysis import (
    FAIL,
    INFO,
    NS,
    OK,
    Analysis,
    FaultWindow,
    seconds,
)
from wiber_harness.checkers.base import CheckResult, Ops
from wiber_harness.distinct import unique, unique_counts
from wiber_harness.errors import CheckerError
from wiber_harness.reads import FinalReads

F64 = npt.NDArray[np.float64]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)
PHASES = ("before", "during", "after")


@dataclass(frozen=True, slots=True)
class Recorded:
    """A histogram, the exact mean of what went in, and what had to be clamped."""

    histogram: HdrHistogram
    count: int
    sum_us: float  # exact sum of the (unclamped) latencies, for an exact mean
    negative: int
    clipped: int

    @property
    def mean_ms(self) -> float | None:
        return self.sum_us / self.count / 1000.0 if self.count else None

    def percentiles_ms(self) -> dict[str, float | int | None]:
        return percentiles_ms(self.histogram, mean_ms=self.mean_ms)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_ns(values_ns: npt.ArrayLike) -> Recorded:
    """Record latencies given in ns (NaN ignored) into a fresh histogram (us)."""
    v = np.asarray(values_ns, dtype=np.float64)
    v = v[~np.isnan(v)] / 1000.0
    us = np.floor(v)
    negative = int((us < 0).sum())
    clipped = int((us > HIGHEST_US).sum())
    h = new_histogram()
    # one record_value per distinct bucket: per-value Python calls would
    # dominate a million-op run, and values of one bucket are equivalent
    vals, counts = unique_counts(_bucket_floor(h, np.clip(us, 0, HIGHEST_US)))
    for val, n in zip(vals.tolist(), counts.tolist(), strict=True):
        h.record_value(val, n)
    return Recorded(h, len(v), float(v.sum()), negative, clipped)


def _bucket_floor(h: HdrHistogram, us: F64) -> npt.NDArray[np.int64]:
    """Each value's lowest equivalent value in ``h`` (hdrh's own bucket arithmetic, vectorised)."""
    x = us.astype(np.int64)
    # bit length via frexp: exact for integers below 2**53
    pow2ceiling = np.frexp((x | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    shift = pow2ceiling - (h.sub_bucket_half_count_magnitude + 1)
    out: npt.NDArray[np.int64] = (x >> shift) << shift
    return out


def merged(parts: Sequence[Recorded]) -> Recorded:
    """The sum of several recordings (e.g. the phases of a run)."""
    h = new_histogram()
    for p in parts:
        h.add(p.histogram)
    return Recorded(
        h,
        sum(p.count for p in parts),
        sum(p.sum_us for p in parts),
        sum(p.negative for p in parts),
        sum(p.clipped for p in parts),
    )


def percentiles_ms(
    h: HdrHistogram, *, mean_ms: float | None = None
) -> dict[str, float | int | None]:
    """count, mean, p50, p90, p99, p99.9 and max in milliseconds (None when empty).

    ``mean_ms`` when known exactly; otherwise the histogram's (slow: it walks
    every bucket in Python).
    """
    n = int(h.get_total_count())
    out: dict[str, float | int | None] = {"count": n}
    if n == 0:
        out.update({"mean": None, **{_pname(p): None for p in PERCENTILES}, "max": None})
        return out
    mean = mean_ms if mean_ms is not None else float(h.get_mean_value()) / 1000.0
    out["mean"] = round(mean, 3)
    for p in PERCENTILES:
        out[_pname(p)] = round(h.get_value_at_percentile(p) / 1000.0, 3)
    out["max"] = round(h.get_max_value() / 1000.0, 3)
    return out


def _pname(p: float) -> str:
    return f"p{p:g}"


def encode_histogram(h: HdrHistogram) -> str:
    """The HdrHistogram wire encoding (compressed, base64) as text, for reports."""
    return bytes(h.encode()).decode("ascii")


def decode_histogram(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


# -- raw series ------------------------------------------------------------


def ack_latencies(an: Analysis) -> tuple[F64, F64]:
    """(intended time, ack latency) in ns for every ``ok`` attempt."""
    s = an.sends
    ok = s.a_outcome == OK
    return s.a_intended[ok], s.a_done[ok] - s.a_intended[ok]


def e2e_latencies(an: Analysis) -> tuple[F64, F64]:
    """(intended time, e2e latency) in ns per key with a stored time (none if only observed)."""
    s, st = an.sends, an.store
    if an.reads.stored_at_observed:
        return np.zeros(0), np.zeros(0)
    has = ~np.isnan(st.k_stored_at)
    return s.k_intended[has], st.k_stored_at[has] - s.k_intended[has]


def latency_histograms(
    ops: Ops, reads: FinalReads, *, analysis: Analysis | None = None
) -> dict[str, Recorded]:
    """``{"ack": ..., "e2e": ...}`` over the whole run."""
    an = analysis or Analysis(ops, reads)
    return {"ack": record_ns(ack_latencies(an)[1]), "e2e": record_ns(e2e_latencies(an)[1])}


# -- phases ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of the run. ``before`` has no lower bound and ``after`` no
    upper one (so early or late stragglers still land somewhere); ``during``
    is closed; ``before`` is open at ``end`` unless it is the only phase."""

    name: str
    start: float  # ns
    end: float  # ns
    only: bool = False

    def contains(self, t: F64) -> npt.NDArray[np.bool_]:
        if self.only:
            return np.ones(len(t), dtype=np.bool_)
        if self.name == "during":
            return (t >= self.start) & (t <= self.end)
        if self.name == "after":
            return t > self.start
        return t < self.end


def phases(an: Analysis) -> list[Phase]:
    """before / during / after, from the fault windows (only ``before`` without faults)."""
    end = run_end(an)
    windows = fault_windows(an)
    if not windows:
        return [Phase("before", 0.0, end, only=True)]
    first = min(w.start for w in windows)
    last = max(w.end for w in windows)
    return [
        Phase("before", 0.0, first),
        Phase("during", first, last),
        Phase("after", last, max(end, last)),
    ]


def fault_windows(an: Analysis) -> list[FaultWindow]:
    """The run's fault windows; none when the nemesis ops cannot be paired
    (the availability checker reports that as unknown; metrics carry on)."""
    try:
        return an.faults.windows
    except CheckerError:
        return []


def run_end(an: Analysis) -> float:
    """The last thing that happened: the history's end or the last store write."""
    st = an.store.r_stored_at
    last_store = float(np.nanmax(st)) if len(st) and not np.isnan(st).all() else 0.0
    return max(an.sends.end, last_store)


# -- frames ------------------------------------------------------------------


def row_seconds(an: Analysis) -> npt.NDArray[np.int64]:
    """The seconds the per-second counts and frame have rows for, ascending.

    Every second (since run start; earlier times count in second 0) in which a
    send was invoked or completed or a record was stored, the seconds just before
    and after each, second 0 and the run's last second: at most three rows per
    event plus two.
    """
    s, st = an.sends, an.store
    last = int(run_end(an) // NS)
    columns = (s.a_invoke, s.a_done, st.r_stored_at)
    n = sum(len(t) for t in columns)
    if last < 4 * n + 64:  # a table of seconds bounded by the data's size: no sort
        seen = np.zeros(last + 1, dtype=np.bool_)
        for t in columns:
            seen[_second(t, last)] = True
        occupied = np.flatnonzero(seen).astype(np.int64)
    else:  # few events over a long span: distinct seconds per column, then all
        events = [unique(_second(t, last)) for t in columns]
        occupied = unique(np.concatenate([np.zeros(0, dtype=np.int64), *events]))
    rows = unique(np.concatenate([[0, last], occupied - 1, occupied, occupied + 1]))
    return rows[(rows >= 0) & (rows <= last)].astype(np.int64)


def _second(t: F64, last: int) -> npt.NDArray[np.int64]:
    t = t[~np.isnan(t)]
    np.floor_divide(t, NS, out=t)  # t is a copy already: no more temporaries
    sec = t.astype(np.int64)
    del t
    return np.clip(sec, 0, last, out=sec)


def per_second_counts(an: Analysis) -> dict[str, npt.NDArray[np.int64]]:
    """Events per second since run start (see the module docstring), one element per
    second of :func:`row_seconds`, which ``"second"`` holds."""
    s, st = an.sends, an.store
    rows = row_seconds(an)
    last = int(rows[-1])

    def per_sec(t: F64) -> npt.NDArray[np.int64]:
        # every event's second is a row: searchsorted finds it exactly
        at = np.searchsorted(rows, _second(t, last))
        return np.bincount(at, minlength=len(rows))[: len(rows)].astype(np.int64)

    out = s.a_outcome
    return {
        "second": rows,
        "sent": per_sec(s.a_invoke),
        "acknowledged": per_sec(s.a_done[out == OK]),
        "failed": per_sec(s.a_done[out == FAIL]),
        "indeterminate": per_sec(s.a_done[out == INFO]),
        "stored": per_sec(st.r_stored_at),
    }


def summary(ops: Ops, reads: FinalReads, *, analysis: Analysis | None = None) -> dict[str, Any]:
    """Every headline figure of a run, JSON-serialisable (see the module docstring).

    Keys: ``duration_s`` (to the last op or store write); ``counts`` (sent,
    acknowledged, failed, indeterminate: attempts; keys; stored: records);
    ``ack_latency_ms`` / ``e2e_latency_ms`` (count, mean, p50, p90, p99,
    p99.9, max); ``latency_clamped``; ``throughput_per_s`` (mean sent,
    acknowledged, stored per second over the run, and per-second peaks);
    ``max_gap_s`` (longest stretch of the workload without an ``ok``
    completion, None without sends); ``phases`` (per phase: bounds, counts,
    latencies, ``*_per_s``); ``fault_windows``; ``histograms`` (hdrh
    encodings, unit us).
    """
    an = analysis or Analysis(ops, reads)
    s, st = an.sends, an.store
    ack_t, ack_ns = ack_latencies(an)
    e2e_t, e2e_ns = e2e_latencies(an)
    out = s.a_outcome
    ok = out == OK
    n_ok = int(ok.sum())
    n_fail = int((out == FAIL).sum())
    sent = len(out)
    duration = run_end(an) / NS
    per_s = per_second_counts(an)

    phase_out: dict[str, Any] = {}
    ack_parts: list[Recorded] = []
    e2e_parts: list[Recorded] = []
    for p in phases(an):
        a_in = p.contains(s.a_intended)
        d = max(p.end - p.start, 0.0) / NS
        ack_p = record_ns(ack_ns[p.contains(ack_t)])
        e2e_p = record_ns(e2e_ns[p.contains(e2e_t)])
        ack_parts.append(ack_p)
        e2e_parts.append(e2e_p)
        events = {
            "sent": _count_in(p, s.a_invoke),
            "acknowledged": _count_in(p, s.a_done[ok]),
            "stored": _count_in(p, st.r_stored_at),
        }
        phase_out[p.name] = {
            "start_s": seconds(p.start),
            "end_s": seconds(p.end),
            "duration_s": round(d, 6),
            "sent": int(a_in.sum()),
            "acknowledged": int((a_in & ok).sum()),
            "failed": int((a_in & (out == FAIL)).sum()),
            "indeterminate": int((a_in & ~ok & (out != FAIL)).sum()),
            "ack_latency_ms": ack_p.percentiles_ms(),
            "e2e_latency_ms": e2e_p.percentiles_ms(),
            **{f"{k}_per_s": (round(v / d, 3) if d > 0 else None) for k, v in events.items()},
        }
    # phases partition the run, so the whole is the sum of its phases
    ack = merged(ack_parts)
    e2e = merged(e2e_parts)

    # the longest stretch of the workload without an acknowledgement
    if sent:
        edges = np.concatenate(
            [
                [s.a_invoke.min()],
                np.sort(s.a_done[ok]),
                [max(s.a_invoke.max(), np.nanmax(s.a_done, initial=0))],
            ]
        )
        max_gap_s: float | None = round(float(np.diff(edges).max()) / NS, 6)
    else:
        max_gap_s = None

    def rate(n: int) -> float | None:
        return round(n / duration, 3) if duration > 0 else None

    return {
        "duration_s": round(duration, 6),
        "counts": {
            "sent": sent,
            "acknowledged": n_ok,
            "failed": n_fail,
            "indeterminate": sent - n_ok - n_fail,
            "keys": len(s.keys),
            "stored": len(st.r_stored_at),
        },
        "ack_latency_ms": ack.percentiles_ms(),
        "e2e_latency_ms": e2e.percentiles_ms(),
        "latency_clamped": {
            "ack_negative": ack.negative,
            "ack_over_max": ack.clipped,
            "e2e_negative": e2e.negative,
            "e2e_over_max": e2e.clipped,
        },
        "throughput_per_s": {
            "sent": rate(sent),
            "acknowledged": rate(n_ok),
            "stored": rate(len(st.r_stored_at)),
            **{
                f"peak_{k}": int(per_s[k].max(initial=0))
                for k in ("sent", "acknowledged", "stored")
            },
        },
        "max_gap_s": max_gap_s,
        "phases": phase_out,
        "fault_windows": [w.to_dict() for w in fault_windows(an)],
        "histograms": {
            "unit": "us",
            "ack": encode_histogram(ack.histogram),
            "e2e": encode_histogram(e2e.histogram),
        },
    }


def _count_in(p: Phase, t: F64) -> int:
    return int(p.contains(t).sum())


# The figures threshold_metrics() returns, by name, with what each measures:
# the names a scenario's expect.thresholds may use (wiber_harness.scenario.METRICS).
THRESHOLD_METRICS: Mapping[str, str] = MappingProxyType(
    {
        "recovery_s": "seconds from a fault's heal until acknowledgements flow again",
        "error_rate": "fraction of sends that failed or were indeterminate",
        "max_gap_s": "longest stretch without an acknowledged send",
        "convergence_s": "time for everything acknowledged to become readable",
        "throughput": "acknowledged messages per second",
        "ack_p50_ms": "median acknowledgement latency",
        "ack_p99_ms": "99th percentile acknowledgement latency",
        "ack_max_ms": "worst acknowledgement latency",
        "e2e_p50_ms": "median send-to-readable latency",
        "e2e_p99_ms": "99th percentile send-to-readable latency",
        "e2e_max_ms": "worst send-to-readable latency",
        "lost": "acknowledged messages never stored",
        "duplicated": "messages stored more than once",
        "unexpected": "stored messages that were never sent",
        "recovered": "indeterminate sends that were stored",
        "ordering_violations": "conversation reads out of write order",
    }
)


def threshold_metrics(
    results: Mapping[str, CheckResult], summary: Mapping[str, Any]
) -> dict[str, float | None]:
    """The figures a scenario's ``expect.thresholds`` can name, from one run.

    Keys are those of :data:`THRESHOLD_METRICS`; None when the
    figure is unknown (its checker crashed or was not run, or nothing was
    measured):

    * ``recovery_s``: the slowest fault window's time from heal to the next
      acknowledgement (availability), ``inf`` if one never saw one although
      sends followed its heal, None if every heal came after the last send
      (not observable), 0 without faults;
    * ``error_rate``: the worst fault window's error rate; without faults
      (or sends in them) the whole run's (fail + info) / sent;
    * ``max_gap_s``: longest stretch of the workload without an ``ok``;
    * ``convergence_s``: the convergence checker's ``recovery_s``;
    * ``throughput``: acknowledged sends per second over the run;
    * ``ack_*_ms`` / ``e2e_*_ms``: percentiles from :func:`summary`;
    * ``lost``, ``duplicated``, ``unexpected``, ``recovered``: delivery counts;
    * ``ordering_violations``: the ordering checker's ``realtime_violations``.
    """

    def count(checker: str, name: str) -> float | None:
        r = results.get(checker)
        v = r.counts.get(name) if r is not None else None
        return float(v) if v is not None else None

    avail = results.get("availability")
    recovery: float | None = None
    error_rate: float | None = None
    if avail is not None and "windows" in avail.counts:
        observed = [
            w
            for w in avail.details.get("windows", [])
            if w.get("healed") and w.get("first_ok_after_heal_s") is not None
        ]
        if avail.counts.get("windows_never_recovered"):
            recovery = math.inf
        elif observed or not avail.counts.get("windows_heal_after_load"):
            recovery = float(avail.counts.get("max_first_ok_after_heal_s", 0.0))
        # else: every heal came after the last send, so recovery was not observable
        if avail.counts.get("sends"):
            error_rate = float(avail.counts["max_error_rate"])
    c = summary.get("counts", {})
    if error_rate is None and c.get("sent"):
        error_rate = (c["sent"] - c["acknowledged"]) / c["sent"]
    ack = summary.get("ack_latency_ms", {})
    e2e = summary.get("e2e_latency_ms", {})
    return {
        "recovery_s": recovery,
        "error_rate": error_rate,
        "max_gap_s": summary.get("max_gap_s"),
        "convergence_s": count("convergence", "recovery_s"),
        "throughput": summary.get("throughput_per_s", {}).get("acknowledged"),
        "ack_p50_ms": ack.get("p50"),
        "ack_p99_ms": ack.get("p99"),
        "ack_max_ms": ack.get("max"),
        "e2e_p50_ms": e2e.get("p50"),
        "e2e_p99_ms": e2e.get("p99"),
        "e2e_max_ms": e2e.get("max"),
        "lost": count("delivery", "lost"),
        "duplicated": count("delivery", "duplicated"),
        "unexpected": count("delivery", "unexpected"),
        "recovered": count("delivery", "recovered"),
        "ordering_violations": count("ordering", "realtime_violations"),
    }


__all__ = [
    "HIGHEST_US",
    "LOWEST_US",
    "PERCENTILES",
    "PHASES",
    "SIGNIFICANT_DIGITS",
    "THRESHOLD_METRICS",
    "Phase",
    "Recorded",
    "ack_latencies",
    "decode_histogram",
    "e2e_latencies",
    "encode_histogram",
    "fault_windows",
    "latency_histograms",
    "merged",
    "new_histogram",
    "per_second_counts",
    "percentiles_ms",
    "phases",
    "record_ns",
    "row_seconds",
    "run_end",
    "summary",
    "threshold_metrics",
]
