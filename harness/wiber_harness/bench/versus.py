"""Systems side by side: each one's headline figures as multiples of the first's (pure).

``wiber-harness bench --system A.toml --system B.toml`` benchmarks each
system on its own stack, one after the other in one invocation, on the
same references; :func:`versus_document` then puts every later system
beside the first (the *baseline*) in ``versus.json``:

* ``figures``: per system and headline figure (:data:`HEADLINE`), the
  ``multiple`` (the system's median ÷ the baseline's median) and the range
  of multiples its samples allow (``low``: its smallest sample ÷ the
  baseline's largest; ``high``: its largest ÷ the baseline's smallest);
  null where either side has no sample, with the reason when the figure
  does not apply to one of them;
* ``references``: the same for the references both were measured on (the
  HTTP floor, ProducerPerformance, EndToEndLatency, raw insert). They
  should be near 1: the machine was comparable for both; far from 1, the
  headline multiples carry that difference too;
* ``goal``: whether the throughput multiple is at least ``throughput_x``
  and the p99 multiple at most ``1 / p99_x`` (the issue's 10x at <= 1/10),
  judged on the medians.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

VERSUS_FILE = "versus.json"
VERSUS_SCHEMA = "wiber-bench-versus/1"
# (context figure, what it is, better direction)
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("single_e2e_max_per_s", "maximum sustainable single-send rate, end to end", "higher"),
    ("single_e2e_p99_ms_at_50", "single-send e2e p99 at 50% of it", "lower"),
    ("single_ack_p99_ms_at_50", "single-send ack p99 at 50% of it", "lower"),
    (
        "single_ingest_max_per_s",
        "maximum sustainable single-send ingest (consumers stopped)",
        "higher",
    ),
    ("batch_e2e_max_per_s", "maximum sustainable batch rate, end to end", "higher"),
)
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("floor_req_per_s", "HTTP floor, maximum sustainable", "higher"),
    ("producer_perf_proxied_per_s", "ProducerPerformance via Toxiproxy", "higher"),
    ("kafka_e2e_p99_ms", "Kafka EndToEndLatency p99", "lower"),
    ("raw_insert_per_s", "raw insert_many", "higher"),
)
THROUGHPUT, P99 = "single_e2e_max_per_s", "single_e2e_p99_ms_at_50"


def _samples(entry: Mapping[str, Any] | None) -> list[float]:
    if not entry:
        return []
    return [float(x) for x in entry.get("samples") or [] if isinstance(x, int | float)]


def multiple(base: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> dict[str, Any]:
    """``other`` as a multiple of ``base`` (two context entries of bench.json)."""
    out: dict[str, Any] = {"multiple": None, "low": None, "high": None}
    for side, e in (("baseline", base), ("system", other)):
        why = (e or {}).get("not_applicable")
        if why:
            out["not_applicable"] = f"{side}: {why}"
    bs, os_ = _samples(base), _samples(other)
    bv, ov = (base or {}).get("value"), (other or {}).get("value")
    out["baseline"] = {"value": bv, "samples": bs}
    out["system"] = {"value": ov, "samples": os_}
    if not bs or not os_ or not bv or ov is None or min(bs) <= 0:
        return out
    out["multiple"] = round(float(ov) / float(bv), 4)
    out["low"] = round(min(os_) / max(bs), 4)
    out["high"] = round(max(os_) / min(bs), 4)
    return out


def _table(
    base: Mapping[str, Any], other: Mapping[str, Any], rows: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    bc, oc = base.get("context", {}), other.get("context", {})
    return {
        name: {"title": title, "direction": direction, **multiple(bc.get(name), oc.get(name))}
        for name, title, direction in rows
    }


def versus_document(
    docs: Sequence[tuple[str, Mapping[str, Any]]],
    throughput_x: float = 10.0,
    p99_x: float = 10.0,
) -> dict[str, Any]:
    """Every system after the first beside the first (see the module docstring).

    ``docs``: (folder, bench.json document) per system, in the order measured.
    """
    if len(docs) < 2:
        raise ValueError("a side-by-side needs at least two systems")
    base_dir, base = docs[0]
    systems = []
    for d, doc in docs[1:]:
        figures = _table(base, doc, HEADLINE)
        t, p = figures[THROUGHPUT]["multiple"], figures[P99]["multiple"]
        systems.append(
            {
                "system": doc.get("system", {}),
                "folder": d,
                "figures": figures,
                "references": _table(base, doc, REFERENCES),
                "goal": {
                    "throughput_x": throughput_x,
                    "p99_x": p99_x,
                    "throughput_met": None if t is None else t >= throughput_x,
                    "p99_met": None if p is None else p <= 1.0 / p99_x,
                },
                "load_average": doc.get("load_average"),
            }
        )
    return {
        "schema": VERSUS_SCHEMA,
        "baseline": {
            "system": base.get("system", {}),
            "folder": base_dir,
            "load_average": base.get("load_average"),
        },
        "systems": systems,
    }


def versus_lines(doc: Mapping[str, Any]) -> list[str]:
    """The side-by-side as lines for the terminal."""
    bname = doc["baseline"]["system"].get("name", "?")
    lines = []
    for s in doc["systems"]:
        name = s["system"].get("name", "?")
        lines.append(f"{name} as a multiple of {bname} (median; range its samples allow):")
        for group in ("figures", "references"):
            for key, f in s[group].items():
                if f["multiple"] is None:
                    shown = "n/a" + (f" ({f['not_applicable']})" if "not_applicable" in f else "")
                else:
                    shown = f"{f['multiple']:.3g}x [{f['low']:.3g} .. {f['high']:.3g}]"
                lines.append(f"  {key:<28} {shown}   ({f['title']})")
        g = s["goal"]
        lines.append(
            f"  goal >= {g['throughput_x']:g}x throughput: {g['throughput_met']}; "
            f"p99 <= 1/{g['p99_x']:g}: {g['p99_met']}"
        )
    return lines


def write_versus(doc: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / VERSUS_FILE
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


__all__ = [
    "HEADLINE",
    "REFERENCES",
    "VERSUS_FILE",
    "VERSUS_SCHEMA",
    "multiple",
    "versus_document",
    "versus_lines",
    "write_versus",
]
