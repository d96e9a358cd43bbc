"""Fault evidence: did every fault of a run take effect?

The nemesis records, on each inject and heal completion, the evidence it
saw (``effective`` and why). A fault that did not take effect proves nothing
about the system, so :func:`fault_evidence` lists each such fault in one
sentence and the judge makes the run "unknown". Pure: it reads nemesis ops.
"""

from __future__ import annotations

from collections.abc import Sequence

from wiber_harness.history import NEMESIS, Op


def fault_evidence(ops: Sequence[Op]) -> tuple[bool, list[str]]:
    """Did every fault take effect? (all effective, one sentence per fault that did not).

    A completion that is not ``ok`` with ``effective`` true has no evidence; an
    inject or heal with no completion at all (the harness stopped first) has none
    either.
    """
    problems = []
    done = {op.id for op in ops if op.process == NEMESIS and op.type != "invoke"}
    for op in ops:
        if op.process != NEMESIS:
            continue
        if op.type == "invoke":
            if op.id not in done:
                problems.append(
                    f"{op.f} {op.value.get('kind')} {op.value.get('target')}: never completed "
                    "(the harness stopped before the fault's outcome was known)"
                )
            continue
        if op.type != "ok" or not op.value.get("effective", False):
            problems.append(
                f"{op.f} {op.value.get('kind')} {op.value.get('target')}: "
                f"{op.value.get('error') or 'no evidence that it took effect'}"
            )
    return not problems, problems


__all__ = ["fault_evidence"]
