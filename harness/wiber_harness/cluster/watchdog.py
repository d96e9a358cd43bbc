"""The orphan guard: a tiny process that kills the stack when the harness dies.

The harness starts one watchdog per cluster and keeps the write end of a
pipe to it. It tells the watchdog the process group of every node it starts
(``+PGID``) and stops (``-PGID``). When the pipe reaches EOF, which the
kernel guarantees when the harness exits for any reason, SIGKILL included,
the watchdog kills every process group still registered. A clean shutdown
unregisters everything first, so the watchdog then has nothing to do.

Run as ``python -m wiber_harness.cluster.watchdog`` with the pipe on stdin.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import IO


class Watchdog:
    """Harness side of the guard."""

    def __init__(self) -> None:
        r, w = os.pipe()
        # The watchdog gets its own session so a Ctrl-C to the harness's
        # terminal does not kill the guard before it has done its job.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "wiber_harness.cluster.watchdog"],
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

    def register(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def _send(self, line: str) -> None:
        if self._w is None:
            return
        try:
            self._w.write(line + "\n")
        except BrokenPipeError:  # guard died: nothing left to tell it
            self._w = None

    def close(self) -> None:
        """Normal end: everything was stopped and unregistered; let the guard exit."""
        if self._w is not None:
            with contextlib.suppress(BrokenPipeError):
                self._w.close()
            self._w = None
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def _kill_groups(pgids: set[int]) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):  # a paused group must not survive either
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
    time.sleep(0.1)


def main() -> None:
    """Guard side: read registrations until EOF, then kill what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pgids: set[int] = set()
    for line in sys.stdin:
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


if __name__ == "__main__":
    main()
