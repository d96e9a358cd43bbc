"""The bench report from a stored bench.json (no cluster), and the pieces that feed it.

A synthetic :class:`BenchData` (measures with real HDR histograms, searches,
Kafka tool results, sink runs, a profile) goes through
:func:`build_document` into ``bench.json``; the report is then rebuilt from
that file alone, and the regression gate reads the same file. The parsers
of the tools' outputs, the statistics, the search ladder and the
"held" bounds are pinned on small hand-made inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wiber_harness.bench import (
    BenchConfig,
    Bounds,
    build_bench_report,
    build_document,
    write_document,
)
from wiber_harness.bench.document import BenchData, load_document
from wiber_harness.bench.floor import WrkResult, floor_argv, parse_wrk, wrk_script
from wiber_harness.bench.kafka_tools import (
    EndToEndResult,
    ProducerPerfResult,
    parse_end_to_end_latency,
    parse_producer_performance,
    wiber_record,
)
from wiber_harness.bench.measure import Kind, Measure
from wiber_harness.bench.profiling import CpuMeter, package_of, summarize_collapsed
from wiber_harness.bench.search import (
    EXTRA_DOWN_STEPS,
    EXTRA_UP_STEPS,
    Criterion,
    Search,
    find_max_rate,
)
from wiber_harness.bench.sink import SinkRun, steady_rate
from wiber_harness.bench.stack_ops import RawInsert
from wiber_harness.bench.stats import Series, mad, median, ratio_samples
from wiber_harness.cli import cli
from wiber_harness.metrics import encode_histogram, record_ns
from wiber_harness.report import compare
from wiber_harness.report.runs import ReportError

MS = 1_000_000
PP_OUT = """\
Reading payloads from: /tmp/payloads.txt
Number of records read: 2000
378 records sent, 337.5 records/sec (0.10 MB/sec), 912.4 ms avg latency, 2326.0 ms max latency.
In steady state.
100000 records sent, 4323.015736 records/sec (1.23 MB/sec), 8494.79 ms avg latency, \
12049.00 ms max latency, 9349 ms 50th, 11661 ms 95th, 11911 ms 99th, 12049 ms 99.9th.
70000 steady state records sent, 6100.5 records/sec (1.75 MB/sec), 21.50 ms avg latency, \
180.00 ms max latency, 12 ms 50th, 60 ms 95th, 95 ms 99th, 170 ms 99.9th.
"""
E2E_OUT = "0\t31.2\nAvg latency: 4.1234 ms\nPercentiles: 50th = 3, 99th = 9, 99.9th = 15\n"
WRK_OUT = """\
Running 4s test @ http://127.0.0.1:1234/messages
  1 threads and 32 connections
  Latency Distribution
     50%    4.55ms
     75%  812.00us
     90%    1.20s
     99%    2.10s
  20000 requests in 4.00s, 3.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   5012.34
Transfer/sec:    800.00KB
"""


def hist(p50_ms: float, n: int = 400, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    return encode_histogram(record_ns(rng.lognormal(np.log(p50_ms * MS), 0.5, n)).histogram)


def measure(
    kind: Kind,
    rate: float,
    *,
    ack99: float = 20.0,
    e2e99: float | None = 40.0,
    ingest_ok: bool = True,
    held: bool = True,
    lost: int = 0,
    tag: str = "t",
) -> Measure:
    def pct(p99: float) -> dict[str, Any]:
        return {
            "count": 400,
            "mean": p99 / 4,
            "p50": p99 / 5,
            "p90": p99 / 2,
            "p99": p99,
            "p99.9": p99 * 1.5,
            "max": p99 * 2,
        }

    m = Measure(
        kind=kind,
        tag=tag,
        rate=rate,
        duration=4.0,
        batch=0 if kind != "batch" else 50,
        scheduled=int(rate * 4),
        sent=int(rate * 4),
        skipped=0,
        ok=int(rate * 4),
        failed=0,
        indeterminate=0,
        send_rate=rate,
        ack_rate=rate * 0.98,
        ack=pct(ack99),
        e2e=None if e2e99 is None else pct(e2e99),
        ack_hist=hist(ack99 / 5),
        e2e_hist=None if e2e99 is None else hist(e2e99 / 5, seed=2),
        backlog_growth=None if e2e99 is None else 1.0,
        drained=None if e2e99 is None else True,
        drain_s=None,
        lost=None if e2e99 is None else lost,
        duplicated=None if e2e99 is None else 0,
        generator={"processes": 1, "cpu_s": 1.0, "launch_lag_p99_ms": 2.0},
        load_avg=(3.0, 3.0, 3.0),
        started_at=0.0,
    )
    m.held, m.ingest_held = held and ingest_ok, ingest_ok
    m.why = [] if m.held else ["ack p99 2000 ms > 1000 ms"]
    return m


def search(kind: Kind, best: float, criterion: Criterion = "ingest") -> Search:
    e2e = None if criterion == "ingest" else 40.0
    s = Search(
        kind, criterion, measure(kind, best * 2, ingest_ok=False, held=False, e2e99=e2e), best
    )
    s.steps = [
        measure(kind, best * 0.85, e2e99=e2e),
        measure(kind, best, e2e99=e2e),
        measure(kind, best * 1.15, ingest_ok=False, held=False, e2e99=e2e),
    ]
    return s


def bench_data(tmp: Path, *, scale: float = 1.0, lost: int = 0) -> BenchData:
    cfg = BenchConfig.preset(tmp / "out", quick=True)
    d = BenchData(
        cfg, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), record_size=312.0, load_start=(2.0, 2.0, 2.0)
    )
    for i in range(2):
        d.floor.append(search("floor", 3000.0 + 100 * i))
        d.wrk.append(WrkResult(1, 32, 4.0, 5500.0 + 50 * i, 0, 0, {"p50": 4.0}))
        d.generator_trials.append(
            {
                "rep": i + 1,
                "processes": 1,
                "connections": 32,
                "ack_rate": 4400.0,
                "wrk_req_per_s": 5500.0 + 50 * i,
                "vs_wrk": 4400 / (5500 + 50 * i),
                "cpu_s": 3.0,
                "chosen": True,
            }
        )
        d.single.ingest.append(search("single", 900.0 * scale + 20 * i))
        d.batch.ingest.append(search("batch", 2000.0 * scale + 30 * i))
        d.pp_proxied.append(
            ProducerPerfResult(70000, 20000.0 + 500 * i, 6.0, 20, 90, 10, 40, 60, 90, True)
        )
        d.pp_direct.append(ProducerPerfResult(70000, 30000.0, 9.0, 10, 50, 5, 20, 30, 50, True))
        d.e2el.append(EndToEndResult(4.1, 3.0, 9.0 + i, 15.0))
        d.raw.append(RawInsert(10000, 2, 500, 2.0 + 0.1 * i, False, 0))
        d.raw_layout.append(RawInsert(10000, 2, 500, 5.0, True, 0))
        d.sink.append(SinkRun(8000, 8000, 1.0, 2.0, 6.0, 1500.0 * scale + 10 * i, 0))
    d.single.e2e.append(search("single", 800.0, "e2e"))
    d.batch.e2e.append(search("batch", 1500.0, "e2e"))
    for f in cfg.levels:
        for r in range(2):
            d.single.levels.setdefault(f, []).append(
                measure("single", 800 * f, ack99=10 + 20 * f + r, e2e99=30 + 60 * f + r, lost=lost)
            )
            d.batch.levels.setdefault(f, []).append(
                measure("batch", 1500 * f, ack99=50 + 20 * f, e2e99=90)
            )
    d.profiles.append(
        {
            "name": "single-api-1",
            "role": "api-1",
            "pid": 1,
            "duration_s": 8,
            "rate_hz": 100,
            "cpu_util": 0.97,
            "scenario": "single POST",
            "load": {"ack_rate": 800},
            **summarize_collapsed(
                "main (/x/site-packages/uvicorn/main.py:1);"
                "handle (/x/wiber/api.py:2) 70\nmain (/x/site-packages/"
                "uvicorn/main.py:1) 30\n"
            ),
            "files": {"svg": "single-api-1.svg", "collapsed": "single-api-1.txt"},
        }
    )
    d.checkers = {
        "ops": 1000000,
        "check_all_s": 6.0,
        "summary_s": 0.2,
        "total_s": 6.2,
        "total_cpu_s": 4.0,
    }
    for phase in (
        "floor",
        "ingest-single",
        "ingest-batch",
        "kafka",
        "sink",
        "raw",
        "levels-single",
    ):
        d.load_samples.append((phase, 3.0))
    d.phases = {"start": 40.0, "floor": 30.0}
    return d


def test_bench_json_carries_the_gated_ratios_with_samples_and_spread(tmp_path: Path) -> None:
    doc = build_document(bench_data(tmp_path))
    assert doc["schema"] == "wiber-bench/1"
    figs = {f["name"]: f for f in doc["figures"]}
    assert set(figs) == {
        "api_ingest_efficiency",
        "batch_ingest_efficiency",
        "sink_efficiency",
        "e2e_p99_vs_kafka",
    }
    assert {f["direction"] for n, f in figs.items() if n != "e2e_p99_vs_kafka"} == {"higher"}
    assert figs["e2e_p99_vs_kafka"]["direction"] == "lower"
    api = figs["api_ingest_efficiency"]
    # repetition i of the API over repetition i of the floor (ack rates at the best held step)
    assert api["samples"] == pytest.approx(
        [900 * 0.98 / (3000 * 0.98), 920 * 0.98 / (3100 * 0.98)], rel=1e-3
    )
    assert api["n"] == 2 and api["spread"] is not None
    assert api["value"] == pytest.approx(np.median([900 / 3000, 920 / 3100]), rel=1e-3)
    assert figs["sink_efficiency"]["samples"] == pytest.approx(
        [1500 / 5000, 1510 / (10000 / 2.1)], rel=1e-3
    )
    assert figs["batch_ingest_efficiency"]["value"] == pytest.approx(
        np.median([2000 * 0.98 / 20000, 2030 * 0.98 / 20500]), rel=1e-3
    )
    # e2e p99 at 50% (30 + 30 + r) over Kafka's p99 (9 + r)
    assert figs["e2e_p99_vs_kafka"]["samples"] == pytest.approx([60 / 9, 61 / 10], rel=1e-3)
    for f in figs.values():
        assert {"threshold_pct", "floor", "unit", "numerator", "denominator", "load_avg"} <= set(f)
    ctx = doc["context"]
    assert ctx["wrk_req_per_s"]["value"] == pytest.approx(5525.0)
    assert ctx["generator_vs_wrk"]["n"] == 2 and ctx["generator_vs_wrk"]["value"] == pytest.approx(
        0.7968, rel=1e-3
    )
    assert ctx["proxy_cost"]["value"] == pytest.approx(
        np.median([30000 / 20000, 30000 / 20500]), rel=1e-3
    )
    assert ctx["checkers_1m_ops_s"]["value"] == 6.2
    assert doc["promises"] == [] and doc["problems"] == []
    assert doc["load_average"]["mean1"] == 3.0


def test_bench_report_is_built_from_the_stored_bench_json_alone(tmp_path: Path) -> None:
    doc = build_document(bench_data(tmp_path))
    path = write_document(doc, tmp_path / "stored")
    page = build_bench_report(path)
    assert page == tmp_path / "stored" / "bench.html"
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 3
    for text in (
        "Gated ratios",
        "api_ingest_efficiency",
        "e2e_p99_vs_kafka",
        "Absolute figures",
        "Ingest searches",
        "End-to-end searches",
        "ProducerPerformance",
        "EndToEndLatency",
        "Raw store inserts",
        "Sink",
        "Profiles (py-spy)",
        "single-api-1.svg",
        "Checkers",
        "Latency by percentile",
    ):
        assert text in html, text
    assert "could not be drawn" not in html
    assert re.search(r"<script", html) is None  # self-contained, no scripts
    # the CLI does the same, into another folder
    from click.testing import CliRunner

    import wiber_harness.cli.bench  # noqa: F401  (registers the command)

    out = tmp_path / "again"
    r = CliRunner().invoke(cli, ["bench", "--from-json", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "bench.html").exists()


def test_compare_gates_bench_json_files(tmp_path: Path) -> None:
    base = write_document(build_document(bench_data(tmp_path / "a")), tmp_path / "a")
    same = write_document(build_document(bench_data(tmp_path / "b")), tmp_path / "b")
    r = compare(base, same)
    assert r.exit_code == 0 and len(r.deltas) == 4
    worse = write_document(build_document(bench_data(tmp_path / "c", scale=0.5)), tmp_path / "c")
    r = compare(base, worse)
    assert r.exit_code == 1
    assert {d.figure.name for d in r.regressions} >= {"api_ingest_efficiency", "sink_efficiency"}
    lost = write_document(build_document(bench_data(tmp_path / "d", lost=3)), tmp_path / "d")
    r = compare(base, lost)
    assert r.exit_code == 1 and any("never stored" in b for b in r.broken)
    # a stored document is loaded back as it was written, and only a bench document is accepted
    assert load_document(tmp_path / "a")["figures"] == json.loads(base.read_text())["figures"]
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ReportError):
        load_document(tmp_path / "x.json")


def test_a_missing_measurement_leaves_a_figure_without_samples(tmp_path: Path) -> None:
    d = bench_data(tmp_path)
    d.e2el = [None, None]
    d.problems.append("EndToEndLatency #1: ToolError: boom")
    doc = build_document(d)
    fig = next(f for f in doc["figures"] if f["name"] == "e2e_p99_vs_kafka")
    assert fig["samples"] == [] and fig["value"] is None and fig["n"] == 0
    html = build_bench_report(write_document(doc, tmp_path / "o")).read_text()
    assert "boom" in html


def test_tool_outputs_parse() -> None:
    pp = parse_producer_performance(PP_OUT)
    assert (
        pp.steady_state and pp.records == 70000 and pp.records_per_s == 6100.5 and pp.p99_ms == 95
    )
    assert not parse_producer_performance(PP_OUT.rsplit("\n", 2)[0]).steady_state
    e = parse_end_to_end_latency(E2E_OUT)
    assert (e.avg_ms, e.p50_ms, e.p99_ms, e.p999_ms) == (4.1234, 3, 9, 15)
    w = parse_wrk(WRK_OUT, 1, 32, 4.0)
    assert w.req_per_s == 5012.34 and w.non_2xx == 5 and w.socket_errors == 3
    assert w.latency_ms == {"p50": 4.55, "p75": 0.812, "p90": 1200.0, "p99": 2100.0}
    assert parse_wrk("nothing", 1, 32, 4.0).error is not None
    with pytest.raises(Exception, match="no summary"):
        parse_producer_performance("garbage")
    with pytest.raises(Exception, match="no result"):
        parse_end_to_end_latency("garbage")


def test_the_floor_runs_the_apis_uvicorn_command_with_the_floor_app() -> None:
    argv = floor_argv("127.0.0.1", 1234)
    assert "wiber_harness.bench.endpoint:app" in argv and "wiber.api:app" not in argv
    assert argv[argv.index("--port") + 1] == "1234" and "--no-access-log" in argv
    lua = re.search(r"wrk.body = (\".*\")", wrk_script(64))
    assert lua is not None
    body = json.loads(json.loads(lua.group(1)))
    assert len(body["content"]) == 64 and body["clientMessageId"]
    rec = json.loads(wiber_record(3, 64))
    assert rec["conversationId"] == "u6:u7" and len(rec["content"]) == 64


def test_statistics_and_the_sink_rate() -> None:
    assert median([3, None, 1, float("nan"), 2]) == 2 and mad([1, 2, 3, 10]) == 1.0
    assert median([]) is None and mad([]) is None
    assert ratio_samples([1, 2, None, 4], [2, 0, 1, 8]) == [0.5, 0.5]
    s = Series.of([0.012345, 0.0123])
    assert (
        s.to_dict()["value"] == pytest.approx(0.01232, abs=1e-5) and Series.of([5]).spread is None
    )
    stamps = [int(i * 1e9 / 1000) for i in range(5000)]  # 1000 docs/s
    assert steady_rate(stamps) == pytest.approx(1000.0, rel=1e-3)
    assert steady_rate(stamps[:5]) is None


def test_profile_summaries_name_the_hot_frames() -> None:
    text = (
        "<module> (/usr/lib/python3.11/runpy.py:1);run (/v/site-packages/uvicorn/main.py:3);"
        "validate (/v/site-packages/pydantic/main.py:9) 60\n"
        "<module> (/usr/lib/python3.11/runpy.py:1);send (/w/system/wiber/producer.py:5) 40\n"
    )
    s = summarize_collapsed(text)
    assert s["samples"] == 100
    assert s["top_self"][0] == {"frame": "validate (pydantic/main.py)", "pct": 60.0}
    assert {"frame": "<module> (python3.11/runpy.py)", "pct": 100.0} in s["top_inclusive"]
    assert s["by_package"] == {"pydantic": 60.0, "wiber": 40.0}
    assert package_of("/usr/lib/python3.11/asyncio/tasks.py") == "asyncio"
    assert package_of("") == "native"
    # uvicorn waiting in uvloop's C loop shows as Runner.run: idle, not work
    idle = summarize_collapsed(
        "main (/m.py:1);Runner.run (/usr/lib/python3.11/asyncio/runners.py:1) 75\n"
        "main (/m.py:1);send (/w/wiber/producer.py:5) 25\n"
    )
    assert idle["loop_idle_pct"] == 75.0
    assert idle["top_self_busy"] == [{"frame": "send (wiber/producer.py)", "pct": 100.0}]
    meter = CpuMeter({"me": os.getpid(), "gone": 0})
    meter.start()
    sum(i * i for i in range(200_000))
    cores = meter.stop()
    assert set(cores) == {"me"} and cores["me"] is not None and cores["me"] >= 0


def test_a_rate_step_holds_within_its_bounds() -> None:
    b = Bounds(ack_p99_ms=100, e2e_p99_ms=200)
    m = measure("single", 100, ack99=50, e2e99=150)
    m.judge(b)
    assert m.held and m.ingest_held
    m = measure("single", 100, ack99=50, e2e99=250)
    m.judge(b)
    assert m.ingest_held and not m.held and "e2e p99" in m.why[0]
    m = measure("floor", 100, ack99=150, e2e99=None)
    m.judge(b)
    assert not m.ingest_held and not m.held
    m = measure("single", 100, ack99=50, e2e99=None)
    m.send_rate = 80.0
    m.judge(b)
    assert not m.ingest_held and "generator sent" in m.why[0]


class Capacity:
    """A target that holds every rate up to ``cap``."""

    kind: Kind = "floor"

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.rates: list[float] = []

    def measure(self, rate: float, duration: float, tag: str) -> Measure:
        self.rates.append(rate)
        m = measure("floor", rate, e2e99=None)
        m.ack_rate = min(rate, self.cap)
        m.judge(Bounds())
        if rate > self.cap:
            m.ingest_held = m.held = False
        return m


@pytest.mark.parametrize(
    ("cap", "estimate", "best"),
    [(1000, 1000, 1000), (1000, 2000, 1000), (1000, 400, 1000 * 1.0 / 1.0)],
)
def test_the_search_steps_to_the_last_rate_that_held(
    cap: float, estimate: float, best: float
) -> None:
    t = Capacity(cap)
    s = find_max_rate(t, estimate=estimate, step_s=1, max_steps=8)
    assert s.rate is not None and s.rate <= cap
    assert s.rate >= cap / 1.3  # within one ladder step below the capacity
    held = [r for r in t.rates if r <= cap]
    assert s.rate == max(held)


def test_a_search_that_keeps_holding_goes_past_max_steps_and_says_so() -> None:
    # the estimate was 4x too low: 4 steps from 0.7 would stop at 1.15 x estimate
    t = Capacity(4000)
    s = find_max_rate(t, estimate=1000, step_s=1, max_steps=4)
    assert len(t.rates) == 4 + EXTRA_UP_STEPS and s.rate == max(t.rates) and s.open_ended
    assert s.to_dict()["open_ended"] is True
    t = Capacity(1000)
    s = find_max_rate(t, estimate=1000, step_s=1, max_steps=4)
    assert not s.open_ended and s.rate is not None and s.rate <= 1000


def test_a_search_that_never_holds_on_its_way_down_takes_extra_steps() -> None:
    # the estimate was 5x too high: 4 steps from 0.7 would end at 0.35 x estimate (875 > 500)
    t = Capacity(500)
    s = find_max_rate(t, estimate=2500, step_s=1, max_steps=4)
    assert s.rate is not None and s.rate <= 500 and not s.open_ended
    assert len(t.rates) <= 4 + EXTRA_DOWN_STEPS
    # ... and it stops at the first rate that held, not at the limit
    assert t.rates[-1] == s.rate
    # a capacity below the whole ladder still ends, with no answer
    t = Capacity(10)
    s = find_max_rate(t, estimate=2500, step_s=1, max_steps=4)
    assert s.rate is None and len(t.rates) == 4 + EXTRA_DOWN_STEPS


class _ProbingBench:
    """What saturating_probe needs of a BenchRun: probe and say."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def probe(self, what: str, target: Capacity, rate: float, rep: int) -> Measure:
        return target.measure(rate, 1.0, "probe")

    def say(self, line: str) -> None:
        self.said.append(line)


@pytest.mark.parametrize(
    ("cap", "first_rate", "kafka", "rates"),
    [
        (50_000, 5_000, 200_000, [5_000, 15_000, 45_000]),  # held twice: still a lower bound
        (10_000, 5_000, 200_000, [5_000, 15_000]),  # saturated at the second probe
        (3_000, 5_000, 200_000, [5_000]),  # the first probe saturated: nothing more
        (50_000, 5_000, 12_000, [5_000, 12_000]),  # never beyond Kafka's own producer
    ],
)
def test_a_probe_that_held_is_repeated_higher_until_it_saturates(
    cap: float, first_rate: float, kafka: float, rates: list[float]
) -> None:
    from wiber_harness.bench.phase_ingest import saturating_probe

    t = Capacity(cap)
    b = _ProbingBench()
    first = b.probe("batch ingest", t, first_rate, 0)
    m = saturating_probe(b, "batch ingest", t, first, 0, kafka)  # type: ignore[arg-type]
    assert t.rates == rates and m.rate == rates[-1]
    assert len(b.said) == len(rates) - 1


def test_producer_performance_uses_the_api_producers_own_settings() -> None:
    # the batch ratio's reference must produce what the API produces by default: a
    # changed default (linger, compression, acks) moves the reference with it, written
    # as Java properties, and a WIBER_* variable of the shell running the bench does not
    import subprocess
    import sys

    from wiber.producer import producer_config
    from wiber.settings import Settings
    from wiber_harness.bench.kafka_tools import API_PRODUCER_PROPS

    api = producer_config(Settings.model_construct(), "x")
    assert set(API_PRODUCER_PROPS) == {
        "acks",
        "enable.idempotence",
        "compression.type",
        "linger.ms",
    }
    for key, value in API_PRODUCER_PROPS.items():
        want = api[key]
        assert value == (str(want).lower() if isinstance(want, bool) else str(want)), key
    assert API_PRODUCER_PROPS["enable.idempotence"] in ("true", "false")
    code = (
        "from wiber_harness.bench.kafka_tools import API_PRODUCER_PROPS as P; print(P['linger.ms'])"
    )
    env = {**os.environ, "WIBER_PRODUCER_LINGER_MS": "999"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == API_PRODUCER_PROPS["linger.ms"] != "999", out.stderr
