"""A history as columns: what the checkers read, without a million op objects.
Over 500 lines because the fast reader and the columns it fills are one
contract: every column :meth:`History.from_ops` builds, the reader builds
the same way, and a unit test holds them equal.

:class:`History` holds the send attempts as columns (:class:`SendAttempts`:
numpy arrays and lists, one row per send invoke in file order, its
completion joined in) and every other op (faults) as :class:`~wiber_harness.history.Op`.
It is the same history as a list of ops, in the form the checkers need:
:meth:`History.from_ops` builds it from ops (any size, exact), and
:func:`read_history_columns` reads ``history.jsonl`` straight into it.

The fast reader decodes typed lines with msgspec and checks the rules of
:mod:`wiber_harness.wellformed` column-wise. It is an optimisation only:
whenever it meets anything it cannot vouch for (a decoding or type error, a
pairing rule that fails, a header it does not know, a
line that might not be UTF-8, nest deeper than 64 levels or hold an integer
beyond 64 bits) it hands the file to
:func:`wiber_harness.history.read_history`, the authoritative line-by-line
reader, which either raises the one-sentence :class:`CheckerError` or
returns the ops. So the fast reader accepts exactly what ``read_history``
accepts, and a unit test requires that they agree on random histories.

Field semantics follow ``docs/verdicts.md``: a null optional field counts
as absent; a send's sender is ``sender``, else ``from``.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, is_, is_not
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from wiber_harness.errors import CheckerError
from wiber_harness.history import SCHEMA, Op, read_history
from wiber_harness.memory import prefer_mmap, trim
from wiber_harness.wellformed import (
    INT64,
    MAX_DEPTH,
    MAX_TIME_NS,
    NEMESIS,
    Malformed,
    check_op,
    has_long_number,
    line_problem,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
B = npt.NDArray[np.bool_]

# attempt outcomes (the checkers' codes)
OK, FAIL, INFO, PENDING = 0, 1, 2, 3
_OUTCOME = {"ok": OK, "fail": FAIL, "info": INFO}
_CHUNK_BYTES = 2 << 20  # small chunks: little transient memory at a time


@dataclass(frozen=True, slots=True)
class SendAttempts:
    """One row per send invoke, in file order, with its completion (if any) joined in."""

    op_id: I64
    process: list[str]
    invoke: I64  # the invoke's time
    done: F64  # the completion's time, NaN when pending
    outcome: I8  # OK, FAIL, INFO or PENDING
    key: list[str]
    conversation: list[str | None]
    sender: list[str | None]  # value.sender, else value.from
    seq: list[int | None]
    intended: F64  # NaN when absent
    retry: B  # the invoke carries retry_of
    invalid: B  # the invoke carries invalid: true
    tag: list[str | None]  # the invoke's content tag
    mid: list[str | None]  # the completion's messageId
    part: I64  # the completion's partition (meaningful where has_pos)
    off: I64
    has_pos: B  # the completion carried integer partition and offset

    def __len__(self) -> int:
        return len(self.key)


@dataclass(frozen=True)
class History:
    """A well-formed history: send attempts as columns, the other ops as ops."""

    header: dict[str, Any]
    sends: SendAttempts
    others: list[Op]  # every op whose f is not "send", in file order
    end: int  # the largest time of any op (0 when there is none)
    n_ops: int

    @property
    def nemesis(self) -> list[Op]:
        """The nemesis ops (injects and heals, invokes and completions), in file order."""
        return [op for op in self.others if op.process == NEMESIS]

    @classmethod
    def from_ops(cls, ops: Sequence[Op], header: dict[str, Any] | None = None) -> History:
        """The columns of a list of ops (assumed well-formed: see ``validate_ops``).

        A send invoke without a key raises :class:`CheckerError` (the checkers
        cannot group it).
        """
        invokes = [op for op in ops if op.f == "send" and op.type == "invoke"]
        done = {op.id: op for op in ops if op.f == "send" and op.type != "invoke"}
        comps = [done.get(op.id) for op in invokes]
        values = [op.value for op in invokes]
        keys = [v.get("key") for v in values]
        if None in keys:
            op = invokes[keys.index(None)]
            raise CheckerError(
                f"send op {op.id} has no idempotency key in its value; "
                "the history was not written by this harness's workload"
            )
        cvals = [c.value if c is not None else {} for c in comps]
        part = [v.get("partition") for v in cvals]
        off = [v.get("offset") for v in cvals]
        has_pos = [_is_int(p) and _is_int(o) for p, o in zip(part, off, strict=True)]
        sends = SendAttempts(
            op_id=np.fromiter((op.id for op in invokes), np.int64, len(invokes)),
            process=[op.process for op in invokes],
            invoke=np.fromiter((op.time for op in invokes), np.int64, len(invokes)),
            done=np.asarray([c.time if c is not None else np.nan for c in comps], np.float64),
            outcome=np.asarray(
                [_OUTCOME[c.type] if c is not None else PENDING for c in comps], np.int8
            ),
            key=[str(k) for k in keys],
            conversation=[v.get("conversation") for v in values],
            sender=[_sender(v.get("sender"), v.get("from")) for v in values],
            seq=[v.get("seq") for v in values],
            intended=np.asarray(
                [np.nan if v.get("intended") is None else v["intended"] for v in values],
                np.float64,
            ),
            retry=np.asarray([v.get("retry_of") is not None for v in values], np.bool_),
            invalid=np.asarray([v.get("invalid") is True for v in values], np.bool_),
            tag=[v.get("tag") for v in values],
            mid=[v.get("messageId") for v in cvals],
            part=np.asarray([p if h else -1 for p, h in zip(part, has_pos, strict=True)], np.int64),
            off=np.asarray([o if h else -1 for o, h in zip(off, has_pos, strict=True)], np.int64),
            has_pos=np.asarray(has_pos, np.bool_),
        )
        return cls(
            header=dict(header or {}),
            sends=sends,
            others=[op for op in ops if op.f != "send"],
            end=max((op.time for op in ops), default=0),
            n_ops=len(ops),
        )


def as_history(ops: History | Iterable[Op]) -> History:
    """A :class:`History` of ``ops`` (itself when it already is one)."""
    return ops if isinstance(ops, History) else History.from_ops(list(ops))


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _sender(sender: str | None, frm: str | None) -> str | None:
    return sender if sender is not None else frm


# --- the fast reader ---------------------------------------------------------------


class _Value(msgspec.Struct):
    """The value fields of a send op that the checkers read (null counts as absent).

    Types are checked for every op, so a non-send op whose value happens to
    carry one of these names with another type sends the file to the
    authoritative reader, which is not stricter than the rules.
    """

    key: str | None = None
    conversation: str | None = None
    sender: str | None = None
    seq: int | None = None
    intended: float | None = None
    retry_of: str | None = None
    invalid: bool | None = None
    tag: str | None = None
    messageId: str | None = None
    partition: int | None = None
    offset: int | None = None
    status: int | None = None
    error: str | None = None
    # "from" is a keyword: renamed below
    frm: str | None = msgspec.field(default=None, name="from")
    to: str | None = None


class _RawOp(msgspec.Struct):
    """One line, its value left undecoded (decoding it typed inline is twice as slow)."""

    id: int
    type: Literal["invoke", "ok", "fail", "info"]
    f: str
    process: str
    time: int
    value: msgspec.Raw = msgspec.Raw(b"null")


class _Fallback(Exception):
    """The fast reader cannot vouch for the file: use the authoritative one."""


_DECODER = msgspec.json.Decoder(_RawOp)
_VALUE = msgspec.json.Decoder(_Value | None)
_TCODE = {"invoke": 0, "ok": 1, "fail": 2, "info": 3}
_EMPTY = _Value()


def read_history_columns(path: Path) -> History:
    """Read a history file into columns; exactly what :func:`read_history` accepts.

    Malformed files raise :class:`CheckerError` (from ``read_history``, with
    the file, the line and the fix).
    """
    with reading_history(path) as pending:
        return pending.result()


@contextlib.contextmanager
def reading_history(path: Path, *, helper_share: float | None = None) -> Iterator[PendingHistory]:
    """A history being read: a large file's later part (``helper_share`` of its
    bytes; default :data:`wiber_harness.columns_split.HELPER_SHARE`) is read by a
    helper process from the moment this is entered, so the caller may do other
    work (decode the final reads) before :meth:`PendingHistory.result`. Leaving
    the block ends the helper."""
    prefer_mmap()
    pending = PendingHistory(path, helper_share)
    try:
        yield pending
    finally:
        pending.close()


class PendingHistory:
    """See :func:`reading_history`."""

    def __init__(self, path: Path, helper_share: float | None = None) -> None:
        from wiber_harness import columns_split

        self.path = path
        self._stack = contextlib.ExitStack()
        self._failed = False
        self._header: dict[str, Any] = {}
        self._fd = -1
        self._start = self._size = 0
        self._part: columns_split.Part | None = None
        try:
            fh = self._stack.enter_context(path.open("rb"))
            head = fh.readline()
            if not head.endswith(b"\n"):
                raise _Fallback
            try:
                header = orjson.loads(head)
            except orjson.JSONDecodeError:
                raise _Fallback from None
            if not isinstance(header, dict) or header.get("schema") != SCHEMA:
                raise _Fallback
            if line_problem(head) is not None:
                raise _Fallback  # the authoritative reader names it
            self._header = header
            self._fd, self._start = fh.fileno(), len(head)
            self._size = os.fstat(self._fd).st_size
            helper = columns_split.helper(self._fd, self._start, self._size, helper_share)
            self._part = self._stack.enter_context(helper)
        except (_Fallback, OSError, ValueError):
            self._failed = True

    def result(self) -> History:
        """The history, read by the fast path or else by the authoritative one."""
        try:
            if self._failed:
                raise _Fallback
            return self._fast()
        except _Fallback:
            self.close()
            header, ops = read_history(self.path)
            return History.from_ops(ops, header)

    def _fast(self) -> History:
        """This process's part, then the helper's merged in, then the rules on the whole;
        raises :class:`_Fallback` on anything odd."""
        part = self._part
        try:
            cols = _Columns()
            end = self._size if part is None else part.start
            scan(self._fd, self._start, end, cols, last=part is None)
            if part is not None:
                cols.merge(part.result())
            return cols.finish(self._header)
        except (OSError, OverflowError, ValueError, msgspec.DecodeError) as e:
            raise _Fallback from e

    def close(self) -> None:
        """End the helper (if any) and close the file; idempotent."""
        self._stack.close()


def scan(fd: int, pos: int, end: int, cols: _Columns, *, last: bool) -> None:
    """Add the lines of bytes ``[pos, end)`` of ``fd`` to ``cols``, in chunks of whole
    lines read at their offset (the file position is never used, so two processes can
    share the open file). Only the ``last`` part of a file may end without a newline:
    a torn last line is dropped, a complete one is the slow path's to judge."""
    # one buffer, reused: no per-chunk copies for the allocator to scatter
    buf = bytearray(_CHUNK_BYTES)
    view = memoryview(buf)
    have = 0  # bytes of buf in use (a carried partial line, then what was read)
    try:
        while pos < end:
            if have == len(buf):  # one line longer than the buffer: grow it
                view.release()
                buf.extend(bytes(len(buf)))
                view = memoryview(buf)
            want = min(len(buf) - have, end - pos)
            got = os.preadv(fd, [view[have : have + want]], pos)
            if not got:
                break
            pos += got
            have += got
            cut = buf.rfind(b"\n", 0, have) + 1
            if cut:
                if _suspect(view[:cut]):
                    raise _Fallback  # the authority decides exactly, line by line
                cols.add(view[:cut])
                buf[: have - cut] = buf[cut:have]
                have -= cut
        rest = bytes(buf[:have])
    finally:
        view.release()
    if rest:
        if not last:
            raise _Fallback  # a part that does not end with a newline: not split right
        try:
            orjson.loads(rest)
        except orjson.JSONDecodeError:
            pass  # a torn last line (no newline, does not parse): dropped
        else:
            raise _Fallback  # a complete last line without newline: the slow path judges


# every byte but newlines and opening brackets deleted, "[" read as "{": the opening
# brackets of one line end up side by side, so one substring search finds a line with
# more of them than MAX_DEPTH (two C passes instead of numpy's positions and counts)
_AS_BRACE = bytes.maketrans(b"[", b"{")
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[{\n")
_TOO_DEEP = b"{" * (MAX_DEPTH + 1)


def _suspect(chunk: memoryview) -> bool:
    """Whether some line of ``chunk`` (whole lines) might break a rule msgspec does not
    check on the keys and values it skips: not UTF-8, nesting deeper than
    :data:`MAX_DEPTH` (a line with more opening brackets than that), or an integer
    beyond 64 bits (a number of 19 digits). False is certain."""
    raw = chunk.tobytes()
    if not raw.isascii():
        try:
            codecs.utf_8_decode(raw, "strict", True)
        except UnicodeDecodeError:
            return True
    if has_long_number(raw):
        return True
    return _TOO_DEEP in raw.translate(_AS_BRACE, _NOT_BRACKET)


# C-level maps for the columns (a Python loop per value cost a fifth of the read):
# dict.get(v, v) gives the default for None and v itself for anything else
_MINUS_ONE_FOR_NONE = {None: -1}.get
_NAN_FOR_NONE = {None: np.nan}.get


def _values(ops: Sequence[_RawOp], rows: I64) -> list[_Value]:
    """The decoded values of ``ops[rows]`` (a JSON null counts as no fields)."""
    vals: list[_Value | None] = list(
        map(_VALUE.decode, map(attrgetter("value"), map(ops.__getitem__, rows.tolist())))
    )
    if None in vals:
        return [v or _EMPTY for v in vals]
    return vals  # type: ignore[return-value]


def _within_int64(values: list[int | None]) -> bool:
    """Whether every integer of ``values`` (None skipped) fits 64 bits signed."""
    present: list[int] = [v for v in values if v is not None] if None in values else values  # type: ignore[assignment]
    if not present:
        return True
    return min(present) >= -INT64 and max(present) < INT64


class _Columns:
    """Decodes chunks of lines into columns, then checks the rules column-wise.

    Each chunk's send values are turned into columns at once (strings of
    conversations and senders interned), so memory holds columns, never a
    million decoded objects.
    """

    def __init__(self) -> None:
        self.ids: list[I64] = []
        self.times: list[I64] = []
        self.types: list[I8] = []
        self.fs: list[I64] = []
        self.procs: list[I64] = []
        self.f_index: dict[str, int] = {}
        self.p_index: dict[str, int] = {}
        self.intern: dict[str, str] = {}
        self.other_ops: list[Op] = []
        self.n = 0
        # send invokes, in file order
        self.i_row: list[I64] = []
        self.i_id: list[I64] = []
        self.i_key: list[str] = []
        self.i_conv: list[str | None] = []
        self.i_sender: list[str | None] = []
        self.i_seq: list[int | None] = []
        self.i_intended: list[F64] = []
        self.i_retry: list[B] = []
        self.i_invalid: list[B] = []
        self.i_tag: list[str | None] = []
        # send completions, in file order
        self.c_id: list[I64] = []
        self.c_mid: list[str | None] = []
        self.c_part: list[I64] = []
        self.c_off: list[I64] = []
        self.c_has_pos: list[B] = []

    def add(self, chunk: memoryview) -> None:
        ops = _DECODER.decode_lines(chunk)
        n = len(ops)
        ids = np.fromiter(map(attrgetter("id"), ops), np.int64, n)
        self.ids.append(ids)
        self.times.append(np.fromiter(map(attrgetter("time"), ops), np.int64, n))
        tc = np.fromiter(map(_TCODE.__getitem__, map(attrgetter("type"), ops)), np.int8, n)
        self.types.append(tc)
        fs = list(map(attrgetter("f"), ops))
        procs = list(map(attrgetter("process"), ops))
        fi, pi = self.f_index, self.p_index
        for f in set(fs):
            fi.setdefault(f, len(fi))
        for pr in set(procs):
            pi.setdefault(pr, len(pi))
        fc = np.fromiter(map(fi.__getitem__, fs), np.int64, n)
        self.fs.append(fc)
        self.procs.append(np.fromiter(map(pi.__getitem__, procs), np.int64, n))
        send = fc == fi.get("send", -1)
        nem = pi.get(NEMESIS)
        if nem is not None and bool((send & (tc == 0) & (self.procs[-1] == nem)).any()):
            raise _Fallback  # a nemesis send invoke: its fault and kind are the slow path's
        inv = np.flatnonzero(send & (tc == 0))
        self.i_row.append(inv + self.n)
        self.i_id.append(ids[inv])
        iv = _values(ops, inv)
        n_inv = len(iv)
        if not all(map(attrgetter("key"), iv)):
            raise _Fallback  # a send invoke without a key
        self.i_key += map(attrgetter("key"), iv)
        it = self.intern
        convs = list(map(attrgetter("conversation"), iv))
        senders = [v.sender if v.sender is not None else v.frm for v in iv]
        for x in set(convs) | set(senders):
            it.setdefault(x, x)  # type: ignore[arg-type]
        self.i_conv += map(it.__getitem__, convs)
        self.i_sender += map(it.__getitem__, senders)  # type: ignore[arg-type]
        seqs = list(map(attrgetter("seq"), iv))
        if not _within_int64(seqs):
            raise _Fallback
        self.i_seq += seqs
        intended = list(map(attrgetter("intended"), iv))
        self.i_intended.append(
            np.fromiter(map(_NAN_FOR_NONE, intended, intended), np.float64, n_inv)
        )
        retry = map(attrgetter("retry_of"), iv)
        self.i_retry.append(np.fromiter(map(is_not, retry, repeat(None)), np.bool_, n_inv))
        invalid = map(attrgetter("invalid"), iv)
        self.i_invalid.append(np.fromiter(map(is_, invalid, repeat(True)), np.bool_, n_inv))
        self.i_tag += map(attrgetter("tag"), iv)
        del iv
        comp = np.flatnonzero(send & (tc != 0))
        self.c_id.append(ids[comp])
        cv = _values(ops, comp)
        n_comp = len(cv)
        if not _within_int64(list(map(attrgetter("status"), cv))):
            raise _Fallback
        self.c_mid += map(attrgetter("messageId"), cv)
        part = list(map(attrgetter("partition"), cv))
        off = list(map(attrgetter("offset"), cv))
        has_part = np.fromiter(map(is_not, part, repeat(None)), np.bool_, n_comp)
        has_off = np.fromiter(map(is_not, off, repeat(None)), np.bool_, n_comp)
        self.c_has_pos.append(has_part & has_off)
        self.c_part.append(np.fromiter(map(_MINUS_ONE_FOR_NONE, part, part), np.int64, n_comp))
        self.c_off.append(np.fromiter(map(_MINUS_ONE_FOR_NONE, off, off), np.int64, n_comp))
        for i in np.flatnonzero(~send).tolist():
            self.other_ops.append(_other_op(ops[i]))
        self.n += n
        del ops  # its raw values point into the reused buffer
        trim()  # what this chunk freed goes back now, not at the end

    _PARTS = ("ids", "times", "types", "i_id", "i_intended", "i_retry", "i_invalid")
    _PARTS_C = ("c_id", "c_part", "c_off", "c_has_pos")
    _LISTS = ("i_key", "i_conv", "i_sender", "i_seq", "i_tag", "c_mid", "other_ops")

    def state(self) -> dict[str, Any]:
        """What :meth:`merge` needs, picklable (a helper process sends it back)."""
        names = (*self._PARTS, *self._PARTS_C, *self._LISTS, "fs", "procs", "i_row")
        out: dict[str, Any] = {k: getattr(self, k) for k in names}
        out.update(n=self.n, f_index=self.f_index, p_index=self.p_index)
        return out

    def merge(self, part: dict[str, Any]) -> None:
        """Append the columns of the lines that follow this reader's (a helper's
        :meth:`state`): its row numbers shift by this reader's rows, its codes of
        ``f`` and ``process`` are translated into this reader's."""
        for k in (*self._PARTS, *self._PARTS_C, *self._LISTS):
            getattr(self, k).extend(part[k])
        for mine, theirs, col in (
            (self.f_index, part["f_index"], "fs"),
            (self.p_index, part["p_index"], "procs"),
        ):
            to_mine = np.zeros(len(theirs), np.int64)
            for name, code in theirs.items():
                to_mine[code] = mine.setdefault(name, len(mine))
            getattr(self, col).extend(to_mine[c] for c in part[col])
        self.i_row.extend(r + self.n for r in part["i_row"])
        self.n += part["n"]

    def finish(self, header: dict[str, Any]) -> History:
        """Check the rules between ops column-wise and join each send with its completion.

        Arrays are int32 where they can be and are dropped as soon as they are
        used: this step sets the reader's peak memory.
        """
        n = self.n
        ids = _cat(self.ids, np.int64)
        times = _cat(self.times, np.int64)
        tcode = _cat(self.types, np.int8)
        self.ids, self.times, self.types = [], [], []
        if n and (ids.min() < 0 or times.min() < 0 or times.max() > MAX_TIME_NS):
            raise _Fallback
        if "" in self.f_index:
            raise _Fallback
        fcode = _cat(self.fs, np.int32)
        pcode = _cat(self.procs, np.int32)
        self.fs, self.procs = [], []
        inv_line = np.flatnonzero(tcode == 0).astype(np.int32)
        comp_line = np.flatnonzero(tcode != 0).astype(np.int32)
        inv_ids = ids[inv_line]
        order = np.argsort(inv_ids, kind="stable").astype(np.int32)
        sorted_ids = inv_ids[order]
        del inv_ids
        if len(sorted_ids) > 1 and bool((sorted_ids[1:] == sorted_ids[:-1]).any()):
            raise _Fallback  # an invoke id used twice
        c_ids = ids[comp_line]
        del ids
        cs = np.sort(c_ids)
        if len(cs) > 1 and bool((cs[1:] == cs[:-1]).any()):
            raise _Fallback  # two completions of one invoke
        del cs
        j = np.zeros(0, np.int32)  # the line of each completion's invoke
        if len(c_ids):
            if not len(sorted_ids):
                raise _Fallback
            pos = np.searchsorted(sorted_ids, c_ids)
            np.minimum(pos, len(sorted_ids) - 1, out=pos)
            if not bool((sorted_ids[pos] == c_ids).all()):
                raise _Fallback  # a completion without any invoke
            j = inv_line[order[pos]]
            del pos
            if bool(
                (j > comp_line).any()
                or (fcode[j] != fcode[comp_line]).any()
                or (pcode[j] != pcode[comp_line]).any()
                or (times[j] > times[comp_line]).any()
            ):
                raise _Fallback
        del c_ids, sorted_ids, order
        intended = _cat(self.i_intended, np.float64)
        self.i_intended = []
        if bool(((intended < 0) | (intended > MAX_TIME_NS)).any()):
            raise _Fallback
        send_f = self.f_index.get("send", -1)
        send_inv = inv_line[fcode[inv_line] == send_f]  # attempts, in file order
        del inv_line
        rows = _cat(self.i_row, np.int64)
        if not np.array_equal(rows, send_inv):
            raise _Fallback
        n_att = len(send_inv)
        attempt_of = np.full(n, -1, np.int32)
        attempt_of[send_inv] = np.arange(n_att, dtype=np.int32)
        send_comp = fcode[comp_line] == send_f
        c_line = comp_line[send_comp]  # send completions, in file order (= c_* lists)
        att = attempt_of[j[send_comp]]  # the attempt each one completes
        del attempt_of, comp_line, j, fcode
        done = np.full(n_att, np.nan)
        done[att] = times[c_line]
        out = np.full(n_att, PENDING, dtype=np.int8)
        out[att] = tcode[c_line] - 1  # ok 1 -> 0, fail 2 -> 1, info 3 -> 2
        part = np.full(n_att, -1, np.int64)
        off = np.full(n_att, -1, np.int64)
        has_pos = np.zeros(n_att, np.bool_)
        c_has = _cat(self.c_has_pos, np.bool_)
        part[att] = np.where(c_has, _cat(self.c_part, np.int64), -1)
        off[att] = np.where(c_has, _cat(self.c_off, np.int64), -1)
        has_pos[att] = c_has
        mid: list[str | None] = [None] * n_att
        for a, m in zip(att.tolist(), self.c_mid, strict=True):
            mid[a] = m
        names = list(self.p_index)
        process = [names[c] for c in pcode[send_inv].tolist()]
        return History(
            header=header,
            sends=SendAttempts(
                op_id=_cat(self.i_id, np.int64),
                process=process,
                invoke=times[send_inv],
                done=done,
                outcome=out,
                key=self.i_key,
                conversation=self.i_conv,
                sender=self.i_sender,
                seq=self.i_seq,
                intended=intended,
                retry=_cat(self.i_retry, np.bool_),
                invalid=_cat(self.i_invalid, np.bool_),
                tag=self.i_tag,
                mid=mid,
                part=part,
                off=off,
                has_pos=has_pos,
            ),
            others=self.other_ops,
            end=int(times.max()) if n else 0,
            n_ops=n,
        )


def _cat(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def _other_op(o: _RawOp) -> Op:
    """A non-send op with its whole value, checked on its own like any line."""
    try:
        value = orjson.loads(memoryview(o.value))
        checked = check_op(
            {
                "id": o.id,
                "type": o.type,
                "f": o.f,
                "process": o.process,
                "time": o.time,
                "value": value,
            }
        )
    except (orjson.JSONDecodeError, Malformed):
        raise _Fallback from None
    return Op(o.id, o.type, o.f, o.process, o.time, checked)


__all__ = [
    "FAIL",
    "INFO",
    "OK",
    "PENDING",
    "History",
    "SendAttempts",
    "as_history",
    "read_history_columns",
]
