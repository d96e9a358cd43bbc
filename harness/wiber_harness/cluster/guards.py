"""Orphan guards: tiny processes that clean up a stack when the harness dies.

A guard is a child of the harness in its own session (a Ctrl-C to the
harness's terminal does not reach it) with the read end of a pipe on its
stdin; the harness keeps the write end. When the harness exits for any
reason, SIGKILL included, the kernel closes the pipe and the guard reads
EOF. Two kinds:

* :class:`Watchdog` (local backend, bench helpers): the harness writes the
  process group of every node it starts (``+PGID``) and stops (``-PGID``);
  at EOF the watchdog kills every group still registered (SIGCONT, then
  SIGKILL, so a paused group dies too). A clean shutdown unregisters
  everything first, so the watchdog then has nothing to do.
* :class:`ComposeGuard` (compose backend): the harness writes one JSON line,
  the ``down`` command (argv, cwd, env), and ``done`` on a clean close. At
  EOF without ``done`` the guard runs the ``down`` command, so no container,
  network or volume of the run is left behind.

Run as ``python -m wiber_harness.cluster.guards watchdog|compose`` with the
pipe on stdin. The module imports only the standard library, so a guard
starts fast and cannot fail on a missing dependency.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from typing import IO, ClassVar

MODULE = "wiber_harness.cluster.guards"


class _Guard:
    """Harness side of a guard: the child process and the write end of its pipe."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        r, w = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, self.kind],
            stdin=r,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        os.close(r)
        self._w: IO[str] | None = os.fdopen(w, "w", buffering=1)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, line: str) -> None:
        if self._w is None:
            return
        try:
            self._w.write(line + "\n")
        except BrokenPipeError:  # guard died: nothing left to tell it
            self._w = None

    def _close_pipe(self) -> None:
        if self._w is not None:
            with contextlib.suppress(OSError):
                self._w.close()
            self._w = None


class Watchdog(_Guard):
    """Kills the registered process groups when the harness dies."""

    kind = "watchdog"

    def register(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def close(self) -> None:
        """Normal end: everything was stopped and unregistered; let the guard exit."""
        self._close_pipe()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()


class ComposeGuard(_Guard):
    """Runs the compose ``down`` command when the harness dies."""

    kind = "compose"

    def __init__(self, down_argv: list[str], cwd: str, env: dict[str, str]) -> None:
        super().__init__()
        self._send(json.dumps({"argv": down_argv, "cwd": cwd, "env": env}))

    def close(self, done: bool = True) -> None:
        """Let the guard go: with ``done`` it exits; without, it takes the stack down itself."""
        if done:
            self._send("done")
        self._close_pipe()
        # not killed when slow: it may be running 'down', which must finish
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)


# ------------------------------------------------------------------ guard side
def _kill_groups(pgids: set[int]) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):  # a paused group must not survive either
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
    time.sleep(0.1)


def watch_groups(lines: Iterable[str]) -> None:
    """Read registrations until EOF, then kill what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pgids: set[int] = set()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            n = int(line[1:])
        except ValueError:
            continue
        if line[0] == "+":
            pgids.add(n)
        elif line[0] == "-":
            pgids.discard(n)
    _kill_groups(pgids)


def compose_down(stream: IO[str]) -> None:
    """Read the down command, then wait for ``done``; at EOF without it, run the command."""
    first = stream.readline()
    try:
        cmd = json.loads(first)
    except ValueError:
        return
    for line in stream:
        if line.strip() == "done":
            return
    with contextlib.suppress(Exception):
        subprocess.run(
            cmd["argv"],
            cwd=cmd["cwd"],
            env=cmd["env"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
        )


def main(argv: Sequence[str] | None = None) -> None:
    kind = (sys.argv[1:] if argv is None else list(argv))[:1]
    if kind == [Watchdog.kind]:
        watch_groups(sys.stdin)
    elif kind == [ComposeGuard.kind]:
        compose_down(sys.stdin)
    else:
        sys.exit(f"usage: python -m {MODULE} {Watchdog.kind}|{ComposeGuard.kind}")


if __name__ == "__main__":
    main()


__all__ = ["ComposeGuard", "Watchdog", "compose_down", "watch_groups"]
