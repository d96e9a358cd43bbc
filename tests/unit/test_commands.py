"""Node configuration and command lines (pure builders)."""

from __future__ import annotations

import base64
from pathlib import Path

from wiber_harness.cluster.commands import (
    BrokerPorts,
    broker_properties,
    new_cluster_id,
    quorum_voters,
    store_argv,
)


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_broker_advertises_each_client_role_as_its_proxy() -> None:
    b = BrokerPorts(
        2,
        controller=9001,
        internal=9002,
        direct=9003,
        client={"api": (9004, 19004), "consumer": (9005, 19005)},
    )
    voters = quorum_voters([b, BrokerPorts(3, 9101, 9102, 9103, {})])
    p = _props(broker_properties(b, voters, Path("/d"), partitions=6))
    assert p["node.id"] == "2"
    assert p["controller.quorum.voters"] == "2@127.0.0.1:9001,3@127.0.0.1:9101"
    assert (
        "API://127.0.0.1:9004" in p["listeners"]
        and "API://127.0.0.1:19004" in p["advertised.listeners"]
    )
    assert "CONSUMER://127.0.0.1:19005" in p["advertised.listeners"]
    assert "DIRECT://127.0.0.1:9003" in p["advertised.listeners"]
    assert "CONTROLLER" not in p["advertised.listeners"]
    assert p["min.insync.replicas"] == "2" and p["default.replication.factor"] == "3"
    assert p["unclean.leader.election.enable"] == "false"
    assert p["process.roles"] == "broker,controller"


def test_mongod_command_line() -> None:
    argv = store_argv("MongoDB", Path("/usr/bin/mongod"), 27018, Path("/data/s"))
    assert argv[:5] == ["/usr/bin/mongod", "--bind_ip", "127.0.0.1", "--port", "27018"]
    assert "--dbpath" in argv and argv[argv.index("--dbpath") + 1] == "/data/s"


def test_ferretdb_command_line_has_no_telemetry_and_no_debug_listener() -> None:
    argv = store_argv("FerretDB", Path("/x/ferretdb"), 27019, Path("/data/f"))
    assert "--handler=sqlite" in argv and "--sqlite-url=file:/data/f/" in argv
    assert "--telemetry=disable" in argv and "--debug-addr=-" in argv
    assert "--listen-addr=127.0.0.1:27019" in argv


def test_delivery_logs_skip_missing_files_and_torn_lines(tmp_path: Path) -> None:
    from wiber_harness.cluster.base import read_delivery_logs

    a = tmp_path / "a.jsonl"
    a.write_bytes(b'{"key": 1}\n{"key": 2, "consumer": "other"}\n{"key": 3, "trunc')
    logs = read_delivery_logs([("consumer-1", a), ("consumer-2", tmp_path / "missing.jsonl")])
    assert logs == [{"key": 1, "consumer": "consumer-1"}, {"key": 2, "consumer": "other"}]


def test_the_controller_is_the_leader_of_the_newest_epoch_any_voter_saw() -> None:
    from wiber_harness.cluster.commands import controller_from_quorum_states

    stale = '{"clusterId":"","leaderId":3,"leaderEpoch":1,"votedId":-1,"data_version":0}'
    new = '{"clusterId":"","leaderId":2,"leaderEpoch":2,"votedId":2,"data_version":0}'
    assert controller_from_quorum_states([stale, new, '{"leaderId": 1, "leaderE']) == 2
    assert controller_from_quorum_states([stale]) == 3
    assert controller_from_quorum_states(['{"leaderId":-1,"leaderEpoch":4}', "", "null"]) is None


def test_new_cluster_id_never_starts_with_a_dash() -> None:
    # 0xf8.. encodes to '-' as the first URL-safe base64 character; the second draw is kept.
    draws = iter([bytes([0xF8]) + bytes(15), bytes([0x10]) + bytes(15)])
    cluster_id = new_cluster_id(lambda: next(draws))
    assert not cluster_id.startswith("-")
    assert cluster_id == base64.urlsafe_b64encode(bytes([0x10]) + bytes(15)).rstrip(b"=").decode()


def test_new_cluster_id_is_22_url_safe_characters() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
