"""Strings as integer codes, so the checkers join columns with numpy.

:class:`Codes` keeps the distinct strings of one kind (keys, messageIds,
conversations), a code each in order of first appearance. Codes never
change, so an array of codes computed early stays valid when later views
encode more strings. ``None`` is never a string: its code is -1.

(A plain dict measured faster here than hashing into sorted numpy arrays:
0.19 s against 0.43 s for 500k lookups in random order.)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import TypeVar

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
T = TypeVar("T")
_SAMPLE = 1000  # values looked at to tell a column of few distinct values


class Codes:
    """Distinct strings and their codes (``names[code]`` is the string)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        # None is in the table as -1, so a lookup is one C-level ``get`` per value
        # (12% faster than a generator that tests for None)
        self._table: dict[str | None, int] | None = {None: -1}

    def __len__(self) -> int:
        return len(self.names)

    @property
    def _index(self) -> dict[str | None, int]:
        if self._table is None:  # compacted: rebuilt from the names, codes unchanged
            self._table = dict(zip(self.names, range(len(self.names)), strict=True))
            self._table[None] = -1
        return self._table

    def compact(self) -> None:
        """Let the lookup table go (a dict entry and an int per string: 60 MB for a
        million); the next lookup or encode rebuilds it, with the same codes."""
        self._table = None

    def lookup(self, values: Sequence[str | None]) -> I64:
        """The code of each value; -1 for None and for strings not in the table."""
        return np.fromiter(
            map(self._index.get, values, repeat(-1)), dtype=np.int64, count=len(values)
        )

    def encode(self, values: Sequence[str | None]) -> I64:
        """The code of each value (-1 for None); strings not yet known get new codes,
        in order of first appearance."""
        index, names = self._index, self.names
        if not names and len(set(values[:_SAMPLE])) * 10 < 9 * min(len(values), _SAMPLE):
            # a first column whose values repeat (conversations, senders): the distinct
            # ones in order, then C-level lookups, beat a Python pass (1000 distinct in
            # 500k: 45 against 55 ms when fresh, 3-4x faster when the strings are shared
            # objects); on nearly distinct values (keys, messageIds) the pass wins
            fresh = [v for v in dict.fromkeys(values) if v is not None]
            index.update(zip(fresh, range(len(fresh)), strict=True))
            names.extend(fresh)
            return self.lookup(values)
        if not names:  # the first column: one pass (setdefault gives a new string the next code)
            put = index.setdefault
            codes = np.fromiter(
                (-1 if v is None else put(v, len(index) - 1) for v in values),
                dtype=np.int64,
                count=len(values),
            )
            names.extend(k for k in index if k is not None)
            return codes
        codes = self.lookup(values)
        for i in np.flatnonzero(codes < 0).tolist():
            v = values[i]
            if v is None:
                continue
            c = index.get(v)
            if c is None:
                c = index[v] = len(names)
                names.append(v)
            codes[i] = c
        return codes


def pick(values: Sequence[T], index: Sequence[int]) -> list[T]:
    """``[values[i] for i in index]``, in one C-level call (4-5x faster on 500k)."""
    if len(index) > 1:
        return list(itemgetter(*index)(values))
    return [values[i] for i in index]


def factorize(values: Sequence[str | None]) -> tuple[list[str], I64]:
    """(distinct strings in order of first appearance, code per value; None -> -1)."""
    c = Codes()
    codes = c.encode(values)
    return c.names, codes


__all__ = ["Codes", "factorize", "pick"]
