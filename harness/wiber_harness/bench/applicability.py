"""Which bench figures apply to which system, and why not (pure; no I/O).

``wiber-harness bench --system PROFILE.toml`` measures any pipeline with a
system profile (:mod:`wiber_harness.scenario.profile`) on the same
references as Wiber. Some of the bench's measurements need more than the
profile says; for those the bench records *not applicable to this system*
and the reason, never a failed or a made-up sample:

* **the batch path** (``batch_*`` figures, ``POST`` of the profile's
  ``batch_route``): applies when the API serves the route. The bench asks
  it once, before any load, with an empty batch; a 404 or 405 means there
  is no such route (:func:`batch_reason`).
* **the sink** (``sink_*``): the consumers drain a backlog the bench
  pre-fills straight into the topic *in Wiber's record format*; a profile
  does not describe another system's Kafka records, so only Wiber's own
  system (:func:`is_wiber`) is measured this way.
* **the raw insert in the consumers' layout** (``raw_insert_in_layout_per_s``):
  the same documents written the way Wiber's consumers write them (one
  write each, into its conversation's bucket collection); another
  system's layout is its own.
* **the HTTP floor** (``api_ingest_efficiency``, ``floor_*``, ``wrk_*``,
  ``generator_vs_wrk``): the floor runs under the system's own API command
  line with its ASGI app swapped (:func:`wiber_harness.bench.floor.floor_argv`);
  an API started by anything else has no floor to compare with
  (:func:`floor_reason`).

What applies to every system: per-message ingest and end to end (the
workload builds each request from the profile's
:class:`~wiber_harness.workload.plan.ApiProfile`), ProducerPerformance and
EndToEndLatency on the system's topic, and the raw insert into the same
store. A pipeline that stores no write time (``stored_at_ns = false``) has
its stored times observed by the bench (:func:`e2e_time_source`).

Which figures apply on which **backend** (:func:`backend_reason`): every
one on ``local``; on ``compose`` only the same-rate figures
(:mod:`wiber_harness.bench.phase_same_rate`, not among the gated or context
figures), because the references and the sink run beside the stack's
processes on the host and reach hops only the compose network has: the
HTTP floor is the API's command line started on the host, the Kafka tools
need the API's proxied bootstrap (``toxiproxy:2909N``, inside the network),
the raw insert writes through the consumers' store proxies (inside it too),
and the CPU meter and py-spy read host processes. Measuring them on compose
would compare a containerised pipeline with host-side references: the
ratios would mean something else, so they are recorded as not applicable.
"""

from __future__ import annotations

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec

BATCH_FIGURES = (
    "batch_ingest_efficiency",
    "batch_ingest_max_per_s",
    "batch_e2e_max_per_s",
    "batch_e2e_p99_ms_at_50",
    "batch_e2e_p99_vs_kafka",
)
SINK_FIGURES = ("sink_efficiency", "sink_stored_per_s", "sink_cpu_per_doc_vs_raw")
LAYOUT_FIGURES = ("raw_insert_in_layout_per_s",)
FLOOR_FIGURES = (
    "api_ingest_efficiency",
    "floor_req_per_s",
    "floor_saturation_req_per_s",
    "wrk_req_per_s",
    "generator_vs_wrk",
)
# statuses that say the route does not exist (not that the request was bad)
NO_ROUTE_STATUSES = frozenset({404, 405})


def is_wiber(spec: SystemSpec) -> bool:
    """Whether ``spec`` is this project's own pipeline (``profiles/wiber.toml`` loads to it)."""
    return spec == DEFAULT_SYSTEM


def batch_reason(route: str, status: int | None, error: str | None = None) -> str | None:
    """Why the batch path does not apply, from the API's answer to an empty batch
    (``status``; None with ``error`` when it could not be asked); None: it applies."""
    if status is None:
        return f"could not ask the API whether it serves POST {route} ({error or 'no answer'})"
    if status in NO_ROUTE_STATUSES:
        return f"the API answered {status} to POST {route}: it serves no batch route"
    return None


def floor_reason(spec: SystemSpec) -> str | None:
    """Why the HTTP floor does not apply to ``spec`` (None: it does).

    The floor is the system's own API command line with its ``module:app``
    swapped for the floor app, so it needs a command line that names one.
    """
    if not any(a.endswith(":app") for a in spec.api_argv):
        return (
            "the system's API command line names no ASGI app (module:app), so there is no "
            "floor endpoint started the same way"
        )
    return None


def not_applicable(
    spec: SystemSpec, *, batch: str | None = None, floor: str | None = None
) -> dict[str, str]:
    """Figure name -> why it is not applicable to ``spec``.

    ``batch`` / ``floor``: what the bench found out at start (the reasons of
    :func:`batch_reason` and :func:`floor_reason`; None: the path applies).
    """
    out: dict[str, str] = {}
    if batch is not None:
        out.update(dict.fromkeys(BATCH_FIGURES, batch))
    if floor is not None:
        out.update(dict.fromkeys(FLOOR_FIGURES, floor))
    if not is_wiber(spec):
        out.update(
            dict.fromkeys(
                SINK_FIGURES,
                "the sink drains a backlog pre-filled in Wiber's Kafka record format; a system "
                "profile does not describe another system's records",
            )
        )
        out.update(
            dict.fromkeys(
                LAYOUT_FIGURES,
                "the bucketed layout is Wiber's own storage layout",
            )
        )
    return out


COMPOSE_REASON = (
    "not measured on the compose backend: its references (HTTP floor, Kafka tools through "
    "the API's proxies, raw store writes through the consumers' proxies, CPU meter, py-spy) "
    "run on the host beside local processes; on compose only the same-rate figures are "
    "measured (bench --backend local --backend compose compares them)"
)
SAME_RATE_ONLY_REASON = "not measured: bench --same-rate-only runs the same-rate phase alone"


def backend_reason(backend: str, same_rate_only: bool = False) -> str | None:
    """Why the bench's gated and context figures are not measured (None: they are)."""
    if backend == "compose":
        return COMPOSE_REASON
    if same_rate_only:
        return SAME_RATE_ONLY_REASON
    return None


def e2e_time_source(spec: SystemSpec, poll_s: float) -> str:
    """Where a stored message's time comes from, as bench.json says it."""
    f = spec.fields.get("stored_at_ns")
    if f:
        return f"the stored document's {f} (the consumer's write time, epoch ns)"
    return (
        f"the bench's first sighting of the document, polling the store every {poll_s * 1000:g} "
        "ms during each load (the system stores no write time): an upper bound, late by up to "
        "one poll"
    )


__all__ = [
    "BATCH_FIGURES",
    "COMPOSE_REASON",
    "FLOOR_FIGURES",
    "LAYOUT_FIGURES",
    "NO_ROUTE_STATUSES",
    "SAME_RATE_ONLY_REASON",
    "SINK_FIGURES",
    "backend_reason",
    "batch_reason",
    "e2e_time_source",
    "floor_reason",
    "is_wiber",
    "not_applicable",
]
