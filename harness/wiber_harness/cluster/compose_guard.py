"""The compose backend's orphan guard: takes the stack down if the harness dies.

The harness starts one guard per stack, in its own session, with a pipe on
its stdin, and writes one JSON line: the ``down`` command (argv, cwd, env).
On a clean close it writes ``done`` first. When the pipe reaches EOF without
``done`` (the harness exited for any reason, SIGKILL included), the guard
runs the ``down`` command, so no container, network or volume of the run is
left behind.

Run as ``python -m wiber_harness.cluster.compose_guard`` with the pipe on stdin.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from typing import IO


class ComposeGuard:
    """Harness side of the guard."""

    def __init__(self, down_argv: list[str], cwd: str, env: dict[str, str]) -> None:
        import os

        r, w = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "wiber_harness.cluster.compose_guard"],
            stdin=r,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        os.close(r)
        self._w: IO[str] | None = os.fdopen(w, "w", buffering=1)
        self._send(json.dumps({"argv": down_argv, "cwd": cwd, "env": env}))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, line: str) -> None:
        if self._w is None:
            return
        try:
            self._w.write(line + "\n")
        except BrokenPipeError:
            self._w = None

    def close(self, done: bool = True) -> None:
        """Let the guard go: with ``done`` it exits; without, it takes the stack down itself."""
        if done:
            self._send("done")
        if self._w is not None:
            with contextlib.suppress(OSError):
                self._w.close()
            self._w = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)


def main() -> None:
    first = sys.stdin.readline()
    try:
        cmd = json.loads(first)
    except ValueError:
        return
    done = False
    for line in sys.stdin:
        if line.strip() == "done":
            done = True
            break
    if done:
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


if __name__ == "__main__":
    main()


__all__ = ["ComposeGuard"]
