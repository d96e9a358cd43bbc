"""Process identity: a PID read from a file is signalled only if it is still that process.

``cluster.json`` records the PIDs of a stack so that ``down`` can stop it and
``status`` can tell whether it runs. A PID in a file may be stale (the stack
ended, the machine rebooted, the folder was copied) or wrong (edited by
hand), and PIDs are reused. So every PID the harness writes for later use is
written with its identity (:func:`record`): the process's start time
(``psutil`` ``create_time``) and its command line. Before anything acts on a
PID from a file, :func:`verify` compares that record with the live process:

* ``SAME``: same start time (to :data:`TOLERANCE_S`), same command line, and
  owned by this user: the recorded process itself;
* ``GONE``: no such process (or a zombie): nothing to signal;
* ``OTHER``: anything else: a process that is not the recorded one, a
  record without start time or command line (written by an older harness, or
  by hand), or a process of another user. The caller refuses to signal it and
  says why (:attr:`Verdict.reason`, a sentence fragment).

The module imports only psutil and the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psutil

from wiber_harness.printable import clip

TOLERANCE_S = 0.05  # create_time is boot time + start ticks: the same on every read
Status = Literal["same", "gone", "other"]
SAME: Status = "same"
GONE: Status = "gone"
OTHER: Status = "other"


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: ``status`` and, for ``other``, why."""

    status: Status
    reason: str = ""


def record(pid: int | None) -> dict[str, Any] | None:
    """``{"pid", "create_time", "cmdline"}`` of a live process; None when it cannot be read."""
    if not pid:
        return None
    try:
        p = psutil.Process(int(pid))
        with p.oneshot():
            return {"pid": p.pid, "create_time": p.create_time(), "cmdline": p.cmdline()}
    except (psutil.Error, OSError, ValueError):
        return None


def _recorded(rec: object) -> tuple[int, float, list[str]] | None:
    if not isinstance(rec, Mapping):
        return None
    pid, ct, cmd = rec.get("pid"), rec.get("create_time"), rec.get("cmdline")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31:
        return None
    if isinstance(ct, bool) or not isinstance(ct, int | float):
        return None
    if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
        return None
    return pid, float(ct), cmd


def verify(rec: object) -> Verdict:
    """Is the process ``rec`` describes still running as recorded? (see the module doc)."""
    parsed = _recorded(rec)
    if parsed is None:
        return Verdict(
            OTHER,
            "the record has no valid pid, start time and command line "
            "(written by an older harness or by hand)",
        )
    pid, created, cmdline = parsed
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            if p.status() == psutil.STATUS_ZOMBIE:
                return Verdict(GONE)
            live_created = p.create_time()
            live_cmd = p.cmdline()
            uid = p.uids().real
    except psutil.NoSuchProcess:
        return Verdict(GONE)
    except (psutil.Error, OSError) as e:
        return Verdict(OTHER, f"pid {pid} cannot be inspected ({clip(str(e))})")
    if abs(live_created - created) > TOLERANCE_S:
        return Verdict(
            OTHER,
            f"pid {pid} is now another process (started at {live_created:.2f}, "
            f"not {created:.2f}: the recorded one has ended and its pid was reused)",
        )
    if live_cmd != cmdline:
        return Verdict(
            OTHER,
            f"pid {pid} now runs '{clip(' '.join(live_cmd))}', not '{clip(' '.join(cmdline))}'",
        )
    if uid != os.getuid():
        return Verdict(OTHER, f"pid {pid} belongs to another user (uid {uid})")
    return Verdict(SAME)


def is_harness_up(cmdline: object) -> bool:
    """Does a recorded command line look like a ``wiber-harness up`` process?"""
    if not isinstance(cmdline, list) or not all(isinstance(a, str) for a in cmdline):
        return False
    head = " ".join(cmdline[:4])
    return ("wiber-harness" in head or "wiber_harness" in head) and "up" in cmdline


__all__ = ["GONE", "OTHER", "SAME", "TOLERANCE_S", "Verdict", "is_harness_up", "record", "verify"]
