"""Backends side by side: the same-rate figures of several bench runs in one table (pure).

``wiber-harness bench --backend local --backend compose`` benchmarks each
backend in turn (``DIR/<backend>/bench.json``) and writes
``DIR/backends.json`` (schema ``wiber-bench-backends/1``): for every
backend its same-rate figures (:mod:`wiber_harness.bench.phase_same_rate`:
ack and e2e p50 / p99 at one fixed rate, median over the repetitions), and
for every later backend each figure as a multiple of the first backend's.
:func:`backends_lines` is the table the terminal shows. The loads are the
same on every backend (rate, duration, repetitions, payload): a document
whose same-rate load differs from the first one's is refused, since its
figures would not be comparable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wiber_harness.bench.phase_same_rate import QUANTITIES

SCHEMA = "wiber-bench-backends/1"
FILE = "backends.json"
NAMES = tuple(f"{which}_{q}_ms" for which, q in QUANTITIES)


def _load_shape(doc: dict[str, Any]) -> tuple[Any, ...]:
    s = doc.get("same_rate") or {}
    cfg = doc.get("config") or {}
    return (s.get("rate"), s.get("duration_s"), cfg.get("repetitions"), cfg.get("payload_size"))


def backends_document(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """``docs``: (folder, bench.json document) per backend, the reference first."""
    if not docs:
        raise ValueError("backends_document: no bench documents")
    shapes = {_load_shape(d) for _, d in docs}
    if len(shapes) > 1:
        raise ValueError(
            "the bench documents measured different same-rate loads "
            f"(rate, seconds, repetitions, payload: {sorted(map(str, shapes))}); not comparable"
        )
    ref_folder, ref = docs[0]
    ref_fig = (ref.get("same_rate") or {}).get("figures") or {}
    rows = []
    for folder, doc in docs:
        s = doc.get("same_rate") or {}
        fig = s.get("figures") or {}
        row: dict[str, Any] = {
            "backend": s.get("backend") or doc.get("backend"),
            "folder": folder,
            "figures": {n: (fig.get(n) or {}).get("value") for n in NAMES},
            "samples": {n: (fig.get(n) or {}).get("samples", []) for n in NAMES},
            "load_average": (doc.get("load_average") or {}).get("mean1"),
        }
        if folder != ref_folder:
            row["vs_first"] = {n: _ratio(row["figures"][n], _v(ref_fig, n)) for n in NAMES}
        rows.append(row)
    rate, duration, reps, _ = _load_shape(ref)
    return {
        "schema": SCHEMA,
        "rate": rate,
        "duration_s": duration,
        "repetitions": reps,
        "reference": rows[0]["backend"],
        "backends": rows,
    }


def _v(fig: dict[str, Any], name: str) -> float | None:
    v = (fig.get(name) or {}).get("value")
    return float(v) if isinstance(v, int | float) else None


def _ratio(a: Any, b: float | None) -> float | None:
    if not isinstance(a, int | float) or b is None or b == 0:
        return None
    return round(float(a) / b, 2)


def _cell(v: Any, suffix: str = "") -> str:
    return "-" if v is None else f"{v:.3g}{suffix}"


def backends_lines(doc: dict[str, Any]) -> list[str]:
    """The table: one row per backend (ms), then each later backend as a multiple."""
    head = ["ack p50", "ack p99", "e2e p50", "e2e p99"]
    out = [
        f"same rate: {_cell(doc['rate'])} msg/s for {_cell(doc['duration_s'])} s x "
        f"{doc['repetitions']} (per-message POST, consumers running; ms, median of the runs)",
        f"{'backend':<18}" + "".join(f"{h:>10}" for h in head) + "   load avg",
    ]
    for row in doc["backends"]:
        out.append(
            f"{row['backend']:<18}"
            + "".join(f"{_cell(row['figures'][n]):>10}" for n in NAMES)
            + f"   {_cell(row['load_average'])}"
        )
    ref = doc["reference"]
    for row in doc["backends"][1:]:
        out.append(
            f"{row['backend'] + '/' + ref:<18}"
            + "".join(f"{_cell(row['vs_first'][n], 'x'):>10}" for n in NAMES)
        )
    return out


def write_backends(doc: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


__all__ = ["FILE", "NAMES", "SCHEMA", "backends_document", "backends_lines", "write_backends"]
