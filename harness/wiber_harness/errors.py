"""The harness's error tree.

Every failure of the harness itself derives from :class:`HarnessError`. A
harness failure is never reported as a pass, and never as a violation of the
system under test: the CLI maps it to exit code 2 ("could not decide").

::

    HarnessError
    ├── InvalidScenario   a scenario file is malformed (names file, field, fix)
    ├── ProvisionError    a binary, jar or toolchain is missing or broken
    ├── ClusterError      a node failed to start, stop or become ready
    ├── FaultError        a fault could not be injected or healed, or its
    │                     evidence is missing
    ├── WorkloadError     the load generator could not run
    └── CheckerError      a checker could not reach a verdict

Messages are one sentence a user can act on: what failed, where to look
(file, field, log) and how to fix it.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class InvalidScenario(HarnessError):
    """A scenario (or profile, or settings) file failed validation."""


class ProvisionError(HarnessError):
    """A component could not be found, built or downloaded."""


class ClusterError(HarnessError):
    """A node of the cluster failed to start, stop or become ready."""


class FaultError(HarnessError):
    """A fault could not be injected or healed, or did not take effect."""


class WorkloadError(HarnessError):
    """The workload generator failed."""


class CheckerError(HarnessError):
    """A checker could not decide."""


__all__ = [
    "CheckerError",
    "ClusterError",
    "FaultError",
    "HarnessError",
    "InvalidScenario",
    "ProvisionError",
    "WorkloadError",
]
