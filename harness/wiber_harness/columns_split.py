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

:func:`prestart` starts the helper earlier still: the ``check`` command calls
it for its first run folder before it imports the checkers (0.3-0.4 s of
imports that the helper's own start and first lines then overlap), with
:data:`EARLY_SHARE`. The reader adopts that helper (:func:`adopt`) only if
the file it opened is the same file (device, inode, size, modification
time) with the same first line; otherwise, or if nothing adopts it, it is
killed and reaped (at the latest when this process exits).

The helper is this process's own child; leaving the ``with`` block always
ends it (killed if still running, then reaped), and on Linux it is killed
with its parent, so none outlives a check.
Its peak memory is about a third of the reader's and lasts only while the
history is read (``python -m wiber_harness.bench.check_folder`` reports the
two processes' summed resident memory, sampled).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLIT_BYTES = 48 << 20  # smaller files are read by one process: a helper costs ~0.2 s to start
HELPER_SHARE = 0.45  # the helper starts later (a fresh interpreter): it takes a bit less
# started before the checkers' imports while the reader decodes the final reads as well
EARLY_SHARE = 0.66
_HEAD_BYTES = 1 << 16  # the header line is short; a longer one gets no early helper
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
    early = adopt(fd, start)
    if early is not None:
        try:
            yield early
        finally:
            _end(early.proc)
        return
    at = split_at(fd, start, size, share)
    if at is None:
        yield None
        return
    proc = _spawn(fd, at, size)
    try:
        yield Part(at, size, proc)
    finally:
        _end(proc)


def _spawn(fd: int, at: int, size: int) -> subprocess.Popen[bytes]:
    """``python -m wiber_harness.columns_split FD AT SIZE PARENT``, inheriting ``fd``."""
    root = str(Path(__file__).resolve().parents[1])  # where wiber_harness is importable
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "wiber_harness.columns_split"]
    argv += [str(fd), str(at), str(size), str(os.getpid())]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=(fd,),
        env=env,
    )


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Kill (if still running) and reap our own helper, and close its pipe."""
    if proc.poll() is None:
        proc.kill()  # our own child, still running: the reader gave up on it
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass
class _Early:
    """A helper started by :func:`prestart`, and what the file was when it started."""

    identity: tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns
    start: int  # where the lines after the header begin
    part: Part


_early: list[_Early] = []


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def prestart(path: Path, share: float = EARLY_SHARE) -> None:
    """Start a helper on ``path`` (a history) now, for :func:`adopt` to take later.

    Does nothing when the file is not a regular file within its limit, is too
    small to split, or its first line is not a short complete line: the
    reader then decides as usual, and says what is wrong.
    """
    from wiber_harness.errors import HarnessError
    from wiber_harness.inputs import check_file

    if _early:
        return
    try:
        check_file(path, "history", "")
        # non-blocking: a FIFO put in the file's place after the check cannot hang us
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (HarnessError, OSError, ValueError):
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        nl = os.pread(fd, _HEAD_BYTES, 0).find(b"\n")
        if nl < 0:
            return
        start = nl + 1
        at = split_at(fd, start, st.st_size, share)
        if at is None:
            return
        proc = _spawn(fd, at, st.st_size)
    except OSError:
        return
    finally:
        os.close(fd)  # the helper has its own copy
    _early.append(_Early(_identity(st), start, Part(at, st.st_size, proc)))
    atexit.register(_end_early)


def adopt(fd: int, start: int) -> Part | None:
    """The early helper, if it reads this same file (``fd``) from the same first line;
    any other early helper is ended."""
    if not _early:
        return None
    e = _early.pop()
    try:  # the identity holds the size, so the early split fits this read
        same = e.identity == _identity(os.fstat(fd)) and e.start == start
    except OSError:
        same = False
    if same:
        return e.part
    _end(e.part.proc)
    return None


def _end_early() -> None:
    """At exit: end an early helper nothing adopted."""
    while _early:
        _end(_early.pop().part.proc)


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
    import gc

    from wiber_harness.columns import _Columns, scan
    from wiber_harness.memory import prefer_mmap

    gc.disable()  # builds columns, no cycles, and exits: the collector would free nothing

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
