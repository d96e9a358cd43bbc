"""The fast readers agree with the authoritative ones on every file.

``read_history_columns`` (msgspec, column-wise rules) must accept exactly what
``read_history`` (line by line, :mod:`wiber_harness.wellformed`) accepts and
give the same columns as ``History.from_ops`` of its ops; the final reads'
fast decoding must equal the strict decoder's result, for both schemas.
Hypothesis writes the files: well-formed histories, then mutations of them
(lines dropped, duplicated, swapped, values of the wrong type, times out of
bounds, a torn or a complete last line without newline).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiber_harness import columns as columns_module
from wiber_harness import columns_split
from wiber_harness.columns import History, SendAttempts, _suspect, read_history_columns
from wiber_harness.errors import CheckerError
from wiber_harness.history import read_history
from wiber_harness.reads import (
    DeliveryEvent,
    FinalReads,
    StoredRecord,
    delivery_columns,
    store_columns,
)
from wiber_harness.reads_io import decode_fast, decode_strict, encode
from wiber_harness.wellformed import LONG_NUMBER, MAX_DEPTH, has_long_number

EXAMPLES = int(os.environ.get("WIBER_COLUMNS_EXAMPLES", "200"))
PROPS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

text = st.text(alphabet="abcxyz:-0123", min_size=1, max_size=6)
maybe_text = st.none() | text


@st.composite
def ops(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A well-formed history: sends (some retried, some pending) and a fault."""
    out: list[dict[str, Any]] = []
    t = 0
    n = draw(st.integers(0, 12))
    next_id = 0
    for _ in range(n):
        next_id += 1
        t += draw(st.integers(0, 5))
        value: dict[str, Any] = {"key": draw(text)}
        for name in ("conversation", "from", "sender", "retry_of"):
            if draw(st.booleans()):
                value[name] = draw(maybe_text)
        if draw(st.booleans()):
            value["seq"] = draw(st.none() | st.integers(-5, 5))
        if draw(st.booleans()):
            value["intended"] = draw(st.none() | st.integers(0, 100) | st.floats(0, 100))
        if draw(st.booleans()):
            value["invalid"] = draw(st.none() | st.booleans())
        process = draw(st.sampled_from(["client-a", "client-b"]))
        out.append(
            {
                "id": next_id,
                "type": "invoke",
                "f": "send",
                "process": process,
                "time": t,
                "value": value,
            }
        )
        outcome = draw(st.sampled_from(["ok", "fail", "info", "pending"]))
        if outcome == "pending":
            continue
        done: dict[str, Any] = {"status": draw(st.none() | st.integers(100, 599))}
        if draw(st.booleans()):
            done["messageId"] = draw(maybe_text)
        if draw(st.booleans()):
            done["partition"] = draw(st.none() | st.integers(0, 5))
            done["offset"] = draw(st.none() | st.integers(-1001, 10**6))
        t += draw(st.integers(0, 5))
        out.append(
            {
                "id": next_id,
                "type": outcome,
                "f": "send",
                "process": process,
                "time": t,
                "value": done,
            }
        )
    if draw(st.booleans()):
        next_id += 1
        v = {"fault": "f1", "kind": "kill", "target": "kafka.1", "params": {"x": [1, {"y": 2}]}}
        out.insert(
            draw(st.integers(0, len(out))),
            {
                "id": next_id,
                "type": "invoke",
                "f": "inject",
                "process": "nemesis",
                "time": 0,
                "value": v,
            },
        )
    return out


def _mutate(draw: st.DrawFn, lines: list[bytes]) -> tuple[list[bytes], bool]:
    """Some mutation of the op lines; returns (lines, end with newline)."""
    kind = draw(
        st.sampled_from(
            [
                "none",
                "drop",
                "dup",
                "swap",
                "retype",
                "bigtime",
                "bigint",
                "blank",
                "torn",
                "tail",
                "nokey",
                "garbage",
            ]
        )
    )
    out = list(lines)
    newline = True
    if kind == "drop" and out:
        del out[draw(st.integers(0, len(out) - 1))]
    elif kind == "dup" and out:
        i = draw(st.integers(0, len(out) - 1))
        out.insert(i, out[i])
    elif kind == "swap" and len(out) > 1:
        i = draw(st.integers(0, len(out) - 2))
        out[i], out[i + 1] = out[i + 1], out[i]
    elif kind in ("retype", "bigtime", "bigint", "nokey") and out:
        i = draw(st.integers(0, len(out) - 1))
        d = orjson.loads(out[i])
        if kind == "retype":
            field = draw(st.sampled_from(["id", "type", "f", "process", "time", "value"]))
            d[field] = draw(st.sampled_from([None, "x", 1.5, [], {}, True, -1]))
        elif kind == "bigtime":
            d["time"] = 1_733_300_000_000_000_000
        elif kind == "bigint":
            d["id"] = 2**63
        elif kind == "nokey" and d.get("type") == "invoke":
            d["value"] = {}
        out[i] = orjson.dumps(d)
    elif kind == "blank":
        out.insert(draw(st.integers(0, len(out))), b"   ")
    elif kind == "torn" and out:
        newline = False
        out[-1] = out[-1][: draw(st.integers(1, max(1, len(out[-1]) - 1)))]
    elif kind == "tail" and out:
        newline = False
    elif kind == "garbage":
        out.insert(draw(st.integers(0, len(out))), b"{not json")
    return out, newline


@st.composite
def history_files(draw: st.DrawFn) -> bytes:
    lines = [orjson.dumps(d) for d in draw(ops())]
    lines, newline = _mutate(draw, lines)
    head = orjson.dumps({"schema": "wiber-history/1", "scenario": "x"})
    body = b"\n".join([head, *lines])
    return body + (b"\n" if newline else b"")


def _same(a: SendAttempts, b: SendAttempts) -> None:
    for name in SendAttempts.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        else:
            assert list(x) == list(y), name


@PROPS
@given(history_files())
def test_the_fast_history_reader_accepts_and_reads_what_the_slow_one_does(
    tmp_path: Path, raw: bytes
) -> None:
    p = tmp_path / "history.jsonl"
    p.write_bytes(raw)
    try:
        header, ops_ = read_history(p)
    except CheckerError as e:
        with pytest.raises(CheckerError) as fast:
            read_history_columns(p)
        assert str(fast.value) == str(e)
        return
    fast_h = read_history_columns(p)
    slow_h = History.from_ops(ops_, header)
    _same(fast_h.sends, slow_h.sends)
    assert fast_h.others == slow_h.others
    assert (fast_h.end, fast_h.n_ops, fast_h.header) == (slow_h.end, slow_h.n_ops, slow_h.header)


records = st.builds(
    StoredRecord,
    message_id=text,
    key=maybe_text,
    conversation=maybe_text,
    sender=maybe_text,
    partition=st.none() | st.integers(0, 5),
    offset=st.none() | st.integers(0, 10**9),
    stored_at=st.none() | st.integers(-(10**12), 10**12),
    tag=maybe_text,
)
events = st.builds(
    DeliveryEvent,
    consumer=text,
    partition=st.integers(0, 5),
    offset=st.integers(0, 10**9),
    message_id=maybe_text,
    time=st.none() | st.integers(0, 10**12),
    outcome=st.sampled_from(["stored", "duplicate", "dlq", "failed"]),
)
final_reads = st.builds(
    FinalReads,
    store=st.lists(records, max_size=6),
    api=st.dictionaries(text, st.lists(text, max_size=4), max_size=3),
    api_errors=st.dictionaries(text, text, max_size=2),
    delivery=st.lists(events, max_size=6),
    drained=st.booleans(),
    drain_s=st.none() | st.floats(0, 100),
    healed_at=st.none() | st.integers(0, 10**12),
    stored_at_observed=st.booleans(),
)


@st.composite
def final_reads_with_tags(draw: st.DrawFn) -> FinalReads:
    """Final reads whose reads carry a tag per item (some conversations none)."""
    r = draw(final_reads)
    for conv, ids in r.api.items():
        if draw(st.booleans()):
            r.api_tags[conv] = draw(st.lists(maybe_text, min_size=len(ids), max_size=len(ids)))
    return r


def _reads_equal(a: FinalReads, b: FinalReads) -> None:
    assert list(a.store) == list(b.store)
    assert list(a.delivery) == list(b.delivery)
    assert (
        a.api,
        a.api_errors,
        a.dead_letters,
        a.end_offsets,
        a.drained,
        a.drain_s,
        a.healed_at,
        a.extra,
        a.api_tags,
        a.stored_at_observed,
    ) == (
        b.api,
        b.api_errors,
        b.dead_letters,
        b.end_offsets,
        b.drained,
        b.drain_s,
        b.healed_at,
        b.extra,
        b.api_tags,
        b.stored_at_observed,
    )


@PROPS
@given(final_reads_with_tags())
def test_final_reads_round_trip_and_the_fast_decoder_equals_the_strict_one(r: FinalReads) -> None:
    raw = encode(r)
    fast = decode_fast(raw)
    strict = decode_strict(orjson.loads(raw))
    assert fast is not None
    _reads_equal(fast, r)
    _reads_equal(strict, r)
    # v1, the old file form (records as objects), reads to the same
    v1 = orjson.loads(raw)
    v1["schema"] = "wiber-final-reads/1"
    s, d = store_columns(r.store), delivery_columns(r.delivery)
    v1["store"] = [
        {
            "message_id": m,
            "key": k,
            "conversation": c,
            "sender": x,
            "partition": p,
            "offset": o,
            "stored_at": t,
            "tag": g,
        }
        for m, k, c, x, p, o, t, g in zip(
            s.message_id,
            s.key,
            s.conversation,
            s.sender,
            v1["store"]["partition"],
            v1["store"]["offset"],
            v1["store"]["stored_at"],
            s.tag,
            strict=True,
        )
    ]
    v1["delivery"] = [
        {"consumer": c, "partition": p, "offset": o, "message_id": m, "time": t, "outcome": x}
        for c, p, o, m, t, x in zip(
            d.consumer,
            v1["delivery"]["partition"],
            v1["delivery"]["offset"],
            d.message_id,
            v1["delivery"]["time"],
            d.outcome,
            strict=True,
        )
    ]
    raw1 = orjson.dumps(v1)
    fast1 = decode_fast(raw1)
    assert fast1 is not None
    _reads_equal(fast1, r)
    _reads_equal(decode_strict(v1), r)


@pytest.mark.parametrize(
    ("patch", "words"),
    [
        ({"store": {"message_id": ["a"], "key": [None, None]}}, "different lengths"),
        (
            {
                "delivery": {
                    "consumer": ["c"],
                    "partition": [0],
                    "offset": [0],
                    "message_id": [None],
                    "time": [1_733_300_000_000_000_000],
                    "outcome": ["stored"],
                }
            },
            "beyond a week",
        ),
        ({"api": []}, "api is list"),
        ({"end_offsets": {"x": 1}}, "not a partition number"),
        ({"store": {"message_id": ["a"], "key": [None], "tag": [3]}}, "store.tag.0. is integer"),
        ({"api": {"a:b": ["m"]}, "api_tags": {"a:b": []}}, "0 tags for 1 read items"),
        ({"api_tags": {"a:b": [None]}}, "which api does not have"),
        ({"stored_at_observed": "yes"}, "stored_at_observed is string"),
    ],
)
def test_a_malformed_v2_file_is_refused_by_both_decoders(
    tmp_path: Path, patch: dict[str, Any], words: str
) -> None:
    doc = orjson.loads(encode(FinalReads()))
    if "store" in patch and "conversation" not in patch["store"]:
        patch["store"] |= {
            f: [None] for f in ("conversation", "sender", "partition", "offset", "stored_at")
        }
    doc.update(patch)
    raw = orjson.dumps(doc)
    assert decode_fast(raw) is None
    p = tmp_path / "final_reads.json"
    p.write_bytes(raw)
    with pytest.raises(CheckerError, match=words):
        FinalReads.load(p)


def test_files_from_before_tags_read_as_untagged() -> None:
    """A v2 file written before issue 14 has no tag column, api_tags or
    stored_at_observed: it reads as before, every tag null."""
    r = FinalReads(
        store=[StoredRecord("m", "k", "a:b", "a", 0, 1, 2, "abcdef-1")], api={"a:b": ["m"]}
    )
    doc = orjson.loads(encode(r))
    del doc["store"]["tag"], doc["api_tags"], doc["stored_at_observed"]
    for got in (decode_fast(orjson.dumps(doc)), decode_strict(doc)):
        assert got is not None
        assert list(got.store) == [StoredRecord("m", "k", "a:b", "a", 0, 1, 2, None)]
        assert got.api_tags == {} and got.stored_at_observed is False


def test_a_real_shaped_history_takes_the_fast_path(tmp_path: Path) -> None:
    """The screen for what msgspec skips (depth, 64 bits, UTF-8) must not send ordinary
    histories to the slow reader: real keys carry the 19-digit run seed inside a string."""
    from wiber_harness import columns

    lines = [orjson.dumps({"schema": "wiber-history/1"})]
    for i in range(1, 200):
        value = {
            "key": f"baseline-1796433729698439220-u{i % 7}-{i}",
            "conversation": "u1:u2",
            "from": "u1",
            "to": "u2",
            "sender": "u1",
            "seq": i,
            "intended": i * 1000,
            "tag": f"u8z8mn-{i}",
        }
        lines.append(
            orjson.dumps(
                {
                    "id": i,
                    "type": "invoke",
                    "f": "send",
                    "process": "c1",
                    "time": i * 1000,
                    "value": value,
                }
            )
        )
        lines.append(
            orjson.dumps(
                {
                    "id": i,
                    "type": "ok",
                    "f": "send",
                    "process": "c1",
                    "time": i * 1000 + 5,
                    "value": {"messageId": f"m{i}", "partition": 0, "offset": i},
                }
            )
        )
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    header = orjson.loads(lines[0])
    assert header["schema"] == read_history(path)[0]["schema"]  # the authority accepts it
    with columns.reading_history(path) as pending:
        h = pending._fast()  # raises columns._Fallback if the screen refused it
    assert len(h.sends.op_id) == 199


def _suspect_reference(chunk: bytes) -> bool:
    """The screen's rule, line by line: not UTF-8, a line with more opening brackets
    than MAX_DEPTH, or 19 digits in a row after a byte that may precede a number."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return True
    for line in chunk.split(b"\n"):
        if line.count(b"[") + line.count(b"{") > MAX_DEPTH:
            return True
    return LONG_NUMBER.search(chunk) is not None


LINE_PIECES = st.lists(
    st.one_of(
        st.sampled_from([b"[", b"{", b"]", b"}", b"\n", b":", b",", b" ", b"a", b"\xc3\xa9"]),
        st.sampled_from([b"\xff", b"\xc3", b"9" * 19, b"{" * MAX_DEPTH, b"[" * 33]),
        st.integers(0, 10**20).map(lambda n: str(n).encode()),
    ),
    max_size=60,
)


@settings(max_examples=3000, deadline=None)
@given(LINE_PIECES)
def test_the_chunk_screen_never_misses_a_line_the_reference_refuses(pieces: list[bytes]) -> None:
    """Sound: a chunk the line-by-line rule would send to the slow reader is suspect.
    The brackets' part is exact both ways (the screen only over-approximates numbers)."""
    chunk = b"".join(pieces) + b"\n"
    got = _suspect(memoryview(chunk))
    if _suspect_reference(chunk):
        assert got, chunk
    deep = any(ln.count(b"[") + ln.count(b"{") > MAX_DEPTH for ln in chunk.split(b"\n"))
    if got and not deep:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return
        assert has_long_number(chunk), chunk


SPLIT = settings(PROPS, max_examples=max(EXAMPLES // 4, 40))


def _split(share: float, popen: Any) -> Any:
    """Force the two-process read on any file, the helper taking ``share`` of it."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(columns_split, "SPLIT_BYTES", 0))
    stack.enter_context(mock.patch.object(columns_split, "HELPER_SHARE", share))
    stack.enter_context(mock.patch.object(subprocess, "Popen", popen))
    return stack


def _falls_back(p: Path) -> bool:
    """Whether the fast reader hands ``p`` to the slow one."""
    with mock.patch.object(columns_module, "read_history", wraps=read_history) as slow:
        read_history_columns(p)
    return slow.called


@SPLIT
@given(history_files(), st.floats(0.05, 0.95))
def test_a_history_split_between_two_processes_reads_as_one(
    tmp_path: Path, raw: bytes, share: float
) -> None:
    """The two-process read (forced here on small files) accepts, refuses and reads
    exactly what the slow reader does, wherever the split falls; its helper never
    outlives the read."""
    p = tmp_path / "history.jsonl"
    p.write_bytes(raw)
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*a: Any, **k: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = real_popen(*a, **k)
        started.append(proc)
        return proc

    try:
        header, ops_ = read_history(p)
    except CheckerError as e:
        with pytest.raises(CheckerError) as fast, _split(share, popen):
            read_history_columns(p)
        assert str(fast.value) == str(e)
        assert all(proc.returncode is not None for proc in started)
        return
    # every rule is line-local or checked on the whole: a split never changes whether
    # the fast path vouches for the file (a fallback would hide a bad merge)
    one_fell_back = _falls_back(p)
    with _split(share, popen):
        assert _falls_back(p) == one_fell_back
        fast_h = read_history_columns(p)
    assert all(proc.returncode is not None for proc in started)
    slow_h = History.from_ops(ops_, header)
    _same(fast_h.sends, slow_h.sends)
    assert fast_h.others == slow_h.others
    assert (fast_h.end, fast_h.n_ops, fast_h.header) == (slow_h.end, slow_h.n_ops, slow_h.header)


def test_the_split_really_happens_and_is_merged(tmp_path: Path) -> None:
    """A history long enough on both sides of the split: the helper's answer is used
    (not a fallback), and the columns equal the one-process read."""
    from wiber_harness.bench.check_folder import write_run

    write_run(tmp_path, 4000, seed=3)
    p = tmp_path / "history.jsonl"
    one = read_history_columns(p)
    results: list[dict[str, Any]] = []
    real_result = columns_split.Part.result

    def result(self: columns_split.Part) -> dict[str, Any]:
        r = real_result(self)
        results.append(r)
        return r

    with (
        mock.patch.object(columns_split, "SPLIT_BYTES", 0),
        mock.patch.object(columns_split.Part, "result", result),
        mock.patch.object(columns_module, "read_history", side_effect=AssertionError("fell back")),
    ):
        two = read_history_columns(p)
    assert len(results) == 1 and results[0]["n"] > 1000
    _same(one.sends, two.sends)
    assert one.others == two.others
    assert (one.end, one.n_ops) == (two.end, two.n_ops)


def test_the_helper_dies_with_its_reader(tmp_path: Path) -> None:
    """A reader killed mid-read (SIGKILL: no cleanup runs) leaves no helper behind."""
    from wiber_harness.bench.check_folder import write_run

    write_run(tmp_path, 20000, seed=5)  # a helper answer larger than a pipe's buffer
    script = (
        "import sys, time\n"
        "from wiber_harness import columns_split as cs\n"
        "cs.SPLIT_BYTES = 0\n"
        f"f = open({str(tmp_path / 'history.jsonl')!r}, 'rb'); f.readline()\n"
        "import os\n"
        "with cs.helper(f.fileno(), f.tell(), os.fstat(f.fileno()).st_size) as part:\n"
        "    print(part.proc.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    root = str(Path(columns_split.__file__).resolve().parents[1])  # this wiber_harness
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    reader = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env
    )
    try:
        assert reader.stdout is not None
        helper_pid = int(reader.stdout.readline())
        assert Path(f"/proc/{helper_pid}").exists()
    finally:
        reader.kill()  # our own child
        reader.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(helper_pid):
        time.sleep(0.05)
    assert not _alive(helper_pid)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _early_run(tmp_path: Path, ops: int = 4000) -> Path:
    from wiber_harness.bench.check_folder import write_run

    write_run(tmp_path, ops, seed=7)
    return tmp_path / "history.jsonl"


def test_an_early_helper_is_adopted_by_the_reader_of_the_same_file(tmp_path: Path) -> None:
    """``prestart`` (the check command, before its imports) starts the helper; the
    reader takes it instead of starting its own, and reads what one process reads."""
    p = _early_run(tmp_path)
    one = read_history_columns(p)
    spawned: list[Any] = []
    real_spawn = columns_split._spawn

    def spawn(*a: Any) -> Any:
        spawned.append(a)
        return real_spawn(*a)

    with (
        mock.patch.object(columns_split, "SPLIT_BYTES", 0),
        mock.patch.object(columns_split, "_spawn", spawn),
        mock.patch.object(columns_module, "read_history", side_effect=AssertionError("fell back")),
    ):
        columns_split.prestart(p)
        early = columns_split._early[0].part.proc
        two = read_history_columns(p)
    assert len(spawned) == 1  # the early one only: the reader started none
    assert early.returncode is not None and not columns_split._early
    _same(one.sends, two.sends)
    assert (one.end, one.n_ops) == (two.end, two.n_ops)


def test_an_early_helper_for_a_file_that_changed_is_ended_not_adopted(tmp_path: Path) -> None:
    """The file the reader opens is not the one the early helper reads (it was
    rewritten in between): the early helper is killed and reaped, and the reader
    starts its own on the file it opened."""
    p = _early_run(tmp_path)
    with mock.patch.object(columns_split, "SPLIT_BYTES", 0):
        columns_split.prestart(p)
        early = columns_split._early[0].part.proc
        raw = p.read_bytes()
        p.unlink()  # a new file in its place (its inode may be the old one's, reused)
        head, rest = raw.split(b"\n", 1)
        p.write_bytes(head[:-1] + b',"rewritten":true}\n' + rest)
        two = read_history_columns(p)
    assert early.returncode is not None and not columns_split._early
    assert two.n_ops == read_history_columns(p).n_ops


@pytest.mark.parametrize("what", ["missing", "folder", "pipe", "small"])
def test_prestart_starts_nothing_on_what_the_reader_would_refuse(tmp_path: Path, what: str) -> None:
    p = tmp_path / "history.jsonl"
    if what == "folder":
        p.mkdir()
    elif what == "pipe":
        os.mkfifo(p)
    elif what == "small":
        _early_run(tmp_path, 40)  # below SPLIT_BYTES: one process reads it
    columns_split.prestart(p)
    assert not columns_split._early


def test_an_early_helper_nothing_adopts_ends_when_the_process_exits(tmp_path: Path) -> None:
    """The check command failed before reading (a bad scenario, say): at exit the
    early helper is killed and reaped, never left behind."""
    p = _early_run(tmp_path, 20000)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from wiber_harness import columns_split as cs\n"
        "cs.SPLIT_BYTES = 0\n"
        f"cs.prestart(Path({str(p)!r}))\n"
        "print(cs._early[0].part.proc.pid, flush=True)\n"
        "sys.exit(2)\n"
    )
    root = str(Path(columns_split.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 2
    helper_pid = int(out.stdout.split()[0])
    assert not _alive(helper_pid)
