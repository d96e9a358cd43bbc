"""wiber_harness: fault-injection test harness and benchmark suite for Wiber.

See DESIGN.md for the data flow: scenario -> runner (cluster, workload,
nemesis) -> history -> checkers -> report.
"""

from wiber_harness.errors import (
    CheckerError,
    ClusterError,
    FaultError,
    HarnessError,
    InvalidScenario,
    ProvisionError,
    WorkloadError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckerError",
    "ClusterError",
    "FaultError",
    "HarnessError",
    "InvalidScenario",
    "ProvisionError",
    "WorkloadError",
    "__version__",
]
