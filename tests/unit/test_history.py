"""History file: ops round-trip, evidence with int keys, a torn last line."""

from __future__ import annotations

from pathlib import Path

from wiber_harness.history import Op, read_history, write_history


def test_evidence_with_int_keys_is_written_and_read_back(tmp_path: Path) -> None:
    # offset_rewind evidence maps partitions (ints) to offsets
    inv = Op(1, "invoke", "inject", "nemesis", 4, {"fault": "f", "kind": "offset_rewind"})
    op = Op(1, "ok", "inject", "nemesis", 5, {"evidence": {"before": {0: 5, 1: 7}}})
    write_history(tmp_path / "h.jsonl", [inv, op], {"scenario": "x"})
    header, ops = read_history(tmp_path / "h.jsonl")
    assert header["scenario"] == "x"
    assert ops[1].value["evidence"]["before"] == {"0": 5, "1": 7}


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    write_history(p, [Op(1, "invoke", "send", "client-u1", 1, {"key": "k"})])
    with p.open("ab") as fh:
        fh.write(b'{"id": 1, "type": "ok", "f": "se')
    _, ops = read_history(p)
    assert [o.type for o in ops] == ["invoke"]
