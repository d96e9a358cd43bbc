"""Fixtures that start the real local stack (no mocks).

``bare_cluster``: 3 Kafka nodes, the store and Toxiproxy, no pipeline.
``cluster``: the same plus the Wiber API and 2 consumers.
Both are session-scoped (a start costs ~20 s on 2 cores); a test that
breaks a node must put it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.local import LocalCluster


@pytest.fixture(scope="session")
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = LocalCluster(ClusterConfig(run_dir=tmp_path_factory.mktemp("bare-stack"), system=None))
    c.start()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = LocalCluster(ClusterConfig(run_dir=tmp_path_factory.mktemp("stack"), consumers=2, apis=1))
    c.start()
    try:
        yield c
    finally:
        c.close()


def pids_alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for p in pids:
        try:
            if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def run_dir_of(c: LocalCluster) -> Path:
    return c.run_dir
