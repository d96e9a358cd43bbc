"""Checkers: pure verdicts over a run's history and final reads.

Each checker is ``(ops, reads) -> CheckResult`` with ``valid`` True, False
or ``"unknown"`` (a crash is ``unknown``, never True), counts, and at most
:data:`MAX_EXAMPLES` examples per anomaly. The module docstring of each
checker is its spec: what every count means.

* ``delivery``: lost, unexpected, aborted, duplicated, recovered;
* ``ordering``: real-time and per-sender order of each conversation's read;
* ``convergence``: time until everything acknowledged was stored;
* ``availability``: error rate and outages in each fault window;
* ``redelivery``: records consumers handled more than once.

Run them together with :func:`check_all`; share the groundwork with the
metrics through one :class:`Analysis`.
"""

from wiber_harness.checkers.analysis import Analysis, FaultWindow
from wiber_harness.checkers.availability import check_availability
from wiber_harness.checkers.base import (
    MAX_EXAMPLES,
    Checker,
    CheckResult,
    Validity,
    merge_validity,
    safe_check,
)
from wiber_harness.checkers.convergence import check_convergence
from wiber_harness.checkers.delivery import check_delivery
from wiber_harness.checkers.ordering import check_ordering
from wiber_harness.checkers.redelivery import check_redelivery
from wiber_harness.checkers.suite import CHECKERS, check_all, compose_checkers, overall

__all__ = [
    "CHECKERS",
    "MAX_EXAMPLES",
    "Analysis",
    "CheckResult",
    "Checker",
    "FaultWindow",
    "Validity",
    "check_all",
    "check_availability",
    "check_convergence",
    "check_delivery",
    "check_ordering",
    "check_redelivery",
    "compose_checkers",
    "merge_validity",
    "overall",
    "safe_check",
]
