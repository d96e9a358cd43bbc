"""A second process for the second part of a large history, so ``check`` uses two cores.

:func:`helper` is used by :func:`wiber_harness.columns.read_history_columns`:
for a file of at least :data:`SPLIT_BYTES` on a machine with two or more
cores, it splits the lines after the header at a newline (the helper takes
:data:`HELPER_SHARE` of the bytes, the later ones), starts
``python -m wiber_harness.columns_split FD START END`` on the *same open
file* (inherited descriptor, reads at offsets: no second ``open`` of a path
that might have changed), and yields a :class:`Part` whose
:meth:`Part.result` is the helper's columns. The reader merges them after its
own and checks every rule on the whole, so a split never changes what is
accepted. Whatever goes wrong in the helper (it meets a line the fast reader
cannot vouch for, it cannot start, it dies, its answer does not unpickle)
raises the reader's fallback: the authoritative line-by-line reader decides.

The helper is this process's own child; leaving the ``with`` block always
ends it (killed if still running, then reaped), and on Linux it is killed
with its parent, so none outlives a check.
Its peak memory is about a third of the reader's and lasts only while the
history is read (``python -m wiber_harness.bench.check_folder`` reports the
two processes' summed resident memory, sampled).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLIT_BYTES = 48 << 20  # smaller files are read by one process: a helper costs ~0.2 s to start
HELPER_SHARE = 0.45  # the helper starts later (a fresh interpreter): it takes a bit less
_FIND_NEWLINE = 1 << 20  # how far past the midpoint to look for the split's newline
_FALLBACK_EXIT = 3
_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


@dataclass
class Part:
    """The helper reading bytes ``[start, end)``."""

    start: int
    end: int
    proc: subprocess.Popen[bytes]

    def result(self) -> dict[str, Any]:
        """The helper's columns (:meth:`wiber_harness.columns._Columns.state`)."""
        from wiber_harness.columns import _Fallback

        assert self.proc.stdout is not None
        try:
            state = pickle.load(self.proc.stdout)
        except Exception as e:  # any bad answer: the slow path decides
            raise _Fallback from e
        if self.proc.wait() != 0 or not isinstance(state, dict):
            raise _Fallback
        return state


def split_at(fd: int, start: int, size: int, share: float | None = None) -> int | None:
    """Where the helper's part begins (just after a newline), or None: no split."""
    if size - start < SPLIT_BYTES or (os.cpu_count() or 1) < 2 or not hasattr(os, "preadv"):
        return None
    share = HELPER_SHARE if share is None else min(max(share, 0.0), 1.0)
    mid = start + int((size - start) * (1 - share))
    nl = os.pread(fd, _FIND_NEWLINE, mid).find(b"\n")
    if nl < 0 or mid + nl + 1 >= size:
        return None
    return mid + nl + 1


@contextlib.contextmanager
def helper(fd: int, start: int, size: int, share: float | None = None) -> Iterator[Part | None]:
    """A helper on the later part of ``fd``'s lines, or None when the file is read alone."""
    at = split_at(fd, start, size, share)
    if at is None:
        yield None
        return
    root = str(Path(__file__).resolve().parents[1])  # where wiber_harness is importable
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [
        sys.executable,
        "-m",
        "wiber_harness.columns_split",
        str(fd),
        str(at),
        str(size),
        str(os.getpid()),
    ]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=(fd,),
        env=env,
    )
    try:
        yield Part(at, size, proc)
    finally:
        if proc.poll() is None:
            proc.kill()  # our own child, still running: the reader gave up on it
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _die_with(parent: int) -> bool:
    """Ask Linux to kill this process when its parent dies (``PR_SET_PDEATHSIG``);
    whether the parent is still the one that started it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import ctypes.util
        import signal

        lib = ctypes.util.find_library("c")
        if lib:
            ctypes.CDLL(lib).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    return os.getppid() == parent


def _main(argv: list[str]) -> int:
    """The helper: columns of bytes ``[START, END)`` of ``FD``, pickled to stdout."""
    from wiber_harness.columns import _Columns, scan
    from wiber_harness.memory import prefer_mmap

    fd, start, end, parent = (int(a) for a in argv)
    if not _die_with(parent):
        return _FALLBACK_EXIT  # the reader is gone already: nobody to answer
    prefer_mmap()
    cols = _Columns()
    try:
        scan(fd, start, end, cols, last=True)
    except Exception:  # a fallback, a decoding error, anything: the reader decides
        return _FALLBACK_EXIT
    pickle.dump(cols.state(), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    code = _main(sys.argv[1:])
    # the answer is written and flushed: leave without freeing a hundred megabytes of
    # columns object by object, which the reader would wait for (0.1-0.2 s)
    os._exit(code)
