"""The shape of ``summary.json`` and ``bench.json`` as the regression gate reads them.

:func:`check_summary` and :func:`check_bench` take a decoded document and
return it when every field the gate reads has its type, or raise
:class:`ValueError` with ``FIELD is X, not Y`` (the caller adds the file and
the fix). Numbers must be finite and at most :data:`MAX_FIGURE` in
magnitude: no measurement comes near it, and the bound keeps the gate's
arithmetic (medians, MADs, ``threshold% x baseline``) finite, so
``compare --json`` never has an infinity or NaN to write.

``summary.json`` (``wiber-summary/1``): ``scenarios`` an object of objects
(``verdict`` true, false or "unknown"; ``reasons`` strings;
``expect_violation`` a boolean; ``metrics`` numbers or null) and ``runs`` a
list of objects (``scenario`` a string; ``id`` a string or integer;
``metrics`` numbers or null). ``bench.json`` (``wiber-bench/1``): see
:mod:`wiber_harness.report.sides`; ``figures`` a list of objects with a
non-empty ``name``, a ``direction``, and numbers or null for ``value``,
``spread`` (>= 0), ``threshold_pct`` (0 to :data:`MAX_THRESHOLD_PCT`),
``floor`` and every element of ``samples``; ``promises`` strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wiber_harness.inputs import expect, finite

MAX_FIGURE = 1e15
MAX_THRESHOLD_PCT = 1e6
_VERDICTS = (True, False, "unknown")


def _opt(d: Mapping[str, Any], key: str, at: str, *kinds: str) -> Any:
    return expect(d[key], f"{at}{key}", *kinds) if key in d else None


def _metrics(d: Mapping[str, Any], at: str) -> None:
    for k, v in (_opt(d, "metrics", at, "object", "null") or {}).items():
        finite(v, f"{at}metrics.{k}", MAX_FIGURE)


def check_summary(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """``doc`` when the gate can read it as a summary; else ValueError naming the field."""
    scenarios = expect(doc.get("scenarios"), "scenarios", "object")
    runs = expect(doc.get("runs"), "runs", "list")
    for name, s in scenarios.items():
        at = f"scenarios.{name}."
        expect(s, at[:-1], "object")
        v = s.get("verdict", "unknown")
        if not any(v is x if isinstance(x, bool) else v == x for x in _VERDICTS):
            raise ValueError(f'{at}verdict is {v!r:.40}, not true, false or "unknown"')
        for i, r in enumerate(_opt(s, "reasons", at, "list", "null") or []):
            expect(r, f"{at}reasons[{i}]", "string")
        _opt(s, "expect_violation", at, "boolean", "null")
        _metrics(s, at)
    for i, r in enumerate(runs):
        at = f"runs[{i}]."
        expect(r, at[:-1], "object")
        expect(r.get("scenario"), f"{at}scenario", "string")
        _opt(r, "id", at, "string", "integer")
        _metrics(r, at)
    return doc


def check_bench(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """``doc`` when the gate can read it as a bench document; else ValueError naming the
    field."""
    figures = expect(doc.get("figures"), "figures", "list")
    for i, f in enumerate(figures):
        at = f"figures[{i}]."
        expect(f, at[:-1], "object")
        name = f.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{at}name is {name!r:.40}, not a non-empty string")
        if f.get("direction") not in ("higher", "lower"):
            raise ValueError(
                f"{at}direction is {f.get('direction')!r:.40}, not 'higher' or 'lower'"
            )
        _opt(f, "group", at, "string", "null")
        _opt(f, "unit", at, "string", "null")
        for key in ("value", "floor"):
            finite(f.get(key), f"{at}{key}", MAX_FIGURE)
        spread = finite(f.get("spread"), f"{at}spread", MAX_FIGURE)
        if spread is not None and spread < 0:
            raise ValueError(f"{at}spread is {spread:g}, not a spread (>= 0)")
        pct = finite(f.get("threshold_pct"), f"{at}threshold_pct", MAX_THRESHOLD_PCT)
        if pct is not None and pct < 0:
            raise ValueError(f"{at}threshold_pct is {pct:g}, not a percentage (>= 0)")
        for j, x in enumerate(_opt(f, "samples", at, "list", "null") or []):
            finite(x, f"{at}samples[{j}]", MAX_FIGURE)
            expect(x, f"{at}samples[{j}]", "number")
    for i, p in enumerate(_opt(doc, "promises", "", "list", "null") or []):
        expect(p, f"promises[{i}]", "string")
    return doc


__all__ = ["MAX_FIGURE", "MAX_THRESHOLD_PCT", "check_bench", "check_summary"]
