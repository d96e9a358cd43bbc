"""The registry of fault kinds: the vocabulary of a scenario's timeline.

Each :class:`FaultKind` says what a fault does, which targets it takes, what
healing it means and which parameters it has (type, default, bounds). The
catalog is data only: validation (:mod:`wiber_harness.scenario`) checks
every timeline step against it before anything starts, ``wiber-harness
faults`` prints it, and the nemesis implements each kind by name.

Categories:

* ``process``: signals to a node's process group (kill = SIGKILL, stop =
  SIGTERM, pause = SIGSTOP) and restarts. Heal starts or resumes it.
* ``link``: Toxiproxy. ``partition`` disables a proxy; the other link kinds
  add the toxic of the same name. Every toxic has ``stream`` (upstream,
  downstream or both; both adds one toxic per direction) and ``toxicity``
  (probability that a connection is affected). Heal removes the toxic or
  re-enables the proxy. ``isolate`` cuts a broker off from every peer.
* ``duplicate``: makes the pipeline see work again that it has already
  done: client retries with the same Idempotency-Key, records re-produced
  to the topic, the consumer group's offsets moved back. Instantaneous.
* ``failpoint``: arms a named failpoint inside a system process (see
  :data:`FAILPOINTS`); it fires on the n-th hit or with a probability. Heal
  disarms it (and starts the process again if the failpoint crashed it).

:func:`check_target` and :func:`check_params` raise :class:`CatalogError`,
whose ``field`` is the offending key below the step (``params.latency_ms``,
``target``) and whose message is a sentence fragment with the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from wiber_harness.scenario.targets import All, NodeTarget, Target, TargetKind

Category = Literal["process", "link", "duplicate", "failpoint"]
ParamType = Literal["int", "float", "str", "choice"]
CATEGORIES: tuple[Category, ...] = ("process", "link", "duplicate", "failpoint")

# Failpoints of the system (wiber.failpoints.POINTS), with the role whose
# process has them. Kept here, in one place, so validation rejects a typo
# before a 60 s run silently does nothing; a unit test keeps it in sync.
FAILPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "consumer.after_poll": "consumer",
        "consumer.before_store": "consumer",
        "consumer.after_store_before_commit": "consumer",
        "consumer.after_commit": "consumer",
        "api.before_produce": "api",
        "api.after_ack_before_response": "api",
    }
)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class CatalogError(ValueError):
    """A step does not fit its fault kind. ``field`` is relative to the step."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Param:
    """One parameter of a fault kind. ``default=None`` with ``required`` means no default."""

    name: str
    type: ParamType
    description: str
    default: int | float | str | None = None
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        bounds = ""
        if self.choices:
            bounds = "|".join(self.choices)
        elif self.min is not None or self.max is not None:
            lo = "" if self.min is None else _num(self.min)
            hi = "" if self.max is None else _num(self.max)
            bounds = f"{lo}..{hi}"
        default = (
            "required"
            if self.required
            else f"default {self.default}"
            if self.default is not None
            else "optional"
        )
        return f"{self.name} ({self.type}{', ' + bounds if bounds else ''}; {default}): {self.description}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "required": self.required,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
        }


@dataclass(frozen=True)
class FaultKind:
    """A fault kind: what it does, what it hits, how it heals."""

    name: str
    category: Category
    description: str
    targets: frozenset[TargetKind]
    example: str
    heal: str | None  # what healing does; None: instantaneous, no heal step
    roles: frozenset[str] = frozenset()  # process targets: allowed roles (empty: any)
    params: tuple[Param, ...] = ()
    # groups of parameters of which at most one may be given
    exclusive: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def healable(self) -> bool:
        return self.heal is not None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def signature(self) -> str:
        args = ", ".join(
            p.name if p.required else f"{p.name}={p.default}"
            for p in self.params
            if p.required or p.default is not None
        )
        return f"{self.name}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "targets": sorted(self.targets),
            "roles": sorted(self.roles),
            "example": self.example,
            "heal": self.heal,
            "params": [p.to_dict() for p in self.params],
        }


_STREAM = Param(
    "stream",
    "choice",
    "direction(s) the toxic acts on",
    "both",
    choices=("upstream", "downstream", "both"),
)
_TOXICITY = Param(
    "toxicity", "float", "probability that a connection is affected", 1.0, min=0.0, max=1.0
)
_PROC: frozenset[TargetKind] = frozenset({"process"})
_LINK: frozenset[TargetKind] = frozenset({"link"})
_WORKLOAD: frozenset[TargetKind] = frozenset({"workload"})
_GROUP: frozenset[TargetKind] = frozenset({"group"})
_ALL_ROLES = frozenset({"kafka", "consumer", "api", "store"})


def _toxic(name: str, description: str, example: str, *params: Param) -> FaultKind:
    return FaultKind(
        name,
        "link",
        description,
        _LINK,
        example,
        "remove the toxic",
        params=(*params, _STREAM, _TOXICITY),
    )


_KINDS: tuple[FaultKind, ...] = (
    FaultKind(
        "kill",
        "process",
        "SIGKILL the process group (crash, no clean shutdown)",
        _PROC,
        "kafka.leader(partition=0)",
        "start it again",
        _ALL_ROLES,
    ),
    FaultKind(
        "stop",
        "process",
        "SIGTERM the process (graceful shutdown, SIGKILL after a grace period)",
        _PROC,
        "kafka.1",
        "start it again",
        _ALL_ROLES,
    ),
    FaultKind(
        "pause",
        "process",
        "SIGSTOP the process (a GC pause or a hung VM)",
        _PROC,
        "kafka.random",
        "SIGCONT (resume)",
        _ALL_ROLES,
    ),
    FaultKind(
        "restart",
        "process",
        "stop and start the process at once",
        _PROC,
        "kafka.controller",
        None,
        _ALL_ROLES,
    ),
    FaultKind(
        "rolling_restart",
        "process",
        "restart each targeted broker in turn, waiting until it is ready before the next",
        _PROC,
        "kafka.all",
        None,
        frozenset({"kafka"}),
        (
            Param(
                "interval_s",
                "float",
                "pause between one broker being ready and the next restart",
                5.0,
                min=0.0,
                max=300.0,
            ),
        ),
    ),
    FaultKind(
        "partition",
        "link",
        "disable the proxy: the link refuses and drops connections",
        _LINK,
        "links(kafka.1)",
        "enable the proxy",
    ),
    _toxic(
        "latency",
        "add latency (with jitter) to every packet",
        "link(consumer, kafka.all)",
        Param("latency_ms", "int", "added delay", 100, min=0, max=60_000),
        Param("jitter_ms", "int", "random +/- variation of the delay", 0, min=0, max=60_000),
    ),
    _toxic(
        "bandwidth",
        "limit the bandwidth",
        "link(api, kafka.all)",
        Param("rate_kbps", "int", "kilobytes per second", 64, min=1, max=10_000_000),
    ),
    _toxic(
        "timeout",
        "stop all data and close the connection after a timeout (0: never close)",
        "link(api, kafka.leader(partition=0))",
        Param("timeout_ms", "int", "time before the connection is closed", 0, min=0, max=600_000),
    ),
    _toxic(
        "reset_peer",
        "reset connections with TCP RST after a timeout",
        "link(consumer, store)",
        Param("timeout_ms", "int", "time before the reset", 0, min=0, max=600_000),
    ),
    _toxic(
        "slow_close",
        "delay the closing of connections",
        "link(api, store)",
        Param("delay_ms", "int", "delay before the close is passed on", 1000, min=0, max=600_000),
    ),
    _toxic(
        "slicer",
        "slice data into small packets with a delay between them",
        "link(consumer, kafka.1)",
        Param("average_size", "int", "average packet size in bytes", 64, min=1, max=1_000_000),
        Param(
            "size_variation",
            "int",
            "variation of the packet size in bytes (< average_size)",
            32,
            min=0,
            max=1_000_000,
        ),
        Param(
            "delay_us", "int", "delay between packets in microseconds", 10, min=0, max=10_000_000
        ),
    ),
    _toxic(
        "limit_data",
        "close the connection after a number of bytes",
        "link(api, kafka.1)",
        Param("bytes", "int", "bytes let through before the close", 65536, min=0, max=10**12),
    ),
    FaultKind(
        "isolate",
        "link",
        "cut a broker off from every peer: its client links and, where the backend can, other brokers",
        _PROC,
        "kafka.leader(partition=0)",
        "rejoin",
        frozenset({"kafka"}),
    ),
    FaultKind(
        "duplicate_retry",
        "duplicate",
        "re-send already-acknowledged requests with the same Idempotency-Key (client retries)",
        _WORKLOAD,
        "workload",
        None,
        params=(Param("count", "int", "requests to re-send", 100, min=1, max=1_000_000),),
    ),
    FaultKind(
        "duplicate_replay",
        "duplicate",
        "re-produce already-sent records straight to the topic (producer retries)",
        _WORKLOAD,
        "workload",
        None,
        params=(Param("count", "int", "records to re-produce", 100, min=1, max=1_000_000),),
    ),
    FaultKind(
        "offset_rewind",
        "duplicate",
        "stop the consumers, move the group's offsets back, start them again (redelivery)",
        _GROUP,
        "consumers",
        None,
        params=(
            Param("by", "int", "records to move back per partition", None, min=1, max=10**9),
            Param(
                "to",
                "choice",
                "rewind to the start of every partition",
                None,
                choices=("earliest",),
            ),
        ),
        exclusive=(("by", "to"),),
    ),
    FaultKind(
        "failpoint",
        "failpoint",
        "arm a named failpoint inside a system process",
        _PROC,
        "consumer.any",
        "disarm it (and start the process again if it crashed)",
        frozenset({"consumer", "api"}),
        (
            Param(
                "name", "choice", "which failpoint", None, required=True, choices=tuple(FAILPOINTS)
            ),
            Param(
                "action",
                "choice",
                "what happens when it fires",
                "crash",
                choices=("crash", "hang", "raise", "delay"),
            ),
            Param(
                "delay_ms", "int", "sleep this long when action is delay", None, min=1, max=600_000
            ),
            Param("hit", "int", "fire on the n-th hit (default 1)", None, min=1, max=10**9),
            Param(
                "probability",
                "float",
                "fire on each hit with this probability",
                None,
                min=0.0,
                max=1.0,
            ),
        ),
        exclusive=(("hit", "probability"),),
    ),
)

CATALOG: Mapping[str, FaultKind] = MappingProxyType({k.name: k for k in _KINDS})

# Where a step may leave `target` out: kinds that have only one sensible target.
DEFAULT_TARGETS: Mapping[str, str] = MappingProxyType(
    {
        "duplicate_retry": "workload",
        "duplicate_replay": "workload",
        "offset_rewind": "consumers",
        "rolling_restart": "kafka.all",
    }
)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def fault_kind(name: str) -> FaultKind:
    """The kind called ``name``; raises :class:`CatalogError` with a suggestion."""
    kind = CATALOG.get(name)
    if kind is None:
        raise CatalogError(
            "fault",
            f"unknown fault '{name}'; {_suggest(name, list(CATALOG))}use one of {', '.join(CATALOG)} "
            "(see 'wiber-harness faults')",
        )
    return kind


_TARGET_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "process": "a process target",
        "link": "a link target",
        "workload": "the target 'workload'",
        "group": "the target 'consumers'",
    }
)


def check_target(kind: FaultKind, target: Target) -> None:
    """Raise :class:`CatalogError` unless ``kind`` can hit ``target``."""
    if target.kind not in kind.targets:
        wanted = " or ".join(_TARGET_WORDS[k] for k in sorted(kind.targets))
        hint = ""
        if target.kind == "link" and kind.category == "process":
            hint = "; to cut a link use fault: partition"
        elif (
            target.kind == "process" and kind.category == "link" and isinstance(target, NodeTarget)
        ):
            hint = f"; to cut {target} off from its clients write links({target}) or use fault: isolate"
        raise CatalogError(
            "target",
            f"{kind.name} needs {wanted} such as '{kind.example}', not the {target.kind} target '{target}'{hint}",
        )
    if isinstance(target, NodeTarget) and kind.roles and target.role not in kind.roles:
        raise CatalogError(
            "target",
            f"{kind.name} works on {' or '.join(sorted(kind.roles))} nodes, not '{target}'; "
            f"for example '{kind.example}'",
        )
    if (
        kind.name == "rolling_restart"
        and isinstance(target, NodeTarget)
        and not isinstance(target.select, All)
    ):
        raise CatalogError(
            "target",
            f"rolling_restart restarts several brokers in turn; write target: kafka.all, not '{target}'",
        )


def _check_value(kind: FaultKind, p: Param, value: object) -> int | float | str:
    where = f"{kind.name} parameter '{p.name}'"
    if p.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CatalogError(f"params.{p.name}", f"{where} must be a whole number, not {value!r}")
        num: int | float = value
    elif p.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogError(f"params.{p.name}", f"{where} must be a number, not {value!r}")
        num = float(value)
    else:
        if not isinstance(value, str):
            raise CatalogError(f"params.{p.name}", f"{where} must be a string, not {value!r}")
        if p.choices and value not in p.choices:
            raise CatalogError(
                f"params.{p.name}",
                f"{where} is '{value}'; {_suggest(value, list(p.choices))}use one of {', '.join(p.choices)}",
            )
        return value
    if p.min is not None and num < p.min:
        raise CatalogError(
            f"params.{p.name}",
            f"{where} is {value}, below its minimum {_num(p.min)}; use at least {_num(p.min)}",
        )
    if p.max is not None and num > p.max:
        raise CatalogError(
            f"params.{p.name}",
            f"{where} is {value}, above its maximum {_num(p.max)}; use at most {_num(p.max)}",
        )
    return num


def check_params(
    kind: FaultKind, params: Mapping[str, object], target: Target | None = None
) -> dict[str, Any]:
    """Validate ``params`` for ``kind``; return them with defaults filled in.

    ``target`` (when known) lets failpoints check that the failpoint lives in
    the targeted role.
    """
    out: dict[str, Any] = {}
    names = [p.name for p in kind.params]
    for key in params:
        if key not in names:
            allowed = (
                f"use {', '.join(names)}" if names else f"{kind.name} takes no params; remove them"
            )
            raise CatalogError(
                f"params.{key}",
                f"{kind.name} has no parameter '{key}'; {_suggest(key, names)}{allowed}",
            )
    for group in kind.exclusive:
        given = [g for g in group if params.get(g) is not None]
        if len(given) > 1:
            raise CatalogError(
                f"params.{given[1]}", f"give only one of {' or '.join(group)}, not both"
            )
    for p in kind.params:
        value = params.get(p.name)
        if value is None:
            if p.required:
                raise CatalogError(
                    f"params.{p.name}",
                    f"{kind.name} needs params.{p.name}"
                    + (f" (one of {', '.join(p.choices)})" if p.choices else "")
                    + "; add it",
                )
            if p.default is not None:
                out[p.name] = p.default
            continue
        out[p.name] = _check_value(kind, p, value)
    if kind.name == "slicer" and out["size_variation"] >= out["average_size"]:
        raise CatalogError(
            "params.size_variation", "slicer size_variation must be smaller than average_size"
        )
    if kind.name == "offset_rewind" and "by" not in out and "to" not in out:
        raise CatalogError(
            "params", "offset_rewind needs params.by (records per partition) or params.to: earliest"
        )
    if kind.name == "failpoint":
        _check_failpoint(out)
    if kind.name == "failpoint" and isinstance(target, NodeTarget):
        role = FAILPOINTS[out["name"]]
        if role != target.role:
            raise CatalogError(
                "target",
                f"failpoint {out['name']} lives in the {role} process, not in '{target}'; target {role}.any or {role}.1",
            )
    return out


def _check_failpoint(out: dict[str, Any]) -> None:
    if "hit" not in out and "probability" not in out:
        out["hit"] = 1  # not a plain default: it must not clash with an explicit probability
    if out["action"] == "delay" and "delay_ms" not in out:
        raise CatalogError(
            "params.delay_ms", "failpoint action delay needs params.delay_ms; add it"
        )
    if out["action"] != "delay" and "delay_ms" in out:
        raise CatalogError(
            "params.delay_ms",
            f"delay_ms only applies to action delay, not {out['action']}; remove it",
        )


def kinds(category: Category | None = None) -> list[FaultKind]:
    """Every fault kind (of one category), in catalog order."""
    return [k for k in _KINDS if category is None or k.category == category]


__all__ = [
    "CATALOG",
    "CATEGORIES",
    "DEFAULT_TARGETS",
    "FAILPOINTS",
    "CatalogError",
    "Category",
    "FaultKind",
    "Param",
    "ParamType",
    "check_params",
    "check_target",
    "fault_kind",
    "kinds",
]
