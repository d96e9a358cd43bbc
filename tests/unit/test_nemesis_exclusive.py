"""The nemesis never runs two operations on one node at once.

A fake cluster (pure scheduling logic, no processes) whose kill takes
0.3 s records how many operations act on each node at the same moment.
Two overlapping faults on one consumer must run one after the other; faults
on different nodes must still overlap.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from tests.unit.fake_cluster import FakeCluster
from wiber_harness.clock import Clock
from wiber_harness.faults.nemesis import Nemesis
from wiber_harness.history import HistoryWriter
from wiber_harness.scenario import FaultStep


class SlowCluster(FakeCluster):
    """Kills take 0.3 s; counts operations in flight per node and overall."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.total = 0
        self.most_total = 0

    def node_names(self, role: str) -> list[str]:
        return {"consumer": ["consumer-1", "consumer-2"]}.get(role, [])

    def links(self) -> list[str]:
        return []

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        raise AssertionError("not used")

    def kafka_controller(self) -> str:
        raise AssertionError("not used")

    def kill(self, name: str) -> dict[str, Any]:
        with self.lock:
            self.now[name] = self.now.get(name, 0) + 1
            self.total += 1
            self.most[name] = max(self.most.get(name, 0), self.now[name])
            self.most_total = max(self.most_total, self.total)
        time.sleep(0.3)
        with self.lock:
            self.now[name] -= 1
            self.total -= 1
        return {"action": "kill", "effective": True}

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        return {"action": "start", "effective": True}

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        raise AssertionError("not used")

    def pause(self, name: str) -> dict[str, Any]:
        raise AssertionError("not used")

    def restart(self, name: str, wait: bool = True) -> dict[str, Any]:
        raise AssertionError("not used")


def run(tmp_path: Path, targets: list[str]) -> SlowCluster:
    cluster = SlowCluster()
    clock = Clock()
    history = HistoryWriter(tmp_path / "h.jsonl")
    nemesis = Nemesis(cluster, history, clock, seed=1)
    steps = [
        FaultStep.model_validate({"id": f"f{i}", "at": 0.05 * i, "fault": "kill", "target": t})
        for i, t in enumerate(targets)
    ]
    asyncio.run(nemesis.run(steps, clock.now()))
    history.close()
    assert all(op.value.get("effective") for op in history.ops if op.type != "invoke")
    return cluster


def test_overlapping_faults_on_one_node_run_one_after_the_other(tmp_path: Path) -> None:
    cluster = run(tmp_path, ["consumer.1", "consumer.1", "consumer.1"])
    assert cluster.most == {"consumer-1": 1}


def test_faults_on_different_nodes_still_overlap(tmp_path: Path) -> None:
    cluster = run(tmp_path, ["consumer.1", "consumer.2"])
    assert cluster.most_total == 2
