"""The workload: what the harness sends, and when.

* :mod:`wiber_harness.workload.plan`: the pure, seeded plan (which
  conversation, sender and content each scheduled send has, and when);
* :mod:`wiber_harness.workload.open_loop`: the open-loop HTTP generator that
  carries out a plan against the API(s) and records every attempt in the
  history.

The names most callers need are re-exported here. The plan's are bound at
once (the plan is pure and light; binding ``plan`` also keeps the function,
not the submodule of that name, at ``wiber_harness.workload.plan``'s place
in this namespace); the generator's load on first use, so modules that need
only the plan's types (system specs, judging) do not pull in the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wiber_harness.workload.plan import (
    ApiProfile,
    Planned,
    WorkloadConfig,
    classify_status,
    content_for,
    conversation_pairs,
    plan,
)

if TYPE_CHECKING:
    from wiber_harness.workload.open_loop import Workload, WorkloadStats


def __getattr__(name: str) -> Any:
    if name in ("Workload", "WorkloadStats"):
        return getattr(importlib.import_module(f"{__name__}.open_loop"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
