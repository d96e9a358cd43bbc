"""Convergence: how long until everything acknowledged was stored.

Times come from ``StoredRecord.stored_at`` (run-relative ns); a key's
*stored time* is the earliest known ``stored_at`` of its attributed records.
A pipeline that stores no write time gets *observed* times instead
(``reads.stored_at_observed``: when the harness first saw each message in
the store, polling during the drain; a message already there when the drain
began counts as stored then). Those are upper bounds: ``recovery_s`` and
``backlog_s`` may be too large, never too small, the e2e figures say
nothing about the pipeline and are null, and ``details["approximate"]``
says so.

The *reference* is the moment the system was last allowed to be broken:
``reads.healed_at``; else the completion of the last heal in the history;
else (a run without faults) the end of the workload, i.e. the last send op.
For each stored acknowledged key ``k``::

    lag(k) = max(0, stored(k) - max(reference, ack(k)))

(a message acknowledged after the reference only owes its own pipeline
latency). Counts (``CheckResult.counts``; seconds are floats):

* ``acknowledged``: acknowledged keys; ``converged`` those with a stored
  time; ``not_stored`` those with no attributed record (delivery reports
  them as lost); ``missing_stored_at`` those stored but with no known
  ``stored_at`` on any record;
* ``recovery_s``: max ``lag`` (0 when nothing was late);
* ``backlog_s``: max over keys acknowledged at or before the reference of
  ``max(0, stored - reference)``: the time the pipeline needed after the
  heal to work off what it had acknowledged until then;
* ``e2e_mean_s`` / ``e2e_max_s``: end-to-end latency ``stored - intended``
  over converged keys; ``e2e_negative``: keys stored before their intended
  send time (clock trouble; informational);
* ``drain_s``: ``reads.drain_s`` when known.

``valid``: False if ``reads.drained`` is False (the pipeline did not
converge within the bound), except when the drain *settled*
(``reads.extra["drain"]["settled"]``: the consumer group had committed
everything, lag 0, and nothing moved for the settle time): then the
acknowledged messages still missing will never come, they are lost (the
delivery checker's finding, not a late convergence), and convergence is
judged on what was stored, with ``details["settled"]`` saying so; else
``"unknown"`` if ``missing_stored_at`` > 0; else True.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wiber_harness.checkers.analysis import ACKED, NS, Analysis, seconds
from wiber_harness.checkers.base import MAX_EXAMPLES, CheckResult, Ops, Validity
from wiber_harness.reads import FinalReads

NAME = "convergence"


def check_convergence(ops: Ops, reads: FinalReads) -> CheckResult:
    """Time for every acknowledged message to be stored after the last heal."""
    return convergence_from(Analysis(ops, reads))


def reference_time(an: Analysis) -> tuple[float, str]:
    """The reference instant (ns) and where it came from."""
    if an.reads.healed_at is not None:
        return float(an.reads.healed_at), "reads.healed_at"
    last_heal = an.faults.last_heal
    if last_heal is not None:
        return last_heal, "last heal in the history"
    s = an.sends
    if len(s.a_invoke) == 0:
        return 0.0, "no sends"
    end = max(float(np.max(s.a_invoke)), float(np.nanmax(s.a_done, initial=0.0)))
    return end, "end of the workload"


def convergence_from(an: Analysis) -> CheckResult:
    s, st, reads = an.sends, an.store, an.reads
    ref, source = reference_time(an)
    acked = s.k_status == ACKED
    stored_at = st.k_stored_at
    known = ~np.isnan(stored_at)
    conv = np.flatnonzero(acked & known)
    missing = int((acked & (st.k_records > 0) & ~known).sum())
    not_stored = int((acked & (st.k_records == 0)).sum())
    t = stored_at[conv]
    lag = np.maximum(t - np.maximum(ref, s.k_ack[conv]), 0.0)
    before = s.k_ack[conv] <= ref
    backlog = np.maximum(t[before] - ref, 0.0)
    observed = reads.stored_at_observed
    e2e = t - s.k_intended[conv] if not observed else np.zeros(0)
    nan = float("nan")
    counts: dict[str, int | float] = {
        "acknowledged": int(acked.sum()),
        "converged": len(conv),
        "not_stored": not_stored,
        "missing_stored_at": missing,
        "recovery_s": float(lag.max()) / NS if len(lag) else 0.0,
        "backlog_s": float(backlog.max()) / NS if len(backlog) else 0.0,
        "e2e_mean_s": float(e2e.mean()) / NS if len(e2e) else (nan if observed else 0.0),
        "e2e_max_s": float(e2e.max()) / NS if len(e2e) else (nan if observed else 0.0),
        "e2e_negative": int((e2e < 0).sum()),
    }
    if reads.drain_s is not None:
        counts["drain_s"] = float(reads.drain_s)
    examples: dict[str, list[Any]] = {}
    late = np.flatnonzero(lag > 0)
    if len(late):
        top = late[np.argsort(-lag[late], kind="stable")[:MAX_EXAMPLES]]
        examples["slowest"] = [
            {
                **s.key_example(int(conv[i])),
                "acked_at_s": seconds(s.k_ack[conv[i]]),
                "stored_at_s": seconds(t[i]),
                "lag_s": seconds(lag[i]),
            }
            for i in top.tolist()
        ]
    details: dict[str, Any] = {
        "reference_s": seconds(ref),
        "reference": source,
        "drained": reads.drained,
    }
    if observed:
        details["approximate"] = (
            "the pipeline stores no write time: stored times are when the harness first saw "
            "each message in the store (polled during the drain), so recovery_s and "
            "backlog_s are upper bounds and the e2e figures are not measured"
        )
    valid: Validity = True
    if not reads.drained and _settled(reads):
        details["settled"] = (
            f"{not_stored} acknowledged messages were never stored, but the consumers had "
            "committed everything (lag 0) and nothing moved: they are lost (the delivery "
            "checker's finding), not late; the stored ones converged"
        )
    elif not reads.drained:
        valid = False
        details["note"] = "the pipeline did not drain within the bound"
    if valid is True and missing:
        valid = "unknown"
        details["note"] = "stored_at is unknown for some acknowledged messages"
    return CheckResult(name=NAME, valid=valid, counts=counts, examples=examples, details=details)


def _settled(reads: FinalReads) -> bool:
    """The drain stopped because everything was committed and nothing moved (not at its bound)."""
    drain = reads.extra.get("drain")
    return isinstance(drain, dict) and drain.get("settled") is True and drain.get("lag") == 0


__all__ = ["NAME", "check_convergence", "convergence_from", "reference_time"]
