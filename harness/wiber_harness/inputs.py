"""Reading files someone may have edited: bounded, checked, one sentence per problem.

``check``, ``report`` and ``compare`` read run folders and JSON documents
that may be truncated, hand-edited, replaced by a folder or a symlink loop,
or absurdly large (``docs/verdicts.md`` section 8). Everything here raises
:class:`UnreadableInput`, a :class:`~wiber_harness.errors.HarnessError`
(exit 2), whose message is one sentence: the file, the field or line, what
is wrong and how to fix it. Nothing here ever allocates more than the file's
own size allows:

* :func:`check_file`: the path is a regular file no larger than its limit,
  checked with ``stat`` *before* anything is read; a missing file, a
  dangling symlink, a symlink loop, a folder and a device or pipe are each
  named as such;
* :func:`read_bytes`: reads at most the limit (a file that grows while it is
  read is still cut there);
* :func:`load_json`: parses with orjson, which rejects ``NaN``,
  ``Infinity``, numbers that overflow to infinity (``1e400``), invalid
  UTF-8 and nesting deeper than 1024 levels, without recursing in Python;
  then :func:`check_depth` rejects nesting deeper than :data:`MAX_DEPTH`
  (64) levels, iteratively, so nothing downstream recurses without bound;
* :func:`expect`, :func:`finite`: type checks of decoded fields with the
  sentence's ``is X, not Y`` part (words from :func:`wiber_harness.words.kind`).

Size limits (:data:`LIMITS`, by kind of file) are far above anything the
harness writes: a 1M-op history is about 170 MB. ``WIBER_MAX_INPUT_MB``
replaces every limit (for a genuine run larger than that).
"""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from wiber_harness.errors import HarnessError
from wiber_harness.words import kind

MiB = 1 << 20
MAX_DEPTH = 64
LIMIT_ENV = "WIBER_MAX_INPUT_MB"
# by kind of file: what the harness writes is far below each
LIMITS: dict[str, int] = {
    "history": 512 * MiB,  # ~3M ops; a 1M-op history is ~170 MB
    "final reads": 512 * MiB,  # the store and delivery logs of such a run
    "result": 64 * MiB,  # counts, <= 5 examples per anomaly, two histograms: ~100 KB
    "summary": 256 * MiB,  # ~5 KB per run
    "bench": 64 * MiB,
    "scenario": 1 * MiB,
}


class UnreadableInput(HarnessError):
    """A file cannot be used as it is; the message names it, says why and how to fix it."""


def limit_of(kind: str) -> int:
    """The size limit in bytes for a kind of file (``WIBER_MAX_INPUT_MB`` replaces it)."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if raw:
        try:
            mb = float(raw)
        except ValueError:
            mb = -1.0
        if not (math.isfinite(mb) and mb > 0):
            raise UnreadableInput(
                f"{LIMIT_ENV}={raw!r:.40} is not a positive number of MB; set it to e.g. 2048 "
                "or unset it"
            ) from None
        return int(mb * MiB)
    return LIMITS[kind]


def _size(n: int) -> str:
    return f"{n / MiB:,.0f} MB" if n >= MiB else f"{n:,} bytes"


def check_file(path: Path, kind: str, fix: str) -> int:
    """The file's size after checking it is a readable regular file within its limit."""
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnreadableInput(
                f"{path}: a symlink to {os.readlink(path)!r:.80}, which does not exist; "
                f"replace it with the {kind} file: {fix}"
            ) from None
        raise UnreadableInput(f"{path}: no such file; {fix}") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnreadableInput(
                f"{path}: a symlink loop (its links never reach a file); replace it with the "
                f"{kind} file: {fix}"
            ) from None
        raise UnreadableInput(f"{path}: cannot read it ({e.strerror}); {fix}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableInput(f"{path}: a folder, not the {kind} file; {fix}")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableInput(
            f"{path}: not a regular file (a device, socket or pipe), so not the {kind} file; {fix}"
        )
    limit = limit_of(kind)
    if st.st_size > limit:
        raise UnreadableInput(
            f"{path}: {_size(st.st_size)}, over the {_size(limit)} limit for a {kind} file; "
            f"{fix}, or if the file is genuine raise the limit with {LIMIT_ENV}"
        )
    return st.st_size


def read_bytes(path: Path, kind: str, fix: str) -> bytes:
    """At most the kind's limit of bytes of a file that passed :func:`check_file`."""
    check_file(path, kind, fix)
    limit = limit_of(kind)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as e:
        raise UnreadableInput(f"{path}: cannot read it ({e.strerror}); {fix}") from None
    if len(raw) > limit:
        raise UnreadableInput(
            f"{path}: grew past the {_size(limit)} limit for a {kind} file while it was read; {fix}"
        )
    return raw


def load_json(path: Path, kind: str, fix: str) -> Any:
    """The decoded JSON document of a file (any JSON value; the caller checks its type)."""
    raw = read_bytes(path, kind, fix)
    if not raw.strip():
        raise UnreadableInput(f"{path}: the file is empty, not a JSON {kind} document; {fix}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if "depth" in msg or "recursion" in msg:  # orjson stops at 1024 levels
            where = msg.split(": ", 1)[1] if ": " in msg else msg
            msg = f"nesting deeper than {MAX_DEPTH} levels, at {where}"
        raise UnreadableInput(f"{path}: cannot read it as JSON ({msg}); {fix}") from None
    depth_problem = check_depth(doc)
    if depth_problem is not None:
        raise UnreadableInput(f"{path}: {depth_problem}; {fix}")
    return doc


def too_deep(path: Path, fix: str) -> UnreadableInput:
    """The sentence for a file whose reader ran out of stack (RecursionError): some value
    in it nests far deeper than any harness file does."""
    return UnreadableInput(
        f"{path}: a value in it nests too deep to read (hundreds of levels; no harness "
        f"file nests more than {MAX_DEPTH}); {fix}"
    )


def check_depth(doc: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """None, or where ``doc`` nests deeper than ``max_depth`` levels (checked without
    recursion)."""
    if not isinstance(doc, dict | list):
        return None
    stack: list[tuple[Any, int, str]] = [(doc, 1, "")]
    while stack:
        x, depth, at = stack.pop()
        if depth > max_depth:
            return (
                f"{(at.lstrip('.') or 'the top level')[:80]}: nesting deeper than {max_depth} "
                "levels (no harness file nests that deep)"
            )
        if isinstance(x, dict):
            items: Iterable[tuple[object, Any]] = x.items()
            fmt = ".{}"
        else:
            items = enumerate(x)
            fmt = "[{}]"
        # only containers go on the stack: a long list of numbers costs no path strings
        stack.extend(
            (v, depth + 1, at + fmt.format(k)) for k, v in items if isinstance(v, dict | list)
        )
    return None


_KINDS: dict[str, Any] = {
    "object": dict,
    "list": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def is_kind(x: object, kind: str) -> bool:
    """Whether ``x`` is of JSON kind ``kind`` (object, list, string, number, integer,
    boolean, null); a boolean is never a number, a number is finite."""
    if kind == "number":
        return (
            isinstance(x, int | float)
            and not isinstance(x, bool)
            and (isinstance(x, int) or math.isfinite(x))
        )
    if kind == "integer":
        return isinstance(x, int) and not isinstance(x, bool)
    return isinstance(x, _KINDS[kind])


def expect(x: object, at: str, *kinds: str) -> Any:
    """``x`` when it is of one of ``kinds``; else :class:`ValueError` ``AT is X, not Y``."""
    if any(is_kind(x, k) for k in kinds):
        return x
    want = " or ".join(
        ("an " if k[0] in "aeiou" else "a ") + k if k != "null" else k for k in kinds
    )
    shown = f" {x!r:.40}" if isinstance(x, int | float | str) else ""
    extra = " (not finite)" if isinstance(x, float) and not math.isfinite(x) else ""
    raise ValueError(f"{at} is {kind(x)}{shown}{extra}, not {want}")


def finite(x: object, at: str, bound: float) -> float | None:
    """A number no larger than ``bound`` in magnitude, or None for null; else ValueError."""
    if x is None:
        return None
    expect(x, at, "number", "null")
    assert isinstance(x, int | float)
    if abs(x) > bound:
        raise ValueError(f"{at} is {x:.4g}, beyond {bound:.0e} (no measurement is that large)")
    return float(x)


__all__ = [
    "LIMITS",
    "LIMIT_ENV",
    "MAX_DEPTH",
    "UnreadableInput",
    "check_depth",
    "check_file",
    "expect",
    "finite",
    "is_kind",
    "limit_of",
    "load_json",
    "read_bytes",
    "too_deep",
]
