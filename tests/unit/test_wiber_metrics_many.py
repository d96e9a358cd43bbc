"""wiber.metrics.observe_many records what as many ``observe`` calls record.

(The sum up to float rounding: n * x is not always x + ... + x.)
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from wiber.metrics import observe_many

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def exposition(calls: list[tuple[float, int]], many: bool) -> list[tuple[str, str, float]]:
    reg = CollectorRegistry()
    h = Histogram("h_seconds", "h", buckets=BUCKETS, registry=reg)
    for amount, n in calls:
        if many:
            observe_many(h, amount, n)
        else:
            for _ in range(n):
                h.observe(amount)
    text = generate_latest(reg).decode()
    return [
        (s.name, repr(sorted(s.labels.items())), s.value)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    ]


@pytest.mark.parametrize(
    "calls",
    [[(0.0005, 50)], [(0.01, 3), (0.5, 7)], [(2.0, 4)], [(0.02, 0)], [(0.25, 1), (0.001, 9)]],
)
def test_observe_many_is_n_observes(calls: list[tuple[float, int]]) -> None:
    got, want = exposition(calls, many=True), exposition(calls, many=False)
    assert [x[:2] for x in got] == [x[:2] for x in want]
    assert [x[2] for x in got] == pytest.approx([x[2] for x in want], rel=1e-12)
