"""``Codes`` gives each distinct string a code in order of first appearance.

A plain-dict reference says what the codes must be for any sequence of
columns (``None`` included, strings seen in an earlier column kept), and
``lookup`` never invents a code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wiber_harness.checkers.analysis import OK, owners
from wiber_harness.checkers.codes import Codes, factorize

COLUMN = st.lists(
    st.one_of(st.none(), st.sampled_from(["a", "b", "c", "", "dd", "é"])), max_size=12
)


@settings(max_examples=500, deadline=None)
@given(st.lists(COLUMN, max_size=5), COLUMN)
def test_codes_follow_first_appearance_over_columns(
    columns: list[list[str | None]], probe: list[str | None]
) -> None:
    ref: dict[str, int] = {}
    c = Codes()
    for col in columns:
        for v in col:
            if v is not None and v not in ref:
                ref[v] = len(ref)
        got = c.encode(col).tolist()
        assert got == [-1 if v is None else ref[v] for v in col]
    assert c.names == list(ref)
    assert len(c) == len(ref)
    assert c.lookup(probe).tolist() == [ref.get(v, -1) if v is not None else -1 for v in probe]
    assert c.names == list(ref)  # a lookup adds nothing


def test_factorize() -> None:
    names, codes = factorize(["x", None, "y", "x"])
    assert names == ["x", "y"]
    assert codes.tolist() == [0, -1, 1, 0]


def test_a_compacted_table_gives_the_same_codes_and_keeps_growing() -> None:
    c = Codes()
    first = c.encode(["x", "y", None, "x"])
    c.compact()
    assert c.lookup(["y", "x", "z", None]).tolist() == [1, 0, -1, -1]
    c.compact()
    assert c.encode(["z", "x"]).tolist() == [2, 0]
    assert c.names == ["x", "y", "z"]
    assert first.tolist() == [0, 1, -1, 0]


def _owners_by_sort(a_key: Any, a_code: Any, outcome: Any, n_codes: int) -> Any:
    """The rule stated with a sort: per code, ok before the rest, then history order."""
    has = np.flatnonzero(a_code >= 0)
    owner = np.full(n_codes, -1, dtype=np.int64)
    if len(has):
        rank = (outcome[has] != OK).astype(np.int8)
        order = has[np.lexsort((has, rank, a_code[has]))]
        codes, first = np.unique(a_code[order], return_index=True)
        owner[codes] = a_key[order[first]]
    return owner


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(-1, 5), st.integers(0, 3)), max_size=30))
def test_owners_is_the_first_ok_attempt_else_the_first(rows: list[tuple[int, int, int]]) -> None:
    a_key = np.asarray([r[0] for r in rows], np.int64)
    a_code = np.asarray([r[1] for r in rows], np.int64)
    outcome = np.asarray([r[2] for r in rows], np.int8)
    got = owners(a_key, a_code, outcome, 6)
    assert got.tolist() == _owners_by_sort(a_key, a_code, outcome, 6).tolist()
