"""The bench's references on the real stack: Kafka's tools, the HTTP floor, wrk, the store.

``wiber-harness bench --quick`` takes about 8 to 15 minutes on a shared
2-core machine (longer than a test should), so this is the smaller smoke
the issue allows: each reference really runs against a bare local stack
(3 brokers, the store, Toxiproxy; no pipeline) and its output is parsed:
ProducerPerformance through the API role's Toxiproxy bootstrap and direct,
EndToEndLatency, a raw ``insert_many`` through a store proxy, the HTTP
floor under the API's uvicorn command line with ``wrk`` and the bench's own
generator against it. The whole bench is exercised by running
``wiber-harness bench --quick`` (see the report in reports/bench/).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wiber_harness.bench import kafka_tools as kt
from wiber_harness.bench import stack_ops
from wiber_harness.bench.floor import FloorServer, run_wrk
from wiber_harness.bench.generator import GeneratorPool
from wiber_harness.bench.measure import Bounds, FloorTarget
from wiber_harness.cluster.guards import Watchdog
from wiber_harness.cluster.local import LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kafka_tools_run_against_the_stack_and_parse(
    bare_cluster: LocalCluster, tmp_path: Path
) -> None:
    c = bare_cluster
    k = c.prov.kafka
    log4j = kt.write_tools_log4j(tmp_path)
    size = kt.write_payload_file(tmp_path / "payloads.txt", 500, 64)
    assert 250 < size < 400
    for boot in (c.kafka_bootstrap("api"), c.kafka_direct):
        argv = kt.producer_performance_argv(
            k.java,
            k.classpath,
            log4j,
            bootstrap=boot,
            topic=c.spec.topic,
            records=6000,
            payload_file=tmp_path / "payloads.txt",
            warmup_records=2000,
        )
        out, _ = kt.run_tool(argv, tmp_path / "pp.log", 300)
        pp = kt.parse_producer_performance(out)
        assert (
            pp.steady_state
            and pp.records == 4000
            and pp.records_per_s > 0
            and pp.p99_ms >= pp.p50_ms
        )
    argv = kt.end_to_end_latency_argv(
        k.java,
        k.classpath,
        log4j,
        bootstrap=c.kafka_bootstrap("api"),
        topic=c.spec.topic,
        records=50,
        record_size=round(size),
    )
    out, _ = kt.run_tool(argv, tmp_path / "e2el.log", 300)
    e = kt.parse_end_to_end_latency(out)
    assert e.avg_ms > 0 and e.p999_ms >= e.p99_ms >= e.p50_ms


def test_raw_insert_through_a_store_proxy(bare_cluster: LocalCluster) -> None:
    c = bare_cluster
    proxy = c.toxiproxy.get("consumer-1-store")
    r = stack_ops.raw_insert(c, 2000, 500, 64, "smoke", uris=[f"mongodb://{proxy.listen}/"])
    assert r.docs == 2000 and r.failed == 0 and r.docs_per_s > 0
    v = stack_ops.raw_insert(
        c, 1000, 500, 64, "smokeview", in_layout=True, uris=[f"mongodb://{proxy.listen}/"]
    )
    assert v.failed == 0 and v.in_layout


def test_http_floor_wrk_and_the_generator(tmp_path: Path) -> None:
    wd = Watchdog()
    try:
        with (
            FloorServer(tmp_path / "floor", wd) as srv,
            GeneratorPool(1, tmp_path / "gen", wd) as pool,
        ):
            if shutil.which("wrk"):
                w = run_wrk(srv.url, 2, tmp_path / "wrk")
                assert w.error is None and w.req_per_s and w.non_2xx == 0
            m = FloorTarget(srv.url, pool, Bounds()).measure(200, 2, "smoke")
            assert m.ok == m.sent > 300 and m.failed == m.indeterminate == 0
            assert m.ack["count"] == m.ok and m.e2e is None
            # the pool is reused: a second load on the same workers
            m2 = FloorTarget(srv.url, pool, Bounds()).measure(100, 1, "again")
            assert m2.ok == m2.sent > 50
    finally:
        wd.close()


@pytest.mark.skipif(
    not os.environ.get("WIBER_BENCH_QUICK_E2E"),
    reason="the whole quick bench takes 8 to 15 minutes here; set WIBER_BENCH_QUICK_E2E=1",
)
def test_bench_quick_end_to_end(tmp_path: Path) -> None:
    """``bench --quick`` on its own stack: every gated ratio measured, the gate accepts
    the result."""
    from wiber_harness.bench import BenchConfig, run_bench
    from wiber_harness.report import compare

    result = run_bench(BenchConfig.preset(tmp_path / "bench", quick=True))
    doc = result.document
    assert result.bench_html is not None and result.bench_html.exists()
    assert doc["promises"] == [], doc["promises"]
    assert all(f["n"] >= 2 for f in doc["figures"]), [(f["name"], f["n"]) for f in doc["figures"]]
    assert compare(result.bench_json, result.bench_json).exit_code == 0
