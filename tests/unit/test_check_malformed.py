"""Malformed run folders and documents: one sentence and exit 2, never a traceback.

Each test is a reproduction from issue 13 (class 5) or issue 15 (``compare``),
run through the real entry point (:func:`wiber_harness.cli.main`, see
:mod:`tests.unit.clirun`) on a run folder written by
:func:`tests.unit.runfolders.make_run` and then corrupted. The contract is
``docs/verdicts.md`` section 8: exit 2 (never 0, never 1, which CI reads as
"the pipeline broke a promise"), one line on stderr naming the file and the
line or field, no traceback.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.unit.clirun import one_sentence, run_cli
from tests.unit.histories import H
from tests.unit.runfolders import Fault, make_run
from wiber_harness.frames import per_second_frame
from wiber_harness.inputs import LIMIT_ENV
from wiber_harness.metrics import summary
from wiber_harness.reads import StoredRecord
from wiber_harness.report import build_summary, load_runs, write_summary
from wiber_harness.report.frames import safe_histogram

EPOCH_NS = 1_735_689_600_000_000_000  # 2025-01-01 in ns since 1970


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(
        tmp_path_factory.mktemp("pristine"), "leader-kill", rate=5, duration=10, fault=Fault(3, 6)
    )


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of a valid, judged run folder to corrupt."""
    return Path(shutil.copytree(pristine, tmp_path / pristine.name))


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join(rows) + "\n")


def edit_reads(run: Path, change: Any) -> None:
    p = run / "final_reads.json"
    d = json.loads(p.read_text())
    change(d)
    p.write_text(json.dumps(d))


def test_the_pristine_run_is_valid(run: Path) -> None:
    o = run_cli("check", str(run))
    assert o.code == 0, o.err


# -- issue 13: the reproductions that crashed into exit 1 ------------------------------


def test_final_reads_that_is_an_empty_list(run: Path) -> None:
    (run / "final_reads.json").write_text("[]")
    one_sentence(run_cli("check", str(run)), "final_reads.json", "list")


@pytest.mark.parametrize("line", ["[1, 2, 3]", "null", '"send"', "42"])
def test_a_history_line_that_is_not_an_object(run: Path, line: str) -> None:
    h = lines(run / "history.jsonl")
    h.insert(3, line)
    write_lines(run / "history.jsonl", h)
    one_sentence(run_cli("check", str(run)), "history.jsonl:4:")


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("seed", "9999999999999999999", "beyond 64 bits"),  # found by the fuzz, session 7
        ("note", "[" * 70 + "]" * 70, "deeper than 64"),
    ],
)
def test_the_header_line_keeps_the_nesting_and_64_bit_rule(
    run: Path, field: str, value: str, says: str
) -> None:
    """Section 8's rules hold for every value of the history, the header's too:
    ``check`` and ``report`` both refuse it with one sentence naming line 1."""
    h = lines(run / "history.jsonl")
    h[0] = h[0][:-1] + f', "{field}": {value}}}'
    write_lines(run / "history.jsonl", h)
    one_sentence(run_cli("check", str(run)), "history.jsonl:1:", says)
    o = run_cli("report", str(run.parent), "--out", str(run.parent / "report-out"))
    one_sentence(o, "history.jsonl:1:", says)


def test_an_api_field_that_is_a_list(run: Path) -> None:
    edit_reads(run, lambda d: d.update(api=[["m-k1"]]))
    one_sentence(run_cli("check", str(run)), "final_reads.json", "api")


def test_a_non_numeric_intended_time(run: Path) -> None:
    h = lines(run / "history.jsonl")
    op = json.loads(h[1])
    assert op["type"] == "invoke" and op["f"] == "send"
    op["value"]["intended"] = "soon"
    h[1] = json.dumps(op)
    write_lines(run / "history.jsonl", h)
    one_sentence(run_cli("check", str(run)), "history.jsonl:2:", "intended")


def test_an_epoch_stored_at_is_rejected(run: Path) -> None:
    edit_reads(run, lambda d: d["store"]["stored_at"].__setitem__(0, EPOCH_NS))
    one_sentence(run_cli("check", str(run)), "final_reads.json", "store.stored_at[0]")


def test_per_second_rows_are_bounded_by_the_events_not_by_a_time() -> None:
    """One stored time of epoch ns (in memory: a live run's reads are not loaded from a
    file) once made the per-second metrics ask for 1.7e9 rows, 12.7 GiB."""
    h = H(step_ms=200)
    keys = [h.send() for _ in range(20)]
    for k in keys[:-1]:
        h.store(k)
    reads = h.reads()
    r = reads.store[0]
    reads.store = [
        *reads.store,
        StoredRecord(r.message_id + "x", keys[-1], r.conversation, r.sender, 0, 99, EPOCH_NS),
    ]
    t0 = time.monotonic()
    frame = per_second_frame(h.ops, reads)
    s = summary(h.ops, reads)
    assert time.monotonic() - t0 < 5
    assert len(frame) <= 3 * (3 * 20 + 20) + 2
    assert frame.index.is_monotonic_increasing and frame.index[-1] == EPOCH_NS // 1_000_000_000
    assert frame["stored"].sum() == len(reads.store)
    assert s["throughput_per_s"]["peak_stored"] >= 1


def test_a_quiet_stretch_keeps_its_zero_ends() -> None:
    h = H(step_ms=100)
    h.send()
    h.tick(10_000)  # ten quiet seconds
    h.send()
    frame = per_second_frame(h.ops, h.reads())
    assert list(frame.index) == [0, 1, 9, 10]  # the run ends in second 10
    assert frame["sent"].tolist() == [1, 0, 0, 1]


# -- other malformed run folders: check ---------------------------------------------------


@pytest.mark.parametrize("name", ["history.jsonl", "final_reads.json", "scenario.yaml"])
def test_an_empty_file(run: Path, name: str) -> None:
    (run / name).write_bytes(b"")
    one_sentence(run_cli("check", str(run)), name)


@pytest.mark.parametrize("name", ["history.jsonl", "final_reads.json", "scenario.yaml"])
def test_binary_garbage(run: Path, name: str) -> None:
    (run / name).write_bytes(bytes(range(256)) * 4)
    one_sentence(run_cli("check", str(run)), name)


def test_a_nul_byte_in_the_scenario_is_one_line(run: Path) -> None:
    """Fuzz finding: PyYAML's reader error spans two lines; the bounded reader names the byte."""
    (run / "scenario.yaml").write_bytes(b"\x00" + (run / "scenario.yaml").read_bytes())
    one_sentence(run_cli("check", str(run)), "scenario.yaml", "control character U+0000")


def test_non_utf8_in_a_history_line(run: Path) -> None:
    h = (run / "history.jsonl").read_bytes().split(b"\n")
    h[2] = h[2].replace(b'"send"', b'"s\xffnd"', 1)
    (run / "history.jsonl").write_bytes(b"\n".join(h))
    one_sentence(run_cli("check", str(run)), "history.jsonl:3:")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_the_final_reads(run: Path, literal: str) -> None:
    p = run / "final_reads.json"
    p.write_text(re.sub(r'"drain_s":\s*1\.0', f'"drain_s": {literal}', p.read_text(), count=1))
    assert literal in p.read_text()
    one_sentence(run_cli("check", str(run)), "final_reads.json")


def test_a_huge_integer_time(run: Path) -> None:
    h = lines(run / "history.jsonl")
    op = json.loads(h[1])
    h[1] = json.dumps(op).replace(f'"time": {op["time"]}', '"time": ' + "9" * 400)
    write_lines(run / "history.jsonl", h)
    one_sentence(run_cli("check", str(run)), "history.jsonl:2:", "time")


@pytest.mark.parametrize("depth", [65, 100, 1_000, 2_000, 100_000])
def test_deep_nesting_in_a_history_line(run: Path, tmp_path: Path, depth: int) -> None:
    """Fuzz findings F4 and F1: check's columnar reader (msgspec) ran out of stack on a
    line nested ~1,000 deep (a RecursionError: a traceback and exit 1 before the CLI's
    last resort), and both readers took 65..1,024 levels where the rule is 64; now both
    name the line."""
    h = lines(run / "history.jsonl")
    op = json.loads(h[1])
    op["value"]["note"] = "@@"
    h[1] = json.dumps(op).replace('"@@"', "[" * depth + "]" * depth)
    write_lines(run / "history.jsonl", h)
    out = tmp_path / "report"
    if depth > 1024 or depth == 65:
        one_sentence(
            run_cli("report", str(run), "--out", str(out)), "history.jsonl:2:", "deeper than 64"
        )
    one_sentence(run_cli("check", str(run)), "history.jsonl:2:", "nests deeper than 64 levels")


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_in_the_final_reads(run: Path, depth: int) -> None:
    """Fuzz finding F4, in the final reads' fast (msgspec) decoder: extra nested deep."""
    p = run / "final_reads.json"
    text = re.sub(
        r'"extra":\s*\{\}', '"extra": {"x": ' + "[" * depth + "]" * depth + "}", p.read_text()
    )
    assert "[[[" in text
    p.write_text(text)
    one_sentence(run_cli("check", str(run)), "final_reads.json")


def test_deep_nesting_in_the_scenario(run: Path) -> None:
    (run / "scenario.yaml").write_text("name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_sentence(run_cli("check", str(run)), "scenario.yaml")


@pytest.mark.parametrize("name", ["history.jsonl", "final_reads.json", "scenario.yaml"])
def test_a_missing_file(run: Path, name: str) -> None:
    (run / name).unlink()
    one_sentence(run_cli("check", str(run)), f"no {name}")


@pytest.mark.parametrize("name", ["history.jsonl", "final_reads.json", "scenario.yaml"])
def test_a_folder_in_place_of_a_file(run: Path, name: str) -> None:
    (run / name).unlink()
    (run / name).mkdir()
    one_sentence(run_cli("check", str(run)), name, "a folder")


@pytest.mark.parametrize("name", ["history.jsonl", "final_reads.json"])
def test_a_symlink_loop(run: Path, name: str) -> None:
    (run / name).unlink()
    (run / name).symlink_to(name)
    one_sentence(run_cli("check", str(run)), name, "symlink loop")


def test_a_dangling_symlink(run: Path) -> None:
    (run / "history.jsonl").unlink()
    (run / "history.jsonl").symlink_to("gone.jsonl")
    one_sentence(run_cli("check", str(run)), "history.jsonl", "does not exist")


def test_a_device_in_place_of_a_file(run: Path) -> None:
    (run / "final_reads.json").unlink()
    (run / "final_reads.json").symlink_to("/dev/zero")  # would read forever
    one_sentence(run_cli("check", str(run)), "final_reads.json", "not a regular file")


def test_a_file_over_its_size_limit(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, "0.001")
    # 1 KB: the scenario (267 bytes) passes, the history is the first file over it
    one_sentence(run_cli("check", str(run)), "history.jsonl", "1,048 bytes limit", LIMIT_ENV)


def test_a_missing_run_folder(tmp_path: Path) -> None:
    one_sentence(run_cli("check", str(tmp_path / "nope")), "no such folder")


def test_a_result_json_in_the_way_is_not_fatal_to_check(run: Path) -> None:
    (run / "result.json").write_text("[" * 5000)  # check rewrites it
    assert run_cli("check", str(run)).code == 0
    assert json.loads((run / "result.json").read_text())["verdict"] is True


def test_check_exits_2_even_after_a_violation(run: Path, tmp_path: Path) -> None:
    bad = make_run(tmp_path / "v", "lossy", rate=5, duration=10, lost=1)
    (run / "final_reads.json").write_text("{")
    one_sentence(run_cli("check", str(bad), str(run)), "final_reads.json")


# -- report --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("result.json", "{", "cannot read it as JSON"),
        ("result.json", '{"schema": "wiber-result/1", "checks": []}', "checks is a list"),
        ("result.json", '{"schema": "wiber-result/1", "metrics": {"summary": 5}}', "summary"),
        ("result.json", '{"schema": "wiber-result/1", "verdict": "maybe"}', "verdict"),
        ("history.jsonl", '{"schema": "wiber-history/1"}\nnull\n', "history.jsonl:2:"),
        ("final_reads.json", "[]", "final_reads.json"),
    ],
)
def test_report_of_a_corrupted_run_still_writes_the_report_and_exits_2(
    run: Path, tmp_path: Path, name: str, content: str, needle: str
) -> None:
    (run / name).write_text(content)
    out = tmp_path / "report"
    line = one_sentence(run_cli("report", str(run), "--out", str(out)), name, needle)
    if name == "result.json":
        assert "re-judge the run with `wiber-harness check" in line
    assert (out / "index.html").is_file() and (out / "summary.json").is_file()


def test_report_of_a_result_json_with_a_folder_in_its_place(run: Path, tmp_path: Path) -> None:
    (run / "result.json").unlink()
    (run / "result.json").mkdir()
    one_sentence(run_cli("report", str(run), "--out", str(tmp_path / "r")), "a folder")


def test_report_into_an_unwritable_place(run: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    one_sentence(run_cli("report", str(run), "--out", str(tmp_path / "file" / "r")))


def test_a_crafted_histogram_is_not_decoded() -> None:
    bomb = zlib.compress(b"\0" * (64 << 20))
    text = base64.b64encode(struct.pack(">II", 0x1C849314, len(bomb)) + bomb).decode()
    assert not safe_histogram(text)
    assert not safe_histogram("not base64 at all!")


# -- issue 15: compare ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def summary_json(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("summary") / "summary.json"
    write_summary(build_summary(load_runs([pristine])), p)
    return p


def test_compare_of_json_nested_100000_deep(summary_json: Path, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    one_sentence(run_cli("compare", str(summary_json), str(deep)), "deep.json", "nesting")


def test_compare_of_json_nested_65_deep(summary_json: Path, tmp_path: Path) -> None:
    d = json.loads(summary_json.read_text())
    x: Any = 1
    for _ in range(70):
        x = {"x": x}
    d["extra"] = x
    p = tmp_path / "deep.json"
    p.write_text(json.dumps(d))
    one_sentence(run_cli("compare", str(summary_json), str(p)), "nesting deeper than 64")


def test_compare_that_compared_nothing_does_not_pass(tmp_path: Path) -> None:
    empty = {"schema": "wiber-summary/1", "scenarios": {"s": {"verdict": True}}, "runs": []}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(empty))
    b.write_text(json.dumps(empty))
    o = run_cli("compare", str(a), str(b), "--json", str(tmp_path / "c.json"))
    one_sentence(o, "nothing was compared")
    assert json.loads((tmp_path / "c.json").read_text())["exit_code"] == 2


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "NaN", "Infinity"])
def test_compare_rejects_non_finite_numbers(
    summary_json: Path, tmp_path: Path, literal: str
) -> None:
    text = summary_json.read_text()
    d = json.loads(text)
    name = next(iter(d["scenarios"]))
    d["scenarios"][name]["metrics"]["throughput"] = 12345.5
    d["runs"][0]["metrics"]["throughput"] = 12345.5
    p = tmp_path / "inf.json"
    p.write_text(json.dumps(d).replace("12345.5", literal))
    out = tmp_path / "c.json"
    one_sentence(run_cli("compare", str(summary_json), str(p), "--json", str(out)), "inf.json")
    if out.exists():  # whatever is written is strict JSON
        json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"wrote {c}"))


def test_compare_rejects_absurd_figures_and_options(summary_json: Path, tmp_path: Path) -> None:
    d = json.loads(summary_json.read_text())
    d["runs"][0]["metrics"]["throughput"] = 1e300
    p = tmp_path / "huge.json"
    p.write_text(json.dumps(d))
    one_sentence(run_cli("compare", str(summary_json), str(p)), "runs[0].metrics.throughput")
    one_sentence(
        run_cli("compare", str(summary_json), str(summary_json), "--mad-k", "nan"), "mad_k"
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.update(runs={}), "runs is an object"),
        (lambda d: d["runs"][0].update(metrics="fast"), "runs[0].metrics"),
        (lambda d: d["runs"][0]["metrics"].update(throughput="fast"), "throughput"),
        (lambda d: d.update(scenarios=[]), "scenarios is a list"),
        (lambda d: d["runs"].append(None), "runs[1]"),
    ],
)
def test_compare_of_a_summary_with_a_field_of_the_wrong_type(
    summary_json: Path, tmp_path: Path, change: Any, needle: str
) -> None:
    d = json.loads(summary_json.read_text())
    change(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    one_sentence(run_cli("compare", str(summary_json), str(p)), "bad.json", needle)


def test_compare_of_a_bench_with_a_string_threshold(tmp_path: Path) -> None:
    fig = {"name": "x", "direction": "higher", "value": 1.0, "threshold_pct": "ten"}
    p = tmp_path / "bench.json"
    p.write_text(json.dumps({"schema": "wiber-bench/1", "figures": [fig]}))
    one_sentence(run_cli("compare", str(p), str(p)), "figures[0].threshold_pct")


def test_compare_of_run_folders_with_an_unreadable_result(
    pristine: Path, run: Path, tmp_path: Path
) -> None:
    (run / "result.json").write_text('{"schema": "wiber-result/1", "reasons": "x"}')
    one_sentence(run_cli("compare", str(pristine), str(run)), "reasons")


def test_compare_with_a_run_never_judged_is_one_sentence(pristine: Path, run: Path) -> None:
    """Fuzz finding: "verdict unknown" and "nothing was compared" came as two lines."""
    (run / "result.json").unlink()
    one_sentence(run_cli("compare", str(pristine), str(run)), "verdict unknown")


def test_compare_with_several_problems_is_one_line(summary_json: Path, tmp_path: Path) -> None:
    d = json.loads(summary_json.read_text())
    for s in d["scenarios"].values():
        s.update(verdict="unknown", metrics={})
    d["scenarios"]["other"] = {"verdict": "unknown"}
    d["runs"] = []
    p = tmp_path / "two.json"
    p.write_text(json.dumps(d))
    line = one_sentence(run_cli("compare", str(summary_json), str(p)), "verdict unknown")
    assert line.count("verdict unknown") == 2


@pytest.mark.parametrize("bad", ["", "\x00\x01\x02", "\xff\xfe{}"])
def test_compare_of_empty_or_garbage_files(summary_json: Path, tmp_path: Path, bad: str) -> None:
    p = tmp_path / "summary.json"
    p.write_bytes(bad.encode("latin-1"))
    one_sentence(run_cli("compare", str(summary_json), str(p)), str(p))


# -- the console script itself -------------------------------------------------------------


def test_the_console_script_says_one_sentence(run: Path) -> None:
    """The real process: exit status 2 and one line, no traceback (final_reads.json `[]`)."""
    (run / "final_reads.json").write_text("[]")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run(
        [sys.executable, "-m", "wiber_harness.cli", "check", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "final_reads.json" in p.stderr


def test_the_cli_bounds_options_like_the_gate() -> None:
    from wiber_harness.cli import reporting
    from wiber_harness.report.doc_checks import MAX_THRESHOLD_PCT

    assert reporting.MAX_THRESHOLD_PCT == MAX_THRESHOLD_PCT
