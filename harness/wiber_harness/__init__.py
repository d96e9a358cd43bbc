"""wiber_harness: fault-injection test harness and benchmark suite for Wiber.

The data flow: scenario -> runner (cluster, workload, nemesis) -> history
and final reads -> checkers and metrics -> result.json -> report.
``docs/architecture.md`` maps every layer and follows one scenario run
through the modules; ``docs/formats.md`` describes every file.
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
