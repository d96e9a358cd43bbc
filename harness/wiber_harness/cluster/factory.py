"""make_cluster: the one place that turns a backend name and a ClusterConfig into a Cluster.

The runner, the stack CLI (``up``) and the pytest plugin call it; each
backend module is imported only when asked for (compose pulls in the Docker
SDK lazily, local the provisioning). The assignments under
``TYPE_CHECKING`` make mypy check that every backend class satisfies the
:class:`~wiber_harness.cluster.base.Cluster` protocol, so drift between the
backends is a type error. A new backend is one more branch, one more name
in :data:`BACKENDS` and one more such assignment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wiber_harness.cluster.base import Cluster, ClusterConfig
from wiber_harness.errors import HarnessError

if TYPE_CHECKING:
    from wiber_harness.cluster.attach import AttachCluster
    from wiber_harness.cluster.compose import ComposeCluster
    from wiber_harness.cluster.local import LocalCluster

    _local_is_a_cluster: type[Cluster] = LocalCluster
    _compose_is_a_cluster: type[Cluster] = ComposeCluster
    _attach_is_a_cluster: type[Cluster] = AttachCluster

# attach: a deployment the harness did not start, described by a target file
# (ClusterConfig.deployment; see cluster/attach.py)
BACKENDS = ("local", "compose", "attach")


def make_cluster(backend: str, config: ClusterConfig) -> Cluster:
    """A cluster of the named backend (not started yet); HarnessError for an unknown name."""
    if backend == "local":
        from wiber_harness.cluster.local import LocalCluster

        return LocalCluster(config)
    if backend == "compose":
        from wiber_harness.cluster.compose import ComposeCluster

        return ComposeCluster(config)
    if backend == "attach":
        from wiber_harness.cluster.attach import AttachCluster

        return AttachCluster(config)
    raise HarnessError(f"unknown backend {backend!r}; use {' or '.join(BACKENDS)}")


__all__ = ["BACKENDS", "make_cluster"]
