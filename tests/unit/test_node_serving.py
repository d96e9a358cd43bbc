"""``node_serving``: the one probe of a broker's own listener (local and attach backends).

Pure caching logic with a stand-in AdminClient: a client is made only once the
port is served, dropped after a failure or an answer from another broker, and
kept otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from wiber_harness.cluster import kafka_observer
from wiber_harness.cluster.kafka_observer import node_serving


@dataclass
class Metadata:
    orig_broker_id: int
    brokers: dict[int, object] = field(default_factory=dict)


class Admin:
    answers: list[Metadata | Exception] = []
    made: list[dict[str, Any]] = []

    def __init__(self, conf: dict[str, Any]) -> None:
        Admin.made.append(conf)

    def list_topics(self, timeout: float) -> Metadata:
        a = Admin.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    state = [True]
    monkeypatch.setattr(kafka_observer, "port_served", lambda port, host: state[0])
    monkeypatch.setattr("confluent_kafka.admin.AdminClient", Admin)
    Admin.answers, Admin.made = [], []
    return state


def conf(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap}


def test_a_node_that_answers_for_itself_is_serving_and_its_client_is_kept(
    served: list[bool],
) -> None:
    clients: dict[Any, Any] = {}
    Admin.answers = [Metadata(2, {1: 0, 2: 0}), Metadata(2, {2: 0})]
    assert node_serving(clients, 2, "127.0.0.1", 9093, conf)
    assert node_serving(clients, 2, "127.0.0.1", 9093, conf)
    assert Admin.made == [{"bootstrap.servers": "127.0.0.1:9093"}]  # one client, reused


@pytest.mark.parametrize(
    "answer", [Metadata(1, {1: 0, 2: 0}), Metadata(2, {1: 0}), RuntimeError("timed out")]
)
def test_another_broker_answering_a_missing_self_or_a_failure_is_not_serving(
    served: list[bool], answer: Metadata | Exception
) -> None:
    clients: dict[Any, Any] = {}
    Admin.answers = [answer]
    assert not node_serving(clients, 2, "127.0.0.1", 9093, conf)
    if isinstance(answer, Exception) or answer.orig_broker_id != 2:
        assert 2 not in clients  # dropped: the next probe starts with a fresh client


def test_no_client_is_made_while_the_port_is_not_served(served: list[bool]) -> None:
    clients: dict[Any, Any] = {2: object()}
    served[0] = False
    assert not node_serving(clients, 2, "127.0.0.1", 9093, conf)
    assert clients == {} and Admin.made == []
