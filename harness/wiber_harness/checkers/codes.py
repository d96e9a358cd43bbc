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

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


class Codes:
    """Distinct strings and their codes (``names[code]`` is the string)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.names)

    def lookup(self, values: Sequence[str | None]) -> I64:
        """The code of each value; -1 for None and for strings not in the table."""
        get = self.index.get
        return np.fromiter(
            (-1 if v is None else get(v, -1) for v in values), dtype=np.int64, count=len(values)
        )

    def encode(self, values: Sequence[str | None]) -> I64:
        """The code of each value (-1 for None); strings not yet known get new codes,
        in order of first appearance."""
        index, names = self.index, self.names
        if not names:  # the first column: one pass
            put = index.setdefault
            codes = np.fromiter(
                (-1 if v is None else put(v, len(index)) for v in values),
                dtype=np.int64,
                count=len(values),
            )
            names.extend(index)
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


def factorize(values: Sequence[str | None]) -> tuple[list[str], I64]:
    """(distinct strings in order of first appearance, code per value; None -> -1)."""
    c = Codes()
    codes = c.encode(values)
    return c.names, codes


__all__ = ["Codes", "factorize"]
