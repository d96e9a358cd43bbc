"""``wiber_harness.distinct`` returns what ``np.unique`` returns (the reference), for
every flag it replaces, on random integer arrays (sorted, repeated, empty, extreme)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wiber_harness.distinct import unique, unique_counts, unique_first, unique_inverse

ints = st.one_of(st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1), st.integers(0, 10**6))
data = arrays(np.int64, st.integers(0, 300), elements=ints)


@settings(max_examples=300, deadline=None)
@given(data, st.booleans())
def test_each_function_agrees_with_numpy_unique(a: np.ndarray, presort: bool) -> None:
    if presort:
        a = np.sort(a)
    assert np.array_equal(unique(a), np.unique(a))
    for mine, theirs in (
        (unique_first(a), np.unique(a, return_index=True)),
        (unique_inverse(a), np.unique(a, return_inverse=True)),
        (unique_counts(a), np.unique(a, return_counts=True)),
    ):
        assert all(
            np.array_equal(np.asarray(x).reshape(-1), np.asarray(y).reshape(-1))
            for x, y in zip(mine, theirs, strict=True)
        )


def test_floats_without_nan_and_two_dimensional_input_are_flattened() -> None:
    a = np.array([[3.0, 1.0], [3.0, 2.5]])
    assert unique(a).tolist() == [1.0, 2.5, 3.0]
    vals, first = unique_first(a)
    assert vals.tolist() == [1.0, 2.5, 3.0] and first.tolist() == [1, 3, 0]
