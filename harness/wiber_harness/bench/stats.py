"""Repetitions, their centre and spread, and ratios of paired repetitions (pure).

A benchmark figure is measured several times (repetitions); its *value* is
the median of the samples and its *spread* the MAD (median absolute
deviation from the median, unscaled), the same statistics the regression
gate (:mod:`wiber_harness.report.compare`) applies to repeated runs. A
missing or non-finite sample (a measurement that failed) is dropped, never
counted as 0.

A ratio figure pairs repetition ``i`` of its numerator with repetition ``i``
of its denominator (measured close together in time, so the machine's load
drift cancels as far as it can) and has one sample per pair where both
sides are known and the denominator is not 0.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Number = float | int


def clean(values: Iterable[Number | None]) -> list[float]:
    """The finite samples of ``values`` as floats (None, NaN and inf dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def median(values: Iterable[Number | None]) -> float | None:
    xs = clean(values)
    return float(statistics.median(xs)) if xs else None


def mad(values: Iterable[Number | None]) -> float | None:
    """Median absolute deviation from the median (unscaled); None without samples."""
    xs = clean(values)
    if not xs:
        return None
    m = statistics.median(xs)
    return float(statistics.median(abs(x - m) for x in xs))


def ratio_samples(num: Sequence[Number | None], den: Sequence[Number | None]) -> list[float]:
    """``num[i] / den[i]`` for every pair where both are finite and ``den[i]`` is not 0."""
    out: list[float] = []
    for a, b in zip(num, den, strict=False):
        if a is None or b is None:
            continue
        fa, fb = float(a), float(b)
        if math.isfinite(fa) and math.isfinite(fb) and fb != 0.0:
            out.append(fa / fb)
    return out


@dataclass(frozen=True)
class Series:
    """The repetitions of one figure: ``value`` (median) and ``spread`` (MAD)."""

    samples: tuple[float, ...] = ()
    unit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Iterable[Number | None], unit: str = "", **extra: Any) -> Series:
        return cls(tuple(clean(values)), unit, dict(extra))

    @property
    def value(self) -> float | None:
        return median(self.samples)

    @property
    def spread(self) -> float | None:
        return mad(self.samples) if len(self.samples) >= 2 else None

    @property
    def n(self) -> int:
        return len(self.samples)

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        """``value``, ``spread``, ``samples``, ``n``, ``unit`` (+ extra keys), rounded."""
        return {
            "value": _round(self.value, digits),
            "spread": _round(self.spread, digits),
            "samples": [_round(s, digits) for s in self.samples],
            "n": self.n,
            "unit": self.unit,
            **self.extra,
        }


def _round(v: float | None, digits: int) -> float | None:
    if v is None:
        return None
    if v == 0 or not math.isfinite(v):
        return v
    # significant digits, so a ratio of 0.0123 and a rate of 12345 keep their precision
    return round(v, max(0, digits - 1 - math.floor(math.log10(abs(v)))))


__all__ = ["Series", "clean", "mad", "median", "ratio_samples"]
