"""The workload: what the harness sends, and when.

* :mod:`wiber_harness.workload.plan`: the pure, seeded plan (which
  conversation, sender and content each scheduled send has, and when);
* :mod:`wiber_harness.workload.open_loop`: the open-loop HTTP generator that
  carries out a plan against the API(s) and records every attempt in the
  history.

The names most callers need are re-exported here.
"""

from wiber_harness.workload.open_loop import (
    ApiProfile,
    Planned,
    Workload,
    WorkloadConfig,
    WorkloadStats,
    classify_status,
    content_for,
    conversation_pairs,
    plan,
)

__all__ = [
    "ApiProfile",
    "Planned",
    "Workload",
    "WorkloadConfig",
    "WorkloadStats",
    "classify_status",
    "content_for",
    "conversation_pairs",
    "plan",
]
