"""What the report reads of ``result.json``, checked before anything uses it.

``result.json`` (schema ``wiber-result/1``) is written by the runner, but a
report reads whatever is in the run folder, which someone may have edited.
:func:`read_result` reads it through :func:`wiber_harness.inputs.load_json`
(size limit, JSON without NaN or infinity, nesting at most 64 levels) and
checks the type of every field the report, the summary and the JUnit file
use; a field may be absent (older runs, stand-ins) but never of another
type. Any problem is one :class:`~wiber_harness.inputs.UnreadableInput`
sentence naming the file and the field, ending with the fix: re-judge the
run with ``wiber-harness check``, which rewrites ``result.json``.

The fields and their types::

    schema: "wiber-result/1"          scenario, description, backend: string
    verdict: true | false | "unknown" seed: integer
    reasons: [string]                 expect: {valid: [string],
                                               violation: bool | [string],
                                               thresholds: object}
    checks: {NAME: {valid: verdict, counts: {NAME: number|string|bool|null},
                    examples: object, error: string, details: object}}
    metrics: {thresholds: {NAME: number},
              summary: {duration_s: number, counts: {NAME: number},
                        histograms: {NAME: string},
                        fault_windows: [{fault, kind, target: string,
                                         start_s, end_s, duration_s: number,
                                         healed: bool}]}}

``null`` is accepted wherever a field may be unknown (every scalar above).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wiber_harness.inputs import UnreadableInput, expect, load_json

RESULT_SCHEMA = "wiber-result/1"
_VERDICTS = (True, False, "unknown")


def fix_for(run_dir: Path) -> str:
    """The fix for a bad result.json: re-judge the run."""
    return f"re-judge the run with `wiber-harness check {run_dir}`"


def read_result(path: Path) -> dict[str, Any]:
    """The checked ``result.json`` at ``path``; raises :class:`UnreadableInput`."""
    fix = fix_for(path.parent)
    doc = load_json(path, "result", fix)
    try:
        return check_result(doc)
    except ValueError as e:
        raise UnreadableInput(f"{path}: {e}; {fix}") from None


def _opt(d: Mapping[str, Any], key: str, at: str, *kinds: str) -> Any:
    return expect(d[key], f"{at}{key}", *kinds) if key in d else None


def _verdict(v: object, at: str) -> None:
    if not any(v is x if isinstance(x, bool) else v == x for x in _VERDICTS):
        raise ValueError(f'{at} is {v!r:.40}, not true, false or "unknown"')


def _strings(d: Mapping[str, Any], key: str, at: str) -> None:
    for i, x in enumerate(_opt(d, key, at, "list", "null") or []):
        expect(x, f"{at}{key}[{i}]", "string")


def check_result(doc: object) -> dict[str, Any]:
    """``doc`` when it is a well-typed result document; else ValueError naming the field."""
    top = expect(doc, "the top level", "object")
    if top.get("schema") != RESULT_SCHEMA:
        raise ValueError(f"schema is {top.get('schema')!r:.60}, not {RESULT_SCHEMA!r}")
    for key in ("scenario", "description", "backend"):
        _opt(top, key, "", "string", "null")
    _opt(top, "seed", "", "integer", "null")
    if "verdict" in top:
        _verdict(top["verdict"], "verdict")
    _strings(top, "reasons", "")
    ex = _opt(top, "expect", "", "object", "null") or {}
    _strings(ex, "valid", "expect.")
    v = _opt(ex, "violation", "expect.", "boolean", "list", "null")
    if isinstance(v, list):
        _strings(ex, "violation", "expect.")
    _opt(ex, "thresholds", "expect.", "object", "null")
    _opt(top, "env", "", "object", "null")
    for name, c in (_opt(top, "checks", "", "object", "null") or {}).items():
        at = f"checks.{name}."
        expect(c, at[:-1], "object")
        if "valid" in c:
            _verdict(c["valid"], f"{at}valid")
        for k, x in (_opt(c, "counts", at, "object", "null") or {}).items():
            expect(x, f"{at}counts.{k}", "number", "string", "boolean", "null")
        _opt(c, "examples", at, "object", "null")
        _opt(c, "error", at, "string", "null")
        details = _opt(c, "details", at, "object", "null") or {}
        _opt(details, "note", f"{at}details.", "string", "null")
    metrics = _opt(top, "metrics", "", "object", "null") or {}
    for k, x in (_opt(metrics, "thresholds", "metrics.", "object", "null") or {}).items():
        expect(x, f"metrics.thresholds.{k}", "number", "null")
    summ = _opt(metrics, "summary", "metrics.", "object", "null") or {}
    at = "metrics.summary."
    _opt(summ, "duration_s", at, "number", "null")
    for k, x in (_opt(summ, "counts", at, "object", "null") or {}).items():
        expect(x, f"{at}counts.{k}", "number", "null")
    for k, x in (_opt(summ, "histograms", at, "object", "null") or {}).items():
        expect(x, f"{at}histograms.{k}", "string", "null")
    for i, w in enumerate(_opt(summ, "fault_windows", at, "list", "null") or []):
        wat = f"{at}fault_windows[{i}]."
        expect(w, wat[:-1], "object")
        for key in ("fault", "kind", "target"):
            _opt(w, key, wat, "string", "null")
        for key in ("start_s", "end_s", "duration_s"):
            _opt(w, key, wat, "number", "null")
        _opt(w, "healed", wat, "boolean", "null")
    assert isinstance(top, dict)
    return top


__all__ = ["RESULT_SCHEMA", "check_result", "fix_for", "read_result"]
