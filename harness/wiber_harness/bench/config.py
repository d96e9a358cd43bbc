"""What one bench run does: repetitions, durations, sizes and bounds.

:meth:`BenchConfig.preset` gives the two standard shapes; any field can be
overridden (the CLI's options). ``quick`` is sized to finish on the local
stack of a shared 2-core machine in under 10 minutes (two repetitions of
everything, short steps); the full bench takes three repetitions (or
more) with longer steps and levels.

Sizes and their meaning:

* ``repetitions``: samples per figure (>= 2; >= 3 for the full bench);
* ``probe_s`` / ``step_s`` / ``max_steps``: each max-rate search
  (:mod:`wiber_harness.bench.search`); ``e2e_searches``: end-to-end
  searches per path (ingest searches: one per repetition); ``level_s``:
  each latency run at a fraction (``levels``) of the end-to-end maximum;
* ``bounds``: when a load *held* (:class:`~wiber_harness.bench.measure.Bounds`);
* ``batch_size``: messages per ``POST /messages/batch``; ``concurrency``:
  requests in flight at most (the generator skips beyond it);
  ``payload_size``: content bytes; ``generator_processes``: 0 picks 1, or
  more (up to ``max_generator_processes``) while fewer cannot reach
  ``min_generator_vs_wrk`` of wrk against the floor;
* ``pp_records`` (+ ``pp_warmup`` of them as warm-up): ProducerPerformance's
  unrecorded sizing run, from which the recorded runs take about
  ``pp_seconds`` of steady state; ``e2el_records``: EndToEndLatency's first
  run, later ones about ``e2el_seconds`` of round trips (the machine's
  speed varies by an order of magnitude); ``raw_docs``: the raw insert reference's first run
  (long enough for a steady rate: a quick run's 5,000 documents took 0.36 s and read 1.6x the
  steady rate, so the sink ratio beside it read 0.54 where the next read 0.90), later ones
  about ``raw_seconds`` long; ``sink_records``: the pre-filled
  backlog when nothing is known yet, else about ``sink_seconds`` of
  draining;
* ``profile`` / ``profile_s``: py-spy on the API and a consumer while the
  pipeline holds its maximum rate, and on a consumer draining a backlog;
* ``checkers_ops``: size of the synthetic history the checkers are timed
  on (0: skipped);
* ``system`` / ``system_path``: the pipeline measured (its
  :class:`~wiber_harness.cluster.system_spec.SystemSpec`, Wiber's own by
  default) and the profile it was loaded from (None: the built-in spec);
  what applies to it: :mod:`wiber_harness.bench.applicability`;
  ``store_poll_s``: how often the store is polled during a load for a
  pipeline that stores no write time (:mod:`wiber_harness.bench.store_poll`);
* ``backend``: where the stack runs (``local`` or ``compose``; on compose
  only the same-rate phase applies, :mod:`wiber_harness.bench.applicability`);
  ``same_rate`` / ``same_rate_s``: the same-rate phase's rate (the baseline
  scenario's) and the seconds of each of its ``repetitions`` loads
  (:mod:`wiber_harness.bench.phase_same_rate`); ``same_rate_only``: run
  that phase and nothing else (every other figure is then recorded as not
  measured, with that reason).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from wiber_harness.bench.measure import Bounds
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.errors import HarnessError

BACKENDS = ("local", "compose")  # where the bench can start its stack


@dataclass(frozen=True)
class BenchConfig:
    out_dir: Path
    quick: bool = False
    repetitions: int = 3
    probe_s: float = 4.0
    step_s: float = 8.0
    max_steps: int = 6
    e2e_searches: int = 2
    level_s: float = 15.0
    levels: tuple[float, ...] = (0.25, 0.5, 0.75)
    bounds: Bounds = field(default_factory=Bounds)
    batch_size: int = 50
    concurrency: int = 256
    payload_size: int = 64
    conversations: int = 50
    generator_processes: int = 0
    max_generator_processes: int = 4
    min_generator_vs_wrk: float = 0.5
    floor_probe_rate: float = 8000.0
    wrk_s: float = 8.0
    wrk_threads: int = 1
    wrk_connections: int = 32
    pp_records: int = 200_000
    pp_warmup: float = 0.3
    pp_seconds: float = 15.0
    e2el_records: int = 2000
    e2el_seconds: float = 15.0
    raw_docs: int = 40_000
    raw_seconds: float = 10.0
    sink_records: int = 40_000
    sink_seconds: float = 25.0
    partitions: int = 6
    consumers: int = 2
    profile: bool = False
    profile_s: float = 15.0
    checkers_ops: int = 1_000_000
    settings: dict[str, str] = field(default_factory=dict)
    system: SystemSpec = DEFAULT_SYSTEM
    system_path: str | None = None
    store_poll_s: float = 0.02
    backend: str = "local"
    same_rate: float = 150.0
    same_rate_s: float = 30.0
    same_rate_only: bool = False

    @classmethod
    def preset(cls, out_dir: Path, quick: bool = False, **overrides: Any) -> BenchConfig:
        base = cls(out_dir=Path(out_dir), quick=quick)
        if quick:
            base = replace(
                base,
                repetitions=2,
                probe_s=2.5,
                step_s=4.0,
                max_steps=4,
                e2e_searches=1,
                level_s=5.0,
                wrk_s=4.0,
                pp_records=40_000,
                pp_seconds=5.0,
                e2el_records=300,
                e2el_seconds=5.0,
                raw_docs=30_000,
                raw_seconds=4.0,
                sink_records=5_000,
                sink_seconds=12.0,
                profile_s=8.0,
                checkers_ops=0,
                same_rate_s=15.0,
            )
        cfg = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        problems = []
        if self.repetitions < 2:
            problems.append(f"repetitions must be >= 2 to give a spread (got {self.repetitions})")
        for name in (
            "probe_s",
            "step_s",
            "level_s",
            "wrk_s",
            "profile_s",
            "pp_seconds",
            "e2el_seconds",
            "raw_seconds",
            "sink_seconds",
            "store_poll_s",
            "same_rate",
            "same_rate_s",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        if not self.levels or any(not 0 < f <= 1 for f in self.levels):
            problems.append(f"levels must be fractions in (0, 1] (got {self.levels})")
        for name in (
            "batch_size",
            "concurrency",
            "payload_size",
            "pp_records",
            "e2el_records",
            "raw_docs",
            "sink_records",
            "consumers",
            "partitions",
            "e2e_searches",
            "max_generator_processes",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.backend not in BACKENDS:
            problems.append(f"backend must be one of {', '.join(BACKENDS)} (got {self.backend!r})")
        if self.generator_processes < 0:
            problems.append("generator_processes must be >= 0 (0: automatic)")
        if problems:
            raise HarnessError("bench configuration: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(replace(self, system=DEFAULT_SYSTEM))
        d["system"] = {"name": self.system.name, "path": self.system_path}
        d.pop("system_path")
        d["out_dir"] = str(self.out_dir)
        d["levels"] = list(self.levels)
        return d


__all__ = ["BACKENDS", "BenchConfig"]
