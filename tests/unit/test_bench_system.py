"""``bench --system``: what applies to which system, and what bench.json says about it.

Pure parts only (no cluster): the applicability rules
(:mod:`wiber_harness.bench.applicability`) on Wiber's own profile and on
the tutorial's, how a load's documents are found in the store, the
document's ``system`` block and not-applicable figures, the exit code, the
side-by-side multiples (:mod:`wiber_harness.bench.versus`), and the CLI's
profile validation (a bad profile exits 2 before anything starts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wiber_harness.bench import BenchConfig, BenchResult, build_bench_report, write_document
from wiber_harness.bench.applicability import (
    BATCH_FIGURES,
    SINK_FIGURES,
    batch_reason,
    e2e_time_source,
    floor_reason,
    is_wiber,
    not_applicable,
)
from wiber_harness.bench.document import build_document, mark_not_applicable
from wiber_harness.bench.measure import load_filter
from wiber_harness.bench.versus import multiple, versus_document, versus_lines
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.reads import StoredRecord
from wiber_harness.scenario.profile import load_profile
from wiber_harness.workload.tag import make_tag, nonce_for

from .clirun import one_sentence, run_cli
from .test_bench_report import bench_data

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "tests" / "tutorial" / "tutorial.toml"
WIBER = ROOT / "profiles" / "wiber.toml"


def test_wibers_profile_is_wiber_and_everything_applies_to_it() -> None:
    spec = load_profile(WIBER)
    assert is_wiber(spec)
    assert not_applicable(spec) == {}
    assert floor_reason(spec) is None
    assert "storedAtNs" in e2e_time_source(spec, 0.02)


def test_the_tutorial_has_no_sink_or_view_and_its_times_are_observed() -> None:
    spec = load_profile(TUTORIAL)
    assert not is_wiber(spec)
    na = not_applicable(spec)
    assert set(na) == {*SINK_FIGURES, "raw_insert_in_layout_per_s"}
    assert "record format" in na["sink_efficiency"]
    # its API is uvicorn with an ASGI app: the floor copies its command line
    assert floor_reason(spec) is None
    assert "every 20 ms" in e2e_time_source(spec, 0.02)


def test_the_batch_path_applies_unless_the_route_is_missing() -> None:
    assert batch_reason("/messages/batch", 422) is None  # an empty batch is a bad request
    assert batch_reason("/messages/batch", 200) is None
    for status in (404, 405):
        why = batch_reason("/messages/batch", status)
        assert why is not None and f"answered {status}" in why and "no batch route" in why
    unasked = batch_reason("/messages/batch", None, "ConnectError: refused")
    assert unasked is not None and "refused" in unasked
    na = not_applicable(DEFAULT_SYSTEM, batch="no route")
    assert {k for k, v in na.items() if v == "no route"} == set(BATCH_FIGURES)


def test_an_api_that_is_not_an_asgi_app_has_no_floor() -> None:
    spec = dataclasses.replace(DEFAULT_SYSTEM, api_argv=("./chat-server", "--port", "{port}"))
    why = floor_reason(spec)
    assert why is not None and "ASGI" in why
    assert not_applicable(spec, floor=why)["api_ingest_efficiency"] == why


def _record(key: str | None, tag: str | None) -> StoredRecord:
    return StoredRecord("m", key, None, None, None, None, None, tag=tag)


def test_a_loads_documents_are_found_by_key_or_by_tag_nonce() -> None:
    ours = load_filter("single3-r1-9-1", processes=2)
    assert ours(_record("single3-r1-9-1-g0-u2-7", None))
    assert not ours(_record("single2-r1-9-1-g0-u2-7", None))
    # no stored key: the tag's nonce is one of the load's generator workers'
    assert ours(_record(None, make_tag(nonce_for("single3-r1-9-1-g1"), 12)))
    assert not ours(_record(None, make_tag(nonce_for("single3-r1-9-1-g2"), 12)))
    assert not ours(_record(None, None))


def test_bench_json_names_the_system_and_says_why_a_figure_does_not_apply(
    tmp_path: Path,
) -> None:
    spec = load_profile(TUTORIAL)
    d = bench_data(tmp_path)
    d.config = dataclasses.replace(d.config, system=spec, system_path=str(TUTORIAL))
    d.not_applicable = not_applicable(spec, batch=batch_reason("/messages/batch", 404))
    doc = build_document(d)
    assert doc["system"]["name"] == "tutorial"
    assert doc["system"]["path"] == str(TUTORIAL)
    assert doc["config"]["system"] == {"name": "tutorial", "path": str(TUTORIAL)}
    assert "first sighting" in doc["system"]["e2e_time_source"]
    assert doc["title"].startswith("Benchmark of tutorial")
    figs = {f["name"]: f for f in doc["figures"]}
    for name in ("sink_efficiency", "batch_ingest_efficiency"):
        assert figs[name]["not_applicable"] == doc["system"]["not_applicable"][name]
        assert figs[name]["samples"] == [] and figs[name]["value"] is None
    assert "not_applicable" not in figs["api_ingest_efficiency"]
    assert doc["context"]["sink_stored_per_s"]["n"] == 0
    assert "not_applicable" in doc["context"]["raw_insert_in_layout_per_s"]
    assert "not_applicable" not in doc["context"]["raw_insert_per_s"]
    # figures that do not apply are not missing: the exit code is 0
    path = write_document(doc, tmp_path / "o")
    assert BenchResult(tmp_path / "o", path, None, doc).exit_code == 0
    missing = {
        **doc,
        "figures": [
            {**f, "n": 1} if f["name"] == "e2e_p99_vs_kafka" else f for f in doc["figures"]
        ],
    }
    assert BenchResult(tmp_path / "o", path, None, missing).exit_code == 2
    html = build_bench_report(path).read_text()
    assert "record format" in html


def test_wibers_own_bench_json_names_wiber() -> None:
    cfg = BenchConfig.preset(Path("/tmp/x"), quick=True)
    assert cfg.to_dict()["system"] == {"name": "wiber", "path": None}
    fig = {"name": "x", "value": 2.0, "samples": [2.0, 2.0], "n": 2}
    assert mark_not_applicable(fig, None) is fig
    assert mark_not_applicable(fig, "why")["n"] == 0


def _ctx(*samples: float) -> dict[str, object]:
    s = sorted(samples)
    return {
        "value": s[len(s) // 2] if len(s) % 2 else sum(s[len(s) // 2 - 1 :][:2]) / 2,
        "samples": list(samples),
    }


def test_a_multiple_is_the_ratio_of_medians_with_the_range_its_samples_allow() -> None:
    m = multiple(_ctx(100.0, 120.0), _ctx(1000.0, 1400.0))
    assert m["multiple"] == pytest.approx(1200 / 110, rel=1e-3)
    assert m["low"] == pytest.approx(1000 / 120, rel=1e-3)
    assert m["high"] == pytest.approx(1400 / 100, rel=1e-3)
    none = multiple({"value": None, "samples": [], "not_applicable": "why"}, _ctx(1.0))
    assert none["multiple"] is None and none["not_applicable"] == "baseline: why"


def test_versus_puts_every_later_system_beside_the_first(tmp_path: Path) -> None:
    slow = build_document(bench_data(tmp_path / "a", scale=0.05))
    fast = build_document(bench_data(tmp_path / "b"))
    slow["context"]["single_e2e_max_per_s"] = _ctx(40.0, 44.0)
    fast["context"]["single_e2e_max_per_s"] = _ctx(800.0, 820.0)
    slow["context"]["single_e2e_p99_ms_at_50"] = _ctx(300.0, 340.0)
    fast["context"]["single_e2e_p99_ms_at_50"] = _ctx(25.0, 27.0)
    vs = versus_document([("a", slow), ("b", fast)])
    s = vs["systems"][0]
    assert s["figures"]["single_e2e_max_per_s"]["multiple"] == pytest.approx(810 / 42, rel=1e-3)
    assert s["figures"]["single_e2e_p99_ms_at_50"]["multiple"] == pytest.approx(26 / 320, rel=1e-3)
    assert s["goal"] == {
        "throughput_x": 10.0,
        "p99_x": 10.0,
        "throughput_met": True,
        "p99_met": True,
    }
    assert s["references"]["kafka_e2e_p99_ms"]["multiple"] == pytest.approx(1.0)
    assert any("goal" in line for line in versus_lines(vs))
    with pytest.raises(ValueError):
        versus_document([("a", slow)])


def test_a_bad_profile_exits_2_with_one_sentence_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[api]\nargv = 3\nbogus = 1\n')
    o = run_cli("bench", "--system", str(bad), "--out", str(tmp_path / "o"))
    assert o.code == 2, o.err
    lines = [line for line in o.err.splitlines() if line]
    assert len(lines) == 3, o.err  # one sentence per problem
    for needle in ("api.bogus", "api.argv", "consumer.argv"):
        assert any(needle in line for line in lines), (needle, o.err)
    assert "Traceback" not in o.err
    assert not (tmp_path / "o").exists()  # nothing started
    twice = run_cli(
        "bench", "--system", str(WIBER), "--system", str(WIBER), "--out", str(tmp_path / "o")
    )
    one_sentence(twice, "more than once")
