"""Fuzz ``check``, ``report`` and ``compare`` with corrupted run folders and documents.

Real run folders (written by :func:`tests.unit.runfolders.make_run`: a valid
run with a fault, a run that lost a message, a run without faults; plus any
folders named in ``WIBER_FUZZ_RUNS``, e.g. stored runs of the real stack)
are copied, one file of the copy (or of a ``summary.json`` / ``bench.json``
made from them) is corrupted (:mod:`tests.unit.corruptions`), and the
commands that read that file run through the real entry point
(:mod:`tests.unit.clirun`). Always: no traceback and no escaped exception,
no "internal error" (the last-resort handler of a harness bug), no plot that
"could not be drawn" and no checker error (both hide a crash), exit 0, 1 or
2, at most one sentence on stderr, and ``compare --json`` writes strict
JSON. When the corruption leaves the file malformed for that command
(:class:`tests.unit.corruptions.Corruption.must`), exit 2 with exactly one
sentence.

Bounded for the unit suite (:data:`EXAMPLES`, derandomized: the same
examples every run); ``WIBER_FUZZ_EXAMPLES=3000`` runs more, with fresh
random examples (``--hypothesis-show-statistics`` shows what was tried).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.unit.clirun import Escaped, Outcome, run_cli
from tests.unit.corruptions import (
    BENCH,
    HISTORY,
    READS,
    RESULT,
    SCENARIO,
    SUMMARY,
    Corruption,
    copy_run,
    corruptions,
    env_applied,
)
from tests.unit.runfolders import Fault, make_run
from wiber_harness.report import BENCH_SCHEMA, build_summary, load_runs, write_summary

EXAMPLES = int(os.environ.get("WIBER_FUZZ_EXAMPLES", "0")) or 100
RANDOM = bool(os.environ.get("WIBER_FUZZ_EXAMPLES"))
EXTRA_RUNS = [Path(p) for p in os.environ.get("WIBER_FUZZ_RUNS", "").split(os.pathsep) if p]


@dataclass(frozen=True)
class Pool:
    runs: list[Path]
    summary: Path
    bench: Path


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    root = tmp_path_factory.mktemp("fuzz-pool")
    runs = [
        make_run(root / "runs", "leader-kill", rate=5, duration=10, fault=Fault(3, 6)),
        make_run(root / "runs", "consumer-kill", rate=5, duration=8, lost=1, seed=2),
        make_run(root / "runs", "baseline", rate=4, duration=6, seed=3, duplicated=1),
    ]
    runs += [copy_run(p, root / "extra" / p.name) for p in EXTRA_RUNS]
    summary = root / SUMMARY
    write_summary(build_summary(load_runs(runs)), summary)
    bench = root / BENCH
    figures = [
        {
            "name": "throughput_vs_kafka",
            "group": "e2e",
            "direction": "higher",
            "value": 0.9,
            "spread": 0.02,
            "unit": "x",
            "threshold_pct": 10,
        },
        {"name": "p99_ms", "direction": "lower", "samples": [12.0, 13.5, 11.0], "floor": 5},
    ]
    bench.write_text(
        json.dumps({"schema": BENCH_SCHEMA, "figures": figures, "promises": []}, indent=2)
    )
    yield Pool(runs, summary, bench)


def _judge(o: Outcome, must2: bool, what: str) -> None:
    assert not isinstance(o.code, Escaped), f"{what}: {o.code!r}"
    assert o.code in (0, 1, 2), f"{what}: exit {o.code}\n{o.err[-1500:]}"
    assert "Traceback" not in o.err, f"{what}: traceback\n{o.err[-3000:]}"
    assert "internal error" not in o.err, f"{what}: {o.err[-1500:]}"
    if must2:
        assert o.code == 2, f"{what}: exit {o.code} for malformed input\n{o.out[-800:]}"
    if o.code == 2 and o.lines:
        assert len(o.lines) == 1 and o.lines[0].startswith("wiber-harness: "), (
            f"{what}: not one sentence:\n{o.err[-1500:]}"
        )
    elif must2:
        pytest.fail(f"{what}: exit 2 for malformed input without a sentence on stderr")


CHECKER_ERROR = re.compile(r"^\s+error: ", re.M)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_corrupted_inputs_never_crash_and_malformed_ones_exit_2(
    pool: Pool, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    src = data.draw(st.sampled_from(pool.runs), label="run")
    ws = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    restore = None
    try:
        run = copy_run(src, ws / "runs" / src.name)
        shutil.copyfile(pool.summary, ws / SUMMARY)
        shutil.copyfile(pool.bench, ws / BENCH)
        c: Corruption = data.draw(corruptions(ws, run), label="corruption")
        event(f"{c.kind.split(' ')[0]} {c.file}")
        restore = env_applied(c.env)
        _run_commands(c, pool, src, ws, run)
    finally:
        if restore is not None:
            restore()
        shutil.rmtree(ws, ignore_errors=True)


def _run_commands(c: Corruption, pool: Pool, src: Path, ws: Path, run: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    out = ws / "report"
    cmp_json = ws / "compare.json"
    if c.file in (HISTORY, READS, RESULT):
        commands.append(("report", ["report", str(run), "--out", str(out)]))
    if c.file == RESULT:
        commands.append(("compare", ["compare", str(src), str(run), "--json", str(cmp_json)]))
    if c.file in (SUMMARY, BENCH):
        base = pool.summary if c.file == SUMMARY else pool.bench
        commands.append(
            ("compare", ["compare", str(base), str(ws / c.file), "--json", str(cmp_json)])
        )
        commands.append(("compare", ["compare", str(ws / c.file), str(base)]))
    if c.file in (SCENARIO, HISTORY, READS, RESULT):
        commands.append(("check", ["check", str(run)]))  # last: it rewrites result.json
    for name, args in commands:
        o = run_cli(*args)
        what = f"{name} after {c}"
        event(f"{name} {c.kind.split(' ')[0]} {c.file} -> {o.code}")
        _judge(o, name in c.must, what)
        if name == "check":
            assert not CHECKER_ERROR.search(o.out), f"{what}: a checker crashed\n{o.out}"
        if name == "report" and (out / "index.html").is_file():
            html = (out / "index.html").read_text()
            assert "could not be drawn" not in html, f"{what}: a plot crashed"
        if cmp_json.is_file():
            _strict_json(cmp_json, what)


def _strict_json(path: Path, what: str) -> None:
    def refuse(literal: str) -> object:
        pytest.fail(f"{what}: --json wrote {literal}")

    json.loads(path.read_text(), parse_constant=refuse)
    path.unlink()


def test_history_nested_deeper_than_64_levels_is_malformed(pool: Pool, tmp_path: Path) -> None:
    run = copy_run(pool.runs[0], tmp_path / "run")
    lines = (run / HISTORY).read_text().split("\n")
    op = json.loads(lines[1])
    op["value"]["note"] = "@@"
    lines[1] = json.dumps(op).replace('"@@"', "[" * 100 + "]" * 100)
    (run / HISTORY).write_text("\n".join(lines))
    assert run_cli("check", str(run)).code == 2


def test_a_history_op_type_that_is_a_list_is_a_sentence_naming_the_line(
    pool: Pool, tmp_path: Path
) -> None:
    run = copy_run(pool.runs[0], tmp_path / "run")
    lines = (run / HISTORY).read_text().split("\n")
    op = json.loads(lines[1])
    op["type"] = []
    lines[1] = json.dumps(op)
    (run / HISTORY).write_text("\n".join(lines))
    """Fuzz finding F3 (fixed on main by the lead): a list as an op's type was hashed and
    raised TypeError instead of a sentence."""
    o = run_cli("check", str(run))
    assert o.code == 2 and "internal error" not in o.err and "history.jsonl:2:" in o.err


def test_a_history_line_with_invalid_utf8_in_a_key_is_malformed(pool: Pool, tmp_path: Path) -> None:
    run = copy_run(pool.runs[0], tmp_path / "run")
    raw = (run / HISTORY).read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b'"intended"', b'"\xffintended"')
    (run / HISTORY).write_bytes(b"\n".join(raw))
    assert run_cli("check", str(run)).code == 2


def test_a_store_partition_beyond_64_bits_is_malformed(pool: Pool, tmp_path: Path) -> None:
    run = copy_run(pool.runs[0], tmp_path / "run")
    p = run / READS
    text = re.sub(
        r'"partition":\s*\[0', '"partition": [9999999999999999999', p.read_text(), count=1
    )
    assert "9999999999999999999" in text
    p.write_text(text)
    assert run_cli("check", str(run)).code == 2
