"""The local stack on real Kafka, FerretDB and Toxiproxy (issue: real local stack)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pymongo
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer

from tests.integration.conftest import pids_alive
from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.local import LocalCluster
from wiber_harness.errors import ClusterError

pytestmark = pytest.mark.integration

TOPIC = "wiber.messages"


def _producer(bootstrap: str, **extra: object) -> Producer:
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "log_level": 0,
    }
    conf.update(extra)
    return Producer(conf)


def _text(msg: Message) -> str:
    """A record's value as text (every record these tests produce has one)."""
    value = msg.value()
    assert value is not None
    return value.decode()


def _consume_all(bootstrap: str, topic: str, want: set[str], timeout: float = 60) -> set[str]:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    c.subscribe([topic])
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not want <= seen:
            for m in c.consume(500, timeout=1.0):
                if m.error() is None and (value := m.value()) is not None:
                    seen.add(value.decode())
    finally:
        c.close()
    return seen


def test_produce_and_consume_1000_through_toxiproxy(bare_cluster: LocalCluster) -> None:
    ep = bare_cluster.endpoints()
    run = uuid.uuid4().hex[:8]
    p = _producer(ep.kafka)
    acked: set[str] = set()

    def cb(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            acked.add(_text(msg))

    for i in range(1000):
        p.produce(TOPIC, key=f"k{i % 37}", value=f"{run}-{i}", callback=cb)
        p.poll(0)
    assert p.flush(30) == 0
    assert len(acked) == 1000
    # Read back through the consumers' proxies: every client hop is proxied.
    seen = _consume_all(bare_cluster.kafka_bootstrap("consumer"), TOPIC, acked)
    assert acked <= seen


def test_broker_kill9_loses_nothing_acknowledged(bare_cluster: LocalCluster) -> None:
    ep = bare_cluster.endpoints()
    victim = bare_cluster.kafka_leader(0)
    run = uuid.uuid4().hex[:8]
    p = _producer(ep.kafka, **{"message.timeout.ms": 20000})
    acked: set[str] = set()
    failed = 0

    def cb(err: KafkaError | None, msg: Message) -> None:
        nonlocal failed
        if err is None:
            acked.add(_text(msg))
        else:
            failed += 1

    n = 0
    t_end = time.monotonic() + 12
    killed = restarted = False
    t0 = time.monotonic()
    while time.monotonic() < t_end:
        p.produce(TOPIC, key=f"k{n % 50}", value=f"{run}-{n}", callback=cb)
        n += 1
        p.poll(0.002)
        if not killed and time.monotonic() - t0 > 3:
            ev = bare_cluster.kill(victim)
            assert ev["effective"] and ev["returncode"] == -9
            killed = True
        if killed and not restarted and time.monotonic() - t0 > 8:
            bare_cluster.start_node(victim, wait=False)
            restarted = True
    assert p.flush(40) == 0
    bare_cluster.wait_ready(victim, 90)
    assert len(acked) > n * 0.5, f"only {len(acked)} of {n} acknowledged"
    seen = _consume_all(ep.kafka_direct, TOPIC, acked, timeout=90)
    lost = acked - seen
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:3]}"


def test_disabled_broker_proxy_cuts_that_broker_and_clients_fail_over(
    bare_cluster: LocalCluster,
) -> None:
    from confluent_kafka.admin import AdminClient

    leader = bare_cluster.kafka_leader(0)
    node_id = leader.split("-")[1]
    other = next(p for p in range(6) if bare_cluster.kafka_leader(p) != leader)
    link = f"api-kafka-{node_id}"
    ev = bare_cluster.set_link_enabled(link, False)
    try:
        assert ev["effective"] and ev["listening"] is False
        # A new client bootstraps through the remaining proxies ...
        md = AdminClient(
            {"bootstrap.servers": bare_cluster.kafka_bootstrap("api"), "log_level": 0}
        ).list_topics(timeout=10)
        assert len(md.brokers) == 3
        p = _producer(bare_cluster.kafka_bootstrap("api"), **{"message.timeout.ms": 4000})
        results: dict[int, KafkaError | None] = {}
        p.produce(
            TOPIC,
            value=b"to-other",
            partition=other,
            on_delivery=lambda e, m: results.__setitem__(other, e),
        )
        p.produce(
            TOPIC, value=b"to-cut", partition=0, on_delivery=lambda e, m: results.__setitem__(0, e)
        )
        p.flush(10)
        # ... writes to a reachable leader succeed, writes to the cut leader do not.
        assert results[other] is None
        assert results[0] is not None
    finally:
        bare_cluster.set_link_enabled(link, True)
    p2 = _producer(bare_cluster.kafka_bootstrap("api"), **{"message.timeout.ms": 15000})
    res: list[KafkaError | None] = []
    p2.produce(TOPIC, value=b"after-heal", partition=0, on_delivery=lambda e, m: res.append(e))
    p2.flush(20)
    assert res == [None]


def test_store_write_read_and_unique_index(bare_cluster: LocalCluster) -> None:
    # directly, and through the API's store proxy
    for uri in (bare_cluster.store_uri, bare_cluster.endpoints().store):
        c: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=5000
        )
        coll = c["t"][f"m{uuid.uuid4().hex[:6]}"]
        coll.create_index("messageId", unique=True)
        coll.insert_one({"messageId": "a", "v": 1})
        doc = coll.find_one({"messageId": "a"})
        assert doc is not None and doc["v"] == 1
        with pytest.raises(pymongo.errors.DuplicateKeyError) as exc:
            coll.insert_one({"messageId": "a", "v": 2})
        assert exc.value.code == 11000
        c.close()


def _stack_pids(state: dict[str, Any]) -> list[int]:
    return [int(n["pid"]) for n in state["nodes"] if n.get("pid")]


def test_up_detach_status_down_leave_no_process(tmp_path: Path) -> None:
    d = tmp_path / "stack"
    cmd = [sys.executable, "-m", "wiber_harness.cli"]
    t0 = time.monotonic()
    subprocess.run(
        [*cmd, "up", "--detach", "--no-system", "--dir", str(d)], check=True, timeout=240
    )
    up_s = time.monotonic() - t0
    st = json.loads(
        subprocess.run(
            [*cmd, "status", "--json", "--dir", str(d)],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    )
    assert {n["name"] for n in st["nodes"]} == {
        "toxiproxy",
        "store",
        "kafka-1",
        "kafka-2",
        "kafka-3",
    }
    assert set(st["endpoints"]) >= {"api", "kafka", "kafka_direct", "store", "toxiproxy"}
    for n in st["nodes"]:
        assert set(n) >= {"name", "role", "pid", "address", "healthy"}
    pids = _stack_pids(st)
    pids.append(int(st["supervisor_pid"]))
    subprocess.run([*cmd, "down", "--dir", str(d)], check=True, timeout=120)
    assert pids_alive(pids) == []
    print(f"up --detach ready in {up_s:.1f} s")


def _spawn_harness(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    script = f"""
import json, sys, time
from pathlib import Path
from wiber_harness.cluster.base import ClusterConfig
from wiber_harness.cluster.local import LocalCluster
c = LocalCluster(ClusterConfig(run_dir=Path({str(tmp_path / "h")!r}), system=None))
c.start()
print(
    json.dumps({{"pids": [p.pid for p in c.processes()], "watchdog": c._watchdog.pid}}),
    flush=True,
)
if {mode!r} == "raise":
    try:
        raise RuntimeError("boom")
    finally:
        c.close()
time.sleep(600)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "the harness process died before the stack was ready"
    return proc, json.loads(line)


def test_sigkill_of_the_harness_leaves_no_process(tmp_path: Path) -> None:
    proc, info = _spawn_harness(tmp_path, "sleep")
    pids = [int(p) for p in info["pids"]]
    assert len(pids_alive(pids)) == 5
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    # The guard kills the nodes' groups and then exits itself; it can still be
    # alive for a moment after the last node died, so wait for all of them.
    watchdog = int(info["watchdog"])
    deadline = time.monotonic() + 15
    while pids_alive([*pids, watchdog]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids_alive(pids) == []
    assert pids_alive([watchdog]) == []


def test_an_exception_in_the_harness_leaves_no_process(tmp_path: Path) -> None:
    proc, info = _spawn_harness(tmp_path, "raise")
    proc.wait(60)
    assert proc.returncode != 0
    assert pids_alive([int(p) for p in info["pids"]]) == []


@pytest.mark.parametrize(
    "inherited_sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["terminal", "sigint-ignored"]
)
def test_ctrl_c_of_foreground_up_leaves_no_process(
    tmp_path: Path, inherited_sigint: signal.Handlers
) -> None:
    # "sigint-ignored": up started as a script's background job, which inherits
    # SIGINT ignored; Ctrl-C must still stop the stack.
    d = tmp_path / "fg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wiber_harness.cli", "up", "--no-system", "--dir", str(d)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, inherited_sigint),
    )
    pids: list[int] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            if "ready in" in line or time.monotonic() > deadline:
                break
        st = json.loads((d / "cluster.json").read_text())
        pids = _stack_pids(st)
        assert len(pids_alive(pids)) == 5
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        assert pids_alive(pids) == []
    finally:  # a failure must not leave a stack running under the tests that follow
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(60)
            proc.kill()
        for pid in pids_alive(pids):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_a_broker_that_fails_to_start_is_named_with_its_log(tmp_path: Path) -> None:
    cfg = ClusterConfig(
        run_dir=tmp_path / "bad",
        system=None,
        kafka_overrides={"num.io.threads": "not-a-number"},
        start_timeout=60,
    )
    c = LocalCluster(cfg)
    with pytest.raises(ClusterError) as exc:
        c.start()
    msg = str(exc.value)
    assert ("kafka-" in msg and "kafka.log" in msg) or "format.log" in msg
    assert "\n" not in msg
    assert pids_alive([p.pid for p in c.processes() if p.pid]) == []


def test_a_port_in_use_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from wiber_harness.cluster import common, local

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1]
    real = common.free_ports  # what local.free_ports is until the patch below

    def ports_with_a_taken_one(n: int) -> list[int]:
        ports = real(n)
        return [taken, *ports[1:]]  # the first port is Toxiproxy's API

    monkeypatch.setattr(local, "free_ports", ports_with_a_taken_one)
    try:
        with pytest.raises(ClusterError) as exc:
            LocalCluster(ClusterConfig(run_dir=tmp_path / "p", system=None)).start()
    finally:
        held.close()
    msg = str(exc.value)
    assert "toxiproxy" in msg and "in use" in msg and "toxiproxy.log" in msg
