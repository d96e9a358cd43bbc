"""Pandas frames of one run, for plots and analysis (not needed to judge a run).

* :func:`ops_frame`: one row per invoke with its completion;
* :func:`per_second_frame`: throughput and ack latency per second since run start.

They sit apart from :mod:`wiber_harness.metrics` so that judging a run
(``check``) never imports pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wiber_harness.checkers.analysis import NS, OK, OUTCOME_NAMES, Analysis
from wiber_harness.checkers.base import Ops
from wiber_harness.columns import as_history
from wiber_harness.history import pairs
from wiber_harness.metrics import (
    fault_windows,
    per_second_counts,
    phases,
)
from wiber_harness.reads import FinalReads


def ops_frame(ops: Ops, *, analysis: Analysis | None = None) -> pd.DataFrame:
    """One row per invoke with its completion, sorted by invoke time.

    Columns: id, process, f, outcome (ok/fail/info/pending), invoke_s,
    complete_s, intended_s, latency_ms (completion - intended), key,
    conversation, sender, seq, message_id, retry, fault, kind.
    """
    an = analysis or Analysis(ops, FinalReads())
    s = an.sends
    k = s.a_key
    sends = pd.DataFrame(
        {
            "id": s.a_id,
            "process": s.a_process,
            "f": "send",
            "outcome": pd.Categorical.from_codes(s.a_outcome, categories=pd.Index(OUTCOME_NAMES)),
            "invoke_s": s.a_invoke / NS,
            "complete_s": s.a_done / NS,
            "intended_s": s.a_intended / NS,
            "latency_ms": (s.a_done - s.a_intended) / 1e6,
            "key": np.asarray(s.keys, dtype=object)[k] if len(k) else [],
            "conversation": np.asarray(s.k_conversation, dtype=object)[k] if len(k) else [],
            "sender": np.asarray(s.k_sender, dtype=object)[k] if len(k) else [],
            "seq": np.asarray(s.k_seq, dtype=object)[k] if len(k) else [],
            "message_id": s.a_mid,
            "retry": s.a_retry,
            "fault": None,
            "kind": None,
        }
    )
    rows: list[dict[str, Any]] = []
    for inv, done in pairs(as_history(ops).others):
        rows.append(
            {
                "id": inv.id,
                "process": inv.process,
                "f": inv.f,
                "outcome": done.type if done is not None else "pending",
                "invoke_s": inv.time / NS,
                "complete_s": done.time / NS if done is not None else np.nan,
                "intended_s": np.nan,
                "latency_ms": (done.time - inv.time) / 1e6 if done is not None else np.nan,
                "fault": inv.value.get("fault"),
                "kind": inv.value.get("kind"),
            }
        )
    frame = pd.concat([sends, pd.DataFrame(rows)], ignore_index=True) if rows else sends
    frame["outcome"] = frame["outcome"].astype(pd.CategoricalDtype(list(OUTCOME_NAMES)))
    return frame.sort_values(["invoke_s", "id"], kind="stable").reset_index(drop=True)


def per_second_frame(
    ops: Ops, reads: FinalReads, *, analysis: Analysis | None = None
) -> pd.DataFrame:
    """Throughput and ack latency per integer second since run start.

    Index ``second``; columns sent, acknowledged, failed, indeterminate,
    stored (counts), ack_p50_ms, ack_p99_ms, ack_max_ms (of ``ok``
    completions in that second, NaN if none), fault (a fault window overlaps
    the second), phase.
    """
    an = analysis or Analysis(ops, reads)
    s = an.sends
    counts = per_second_counts(an)
    n = len(counts["sent"])
    last = n - 1
    frame = pd.DataFrame(counts, index=pd.RangeIndex(n, name="second"))
    ok = s.a_outcome == OK
    lat = pd.DataFrame(
        {
            "second": np.clip((s.a_done[ok] // NS).astype(np.int64), 0, last),
            "ms": (s.a_done[ok] - s.a_intended[ok]) / 1e6,
        }
    )
    g = lat.groupby("second")["ms"]
    frame["ack_p50_ms"] = g.quantile(0.5).reindex(frame.index)
    frame["ack_p99_ms"] = g.quantile(0.99).reindex(frame.index)
    frame["ack_max_ms"] = g.max().reindex(frame.index)
    starts = np.arange(n, dtype=np.float64) * NS
    fault = np.zeros(n, dtype=np.bool_)
    for w in fault_windows(an):
        fault |= (starts + NS > w.start) & (starts <= w.end)
    frame["fault"] = fault
    phase = np.full(n, "before", dtype=object)
    for p in phases(an):
        # a second belongs to the phase its start falls in
        phase[p.contains(starts)] = p.name
    frame["phase"] = phase
    return frame


# -- summary -----------------------------------------------------------------


__all__ = ["ops_frame", "per_second_frame"]
