"""The report builds from stored run folders alone (no cluster).

Run folders come from :func:`tests.unit.runfolders.make_run`, judged by the
real runner, so result.json is what a real run writes.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.unit.histories import H
from tests.unit.runfolders import Fault, make_run
from wiber_harness.cli import cli
from wiber_harness.history import write_history
from wiber_harness.metrics import new_histogram
from wiber_harness.report import (
    KEY_METRICS,
    SUMMARY_SCHEMA,
    ReportError,
    build_report,
    find_run_dirs,
    load_run,
    load_summary,
)
from wiber_harness.report.frames import percentile_curve, timeline_frame

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A suite folder: baseline (valid), leader-kill (valid), consumer-kill (one lost message)."""
    root = tmp_path_factory.mktemp("suite")
    runs = root / "runs"
    make_run(runs, "baseline", rate=20, duration=20)
    make_run(runs, "leader-kill", rate=20, duration=25, fault=Fault(8, 13))
    make_run(
        runs,
        "consumer-kill",
        rate=20,
        duration=25,
        lost=1,
        fault=Fault(8, 13, kind="kill", target="consumer.any"),
    )
    (runs / "latest").symlink_to(sorted(runs.iterdir())[0].name)  # as the runner leaves it
    return root


@pytest.fixture(scope="module")
def report(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    build_report([suite], out, title="Test suite")
    return out


def sections(html: str) -> dict[str, str]:
    parts = re.split(r'(?=<section class="run")', html)
    return {
        re.search(r"<h2>(\S+)", p).group(1): p  # type: ignore[union-attr]
        for p in parts
        if p.startswith("<section")
    }


def test_report_builds_from_stored_runs(suite: Path, tmp_path: Path) -> None:
    paths = build_report([suite], tmp_path / "out")
    for p in (paths.index, paths.summary_json, paths.summary_md, paths.junit):
        assert p.is_file() and p.stat().st_size > 0
    assert len(paths.run_pages) == 3  # the `latest` symlink did not add a fourth
    assert all(p.is_file() for p in paths.run_pages.values())
    # the run folders were only read
    for d in find_run_dirs([suite]):
        assert sorted(f.name for f in d.iterdir()) == [
            "final_reads.json",
            "history.jsonl",
            "result.json",
            "scenario.yaml",
        ]


def test_html_has_one_section_per_scenario_with_embedded_plots(report: Path) -> None:
    html = (report / "index.html").read_text()
    secs = sections(html)
    assert sorted(secs) == ["baseline", "consumer-kill", "leader-kill"]
    for name, sec in secs.items():
        uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', sec)
        assert len(uris) == 4, name  # throughput, latency, percentiles, backlog
        assert all(base64.b64decode(u).startswith(PNG) for u in uris)
    assert "http://" not in html.replace("http://www.w3.org", "")  # no network needed
    assert "https://" not in html
    # the verdict table links every run's section and page
    for name in secs:
        anchor = re.search(r'<section class="run" id="([^"]+)"', secs[name]).group(1)  # type: ignore[union-attr]
        assert f'href="#{anchor}"' in html
    assert 'class="badge violation"' in secs["consumer-kill"]
    assert "delivery found a violation" in secs["consumer-kill"]
    assert "lost" in secs["consumer-kill"] and "acked_at_s" in secs["consumer-kill"]  # an example
    assert "kafka.leader(partition=0)" in secs["leader-kill"]  # the fault window table
    assert "backlog" in secs["baseline"]


def test_run_pages_stand_alone(report: Path) -> None:
    pages = sorted((report / "pages").glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        text = page.read_text()
        assert text.count('<section class="run"') == 1
        assert text.count("data:image/png;base64,") == 4
        assert 'href="../index.html"' in text


def test_junit_fails_exactly_the_scenario_with_a_broken_promise(report: Path) -> None:
    root = ET.parse(report / "junit.xml").getroot()
    cases = {str(c.get("name")): c for c in root.iter("testcase")}
    assert sorted(cases) == ["baseline", "consumer-kill", "leader-kill"]
    failing = sorted(n for n, c in cases.items() if c.find("failure") is not None)
    assert failing == ["consumer-kill"]
    assert not [c for c in cases.values() if c.find("error") is not None]
    failure = cases["consumer-kill"].find("failure")
    assert failure is not None
    assert failure.get("message") == "delivery found a violation"
    assert failure.get("type") == "violation"
    assert "lost=1" in (failure.text or "") and "examples of lost" in (failure.text or "")
    suite_el = root.find("testsuite")
    assert suite_el is not None
    assert (suite_el.get("tests"), suite_el.get("failures"), suite_el.get("errors")) == (
        "3",
        "1",
        "0",
    )


def test_summary_json_has_the_schema(report: Path) -> None:
    raw = (report / "summary.json").read_text()
    doc = json.loads(raw, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert load_summary(report / "summary.json") == doc
    assert doc["schema"] == SUMMARY_SCHEMA
    assert doc["verdict"] is False and doc["exit_code"] == 1
    assert doc["counts"] == {"scenarios": 3, "runs": 3, "valid": 2, "violation": 1, "unknown": 0}
    assert set(doc["scenarios"]) == {"baseline", "leader-kill", "consumer-kill"}
    for name, s in doc["scenarios"].items():
        assert set(s) >= {
            "verdict",
            "exit_code",
            "runs",
            "run_ids",
            "reasons",
            "checks",
            "counts",
            "metrics",
            "expect_violation",
        }, name
        assert set(s["metrics"]) == set(KEY_METRICS)
        assert s["checks"]["delivery"] is (name != "consumer-kill")
    ck = doc["scenarios"]["consumer-kill"]
    assert ck["verdict"] is False and ck["metrics"]["lost"] == 1
    assert ck["reasons"] == ["delivery found a violation"]
    base = doc["scenarios"]["baseline"]["metrics"]
    assert 15 < base["throughput"] < 21
    assert base["ack_p50_ms"] < base["ack_p99_ms"]
    assert base["e2e_p50_ms"] < base["e2e_p99_ms"]
    assert base["error_rate"] == 0 and base["duplicated"] == 0
    run = doc["runs"][0]
    assert set(run) >= {
        "id",
        "scenario",
        "path",
        "verdict",
        "checks",
        "counts",
        "metrics",
        "fault_windows",
    }
    assert not Path(run["path"]).is_absolute()  # relative to the report folder
    lk = next(r for r in doc["runs"] if r["scenario"] == "leader-kill")
    assert [(w["kind"], w["start_s"], w["end_s"]) for w in lk["fault_windows"]] == [
        ("kill", 8.0, 13.0)
    ]


def test_summary_md_is_a_verdict_table(report: Path) -> None:
    md = (report / "summary.md").read_text()
    assert md.startswith("## ❌ Test suite: violation")
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 4  # header + one per scenario
    assert any(r.startswith("| consumer-kill | ❌ violation") for r in rows)
    assert "- **consumer-kill** (violation): delivery found a violation" in md


def test_repeats_take_medians_and_the_worst_promise_count(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed in (1, 2, 3):
        make_run(
            runs,
            "leader-kill",
            rate=20,
            duration=20,
            fault=Fault(6, 10),
            seed=seed,
            lost=1 if seed == 2 else 0,
        )
    paths = build_report([runs], tmp_path / "out")
    s = paths.summary["scenarios"]["leader-kill"]
    assert s["runs"] == 3 and s["verdict"] is False
    assert s["metrics"]["lost"] == 1  # not the median, 0
    per_run = sorted(r["metrics"]["throughput"] for r in paths.summary["runs"])
    assert s["metrics"]["throughput"] == pytest.approx(per_run[1])
    assert len(s["reasons"]) == 1 and s["reasons"][0].endswith(": delivery found a violation")
    cases = list(ET.parse(paths.junit).getroot().iter("testcase"))
    assert len(cases) == 1 and len(cases[0].findall("failure")) == 1


def test_a_run_never_judged_is_unknown_and_an_error_in_junit(suite: Path, tmp_path: Path) -> None:
    src = find_run_dirs([suite])[0]
    crashed = tmp_path / "crashed-run"
    crashed.mkdir()
    for name in ("scenario.yaml", "history.jsonl", "final_reads.json"):
        shutil.copy(src / name, crashed / name)
    paths = build_report([crashed], tmp_path / "out")
    assert paths.summary["verdict"] == "unknown" and paths.summary["exit_code"] == 2
    case = next(ET.parse(paths.junit).getroot().iter("testcase"))
    err = case.find("error")
    assert err is not None and err.get("type") == "unknown" and case.find("failure") is None
    assert "wiber-harness check" in (err.get("message") or "")
    html = paths.index.read_text()
    assert html.count("data:image/png;base64,") == 4  # plots still drawn from the history


def test_a_run_without_history_still_gets_its_section(suite: Path, tmp_path: Path) -> None:
    src = find_run_dirs([suite])[0]
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(src / "result.json", bare / "result.json")
    paths = build_report([bare], tmp_path / "out")
    html = paths.index.read_text()
    assert "No plots" in html and "no history.jsonl" in html
    assert paths.summary["counts"]["runs"] == 1


def test_no_run_folders_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        ReportError, match=r"no run folders in it .*pass the folder a run or suite wrote"
    ):
        build_report([tmp_path], tmp_path / "out")
    with pytest.raises(ReportError, match="no such folder"):
        find_run_dirs([tmp_path / "missing"])


def test_backlog_counts_acknowledged_not_yet_stored(tmp_path: Path) -> None:
    h = H(step_ms=100)
    k1 = h.send()  # acked at 0.1 s
    k2 = h.send()  # acked at 0.3 s
    h.tick(1000)
    h.store(k1)  # 1.4 s
    h.tick(1000)
    h.store(k2)  # 2.4 s
    h.tick(1000)
    h.send()  # acked, never stored
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    write_history(run_dir / "history.jsonl", h.ops, {"scenario": "t"})
    h.reads().save(run_dir / "final_reads.json")
    frame = timeline_frame(load_run(run_dir))
    assert frame is not None
    assert frame["backlog"].tolist() == [2, 1, 0, 1]
    assert frame["stored"].tolist() == [0, 1, 1, 0]
    assert frame["e2e_p50_ms"].notna().tolist() == [False, True, True, False]


def test_percentile_curve_is_monotonic_up_to_the_max() -> None:
    h = new_histogram()
    for v in np.random.default_rng(1).lognormal(8, 1, 5000):
        h.record_value(int(v))
    curve = percentile_curve(h)
    assert curve.attrs["count"] == 5000
    assert curve["latency_ms"].is_monotonic_increasing
    assert curve["tail"].iloc[0] == 1 and curve["tail"].max() <= 5000
    p99 = curve.loc[curve["tail"] == 100.0, "latency_ms"].item()
    assert p99 == pytest.approx(h.get_value_at_percentile(99) / 1000)
    assert percentile_curve(new_histogram()).empty


def test_report_cli_prints_the_index_path(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wiber_harness.cli import _register

    _register()
    rc = cli.main(["report", str(suite), "--out", str(tmp_path / "r")], standalone_mode=False)
    assert rc == 1  # the suite holds a violation
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"report: {tmp_path / 'r' / 'index.html'}"
