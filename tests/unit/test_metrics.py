"""Metrics: HDR latency percentiles, per-second throughput, phases, frames, summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.histories import MS, H
from wiber_harness.checkers import Analysis, check_all
from wiber_harness.frames import ops_frame, per_second_frame
from wiber_harness.metrics import (
    HIGHEST_US,
    _bucket_floor,
    decode_histogram,
    encode_histogram,
    latency_histograms,
    new_histogram,
    phases,
    record_ns,
    summary,
    threshold_metrics,
)

S = 1000 * MS


def steady(n: int = 100) -> H:
    """n sends one every 10 ms; the i-th is acknowledged after i+1 ms."""
    h = H(step_ms=0)
    for i in range(n):
        p = h.begin(intended=h.now)
        h.tick(i + 1)
        k = h.end(p)
        h.store(k, stored_at=h.now + 5 * MS)
        h.tick(10 - (i + 1) % 10)
    return h


def test_ack_latency_percentiles_in_ms() -> None:
    h = steady(100)
    s = summary(h.ops, h.reads())
    ack = s["ack_latency_ms"]
    assert ack["count"] == 100
    assert ack["p50"] == pytest.approx(50, rel=1e-3)
    assert ack["p90"] == pytest.approx(90, rel=1e-3)
    assert ack["p99"] == pytest.approx(99, rel=1e-3)
    assert ack["max"] == pytest.approx(100, rel=1e-3)
    assert ack["mean"] == pytest.approx(50.5)  # exact, not bucketed
    e2e = s["e2e_latency_ms"]
    assert e2e["count"] == 100
    assert e2e["p50"] == pytest.approx(55, rel=1e-3)


def test_only_ok_attempts_have_ack_latency_and_intended_time_counts() -> None:
    h = H(step_ms=0)
    p = h.begin(intended=0)
    h.tick(3)  # the client stalled: invoked 3 ms late
    h.now = 3 * MS
    h.tick(2)
    h.end(p)
    h.send(outcome="fail", latency_ms=50)
    hist = latency_histograms(h.ops, h.reads())
    assert hist["ack"].count == 1
    assert hist["ack"].histogram.get_max_value() == pytest.approx(5000, rel=1e-3)  # from intended


def test_negative_and_huge_latencies_are_clamped_and_counted() -> None:
    rec = record_ns(np.array([-5_000.0, 1_000.0, (HIGHEST_US + 10) * 1000.0, np.nan]))
    assert rec.count == 3
    assert (rec.negative, rec.clipped) == (1, 1)
    assert rec.histogram.get_total_count() == 3


def test_histograms_round_trip_through_their_encoding() -> None:
    rec = record_ns(np.arange(1, 1000) * 1_000_000.0)
    text = encode_histogram(rec.histogram)
    assert isinstance(text, str)
    back = decode_histogram(text)
    assert back.get_total_count() == 999
    assert back.get_value_at_percentile(99) == rec.histogram.get_value_at_percentile(99)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, HIGHEST_US), min_size=1, max_size=200))
def test_bucket_floor_is_hdrs_own_lowest_equivalent_value(values: list[int]) -> None:
    h = new_histogram()
    got = _bucket_floor(h, np.asarray(values, dtype=np.float64)).tolist()
    assert got == [h.get_lowest_equivalent_value(v) for v in values]


def test_per_second_frame_counts_events_by_their_own_second() -> None:
    h = H(step_ms=0)
    h.send(latency_ms=1)  # invoke 0 s, ok 0.001 s
    h.now = int(1.5 * S)
    h.send(outcome="fail", latency_ms=600)  # invoke 1.5 s, fail 2.1 s
    h.send(outcome="info", latency_ms=10)  # invoke 2.1 s, info 2.11 s
    h.inject("f1")
    h.now = 3 * S
    h.heal("f1")
    k = h.send()
    h.store(k, stored_at=int(3.2 * S))
    f = per_second_frame(h.ops, h.reads())
    assert list(f.index) == [0, 1, 2, 3]
    assert f["sent"].tolist() == [1, 1, 1, 1]
    assert f["acknowledged"].tolist() == [1, 0, 0, 1]
    assert f["failed"].tolist() == [0, 0, 1, 0]
    assert f["indeterminate"].tolist() == [0, 0, 1, 0]
    assert f["stored"].tolist() == [0, 0, 0, 1]
    assert f["fault"].tolist() == [False, False, True, True]
    assert f["phase"].tolist() == ["before", "before", "before", "during"]
    assert np.isnan(f["ack_p50_ms"].iloc[1])
    assert f.loc[0, "ack_max_ms"] == pytest.approx(1.0)


def test_phases_split_before_during_after() -> None:
    h = H(step_ms=0)
    h.send(latency_ms=1)
    h.now = 1 * S
    h.inject("f1")
    h.send(outcome="info", latency_ms=1)
    h.now = 2 * S
    h.heal("f1")
    h.now = 3 * S
    h.send(latency_ms=4)
    s = summary(h.ops, h.reads())
    ph = s["phases"]
    assert list(ph) == ["before", "during", "after"]
    assert [ph[p]["sent"] for p in ph] == [1, 1, 1]
    assert [ph[p]["acknowledged"] for p in ph] == [1, 0, 1]
    assert ph["during"]["indeterminate"] == 1
    assert ph["after"]["ack_latency_ms"]["max"] == pytest.approx(4, rel=1e-3)
    assert ph["during"]["ack_latency_ms"]["p99"] is None
    assert ph["before"]["end_s"] == ph["during"]["start_s"] == 1.0
    assert s["fault_windows"][0]["fault"] == "f1"
    # the phases partition the run: the whole is their sum
    assert s["ack_latency_ms"]["count"] == sum(ph[p]["ack_latency_ms"]["count"] for p in ph)


def test_without_faults_everything_is_before() -> None:
    h = steady(10)
    an = Analysis(h.ops, h.reads())
    (only,) = phases(an)
    assert only.name == "before"
    s = summary(h.ops, h.reads(), analysis=an)
    assert s["phases"]["before"]["sent"] == 10


def test_summary_is_json_serialisable_without_nan() -> None:
    h = steady(20)
    h.inject("f1")
    h.send(outcome="info")
    s = summary(h.ops, h.reads())
    json.dumps(s, allow_nan=False)
    assert s["counts"] == {
        "sent": 21,
        "acknowledged": 20,
        "failed": 0,
        "indeterminate": 1,
        "keys": 21,
        "stored": 20,
    }
    assert s["throughput_per_s"]["peak_acknowledged"] == 20
    assert s["histograms"]["unit"] == "us"
    assert decode_histogram(s["histograms"]["ack"]).get_total_count() == 20


def test_summary_of_an_empty_run() -> None:
    s = summary([], H().reads())
    json.dumps(s, allow_nan=False)
    assert s["counts"]["sent"] == 0
    assert s["ack_latency_ms"]["p50"] is None
    assert s["max_gap_s"] is None


def test_max_gap_is_the_longest_stretch_without_an_ok() -> None:
    h = H(step_ms=0)
    h.send(latency_ms=1)
    h.now = 5 * S
    h.send(latency_ms=1)
    assert summary(h.ops, h.reads())["max_gap_s"] == pytest.approx(5.0)


def test_ops_frame_has_a_row_per_invoke() -> None:
    h = H()
    a = h.send(outcome="info")
    h.retry(a, resend=True)
    h.inject("f1")
    h.send(outcome="pending")
    f = ops_frame(h.ops)
    assert len(f) == 4
    assert f["f"].tolist() == ["send", "send", "inject", "send"]
    assert f["outcome"].tolist() == ["info", "ok", "ok", "pending"]
    assert f["retry"].tolist()[:2] == [False, True]
    assert f.loc[1, "message_id"] == h.mid(a)
    assert f.loc[2, "fault"] == "f1" and f.loc[2, "kind"] == "kill"
    assert f.loc[1, "latency_ms"] == pytest.approx(1.0)
    assert isinstance(f["outcome"].dtype, pd.CategoricalDtype)
    assert (f["invoke_s"].diff().dropna() >= 0).all()


def test_threshold_metrics_names_match_the_scenario_vocabulary() -> None:
    h = steady(10)
    h.step_ms = 1
    h.inject("f1")
    h.heal("f1")  # healed at +3 ms
    h.send()  # ok at +5 ms
    reads = h.reads()
    m = threshold_metrics(check_all(h.ops, reads), summary(h.ops, reads))
    scenario = pytest.importorskip("wiber_harness.scenario")
    assert set(m) == set(scenario.METRICS)
    assert m["lost"] == 1.0
    assert m["recovery_s"] == pytest.approx(0.002)
    assert m["ordering_violations"] == 0.0
    assert m["ack_max_ms"] == pytest.approx(10, rel=1e-3)


def test_threshold_metrics_of_a_crashed_checker_are_unknown() -> None:
    m = threshold_metrics({}, {})
    assert m["lost"] is None and m["convergence_s"] is None and m["recovery_s"] is None
