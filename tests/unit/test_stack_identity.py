"""``down`` signals only the process ``cluster.json`` names, and only if it still is that one.

Regression of issue 15: ``down`` killed whatever PID ``cluster.json`` held,
so a file pointing at an unrelated process (or a stale file after a reboot,
whose PIDs were reused) killed that process. Every test here uses a process
it starts itself (``sleep``-like Python children) and stops it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.unit.cliout import bad_input, invoke
from wiber_harness.cluster import identity

SLEEPER = "import time; time.sleep(120)"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process of ours (not a harness)."""
    p = subprocess.Popen([sys.executable, "-c", SLEEPER])
    time.sleep(0.1)
    yield p
    p.kill()
    p.wait(10)


@pytest.fixture
def fake_supervisor() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line is a 'wiber-harness up' (what the supervisor runs)."""
    argv = [sys.executable, "-c", SLEEPER, "wiber_harness.cli", "up", "--serve"]
    p = subprocess.Popen(argv)
    time.sleep(0.1)
    yield p
    p.kill()
    p.wait(10)


def state_file(d: Path, st: dict[str, Any]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "cluster.json").write_text(json.dumps(st))
    return d


def alive(p: subprocess.Popen[bytes]) -> bool:
    return p.poll() is None


def test_down_refuses_an_unrelated_pid_from_an_old_style_file(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    # was: "stopped (0 node processes)", exit 0, and the process was killed
    d = state_file(tmp_path / "s", {"supervisor_pid": sleeper.pid, "nodes": []})
    line = bad_input(invoke("down", "--dir", str(d)), f"not signalling pid {sleeper.pid}")
    assert "no start time and command line" in line
    time.sleep(0.2)
    assert alive(sleeper)


def test_down_refuses_a_record_of_a_process_that_is_not_a_harness(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    rec = identity.record(sleeper.pid)
    d = state_file(tmp_path / "s", {"supervisor_pid": sleeper.pid, "supervisor": rec})
    bad_input(invoke("down", "--dir", str(d)), "not a 'wiber-harness up'")
    assert alive(sleeper)


def test_down_refuses_a_pid_that_was_reused(
    tmp_path: Path, fake_supervisor: subprocess.Popen[bytes]
) -> None:
    # the stale-file case: the pid and command line match, the start time does not
    rec = identity.record(fake_supervisor.pid)
    assert rec is not None
    stale = {**rec, "create_time": rec["create_time"] - 3600}
    d = state_file(tmp_path / "s", {"supervisor_pid": rec["pid"], "supervisor": stale})
    line = bad_input(invoke("down", "--dir", str(d)), "is now another process")
    assert "pid was reused" in line
    assert alive(fake_supervisor)
    other_cmd = {**rec, "cmdline": [*rec["cmdline"], "--other"]}
    d = state_file(tmp_path / "t", {"supervisor_pid": rec["pid"], "supervisor": other_cmd})
    bad_input(invoke("down", "--dir", str(d)), "now runs")
    assert alive(fake_supervisor)


def test_down_on_a_file_whose_process_has_ended_says_no_stack_runs(tmp_path: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    # a process read right after fork may not show its command line yet (an empty one is
    # no identity at all): read until it does, as the harness reads its own, long running
    rec = identity.record(p.pid)
    deadline = time.monotonic() + 10
    while (rec is None or "-c" not in rec["cmdline"]) and time.monotonic() < deadline:
        time.sleep(0.01)
        rec = identity.record(p.pid)
    assert rec is not None and "-c" in rec["cmdline"], rec
    p.wait(10)
    d = state_file(tmp_path / "s", {"supervisor_pid": p.pid, "supervisor": rec})
    o = invoke("down", "--dir", str(d))
    assert o.code == 0 and "no stack is running" in o.out, o
    d = state_file(tmp_path / "t", {"supervisor_pid": p.pid})  # old style, gone
    o = invoke("down", "--dir", str(d))
    assert o.code == 0 and "no stack is running" in o.out, o


def test_down_stops_the_recorded_supervisor(
    tmp_path: Path, fake_supervisor: subprocess.Popen[bytes]
) -> None:
    rec = identity.record(fake_supervisor.pid)
    d = state_file(
        tmp_path / "s",
        {"supervisor_pid": fake_supervisor.pid, "supervisor": rec, "nodes": []},
    )
    o = invoke("down", "--dir", str(d), "--timeout", "10")
    assert o.code == 0 and "stopped" in o.out, o
    fake_supervisor.wait(10)
    assert not alive(fake_supervisor)


def test_status_and_up_trust_only_a_verified_supervisor(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    d = state_file(tmp_path / "s", {"supervisor_pid": sleeper.pid, "nodes": []})
    o = invoke("status", "--dir", str(d))
    assert o.code == 1 and "no stack is running" in o.out
    assert alive(sleeper)


def test_verify_says_same_gone_or_other(sleeper: subprocess.Popen[bytes]) -> None:
    rec = identity.record(sleeper.pid)
    assert rec is not None and rec["cmdline"][-1] == SLEEPER
    assert identity.verify(rec).status == identity.SAME
    assert identity.verify({**rec, "create_time": 0.0}).status == identity.OTHER
    assert identity.verify({**rec, "cmdline": ["sleep"]}).status == identity.OTHER
    for broken in (None, {}, {"pid": "1"}, {**rec, "pid": True}, {**rec, "cmdline": []}):
        v = identity.verify(broken)
        assert v.status == identity.OTHER and "no valid pid" in v.reason
    gone = psutil.Process(sleeper.pid)
    sleeper.kill()
    sleeper.wait(10)
    assert identity.verify(rec).status == identity.GONE
    assert not gone.is_running()


def test_is_harness_up() -> None:
    assert identity.is_harness_up(["/usr/bin/python3", "/venv/bin/wiber-harness", "up"])
    assert identity.is_harness_up(["python", "-m", "wiber_harness.cli", "up", "--serve"])
    assert not identity.is_harness_up(["sleep", "1000"])
    assert not identity.is_harness_up(["python", "-m", "wiber_harness.cli", "run", "x.yaml"])
    assert not identity.is_harness_up("wiber-harness up")
