"""The catalog of fault kinds: the vocabulary of a scenario's timeline.

Each :class:`FaultKind` says what a fault does, which targets it takes, what
healing it means and which parameters it has (type, default, bounds).
Validation (:mod:`wiber_harness.scenario`) checks every timeline step against
it before anything starts, ``wiber-harness faults`` prints it, and the
nemesis carries each kind out. The kinds themselves (entry, validation,
inject, heal, explore) live one family per module in
:mod:`wiber_harness.faults.kinds`, found by :mod:`wiber_harness.faults.registry`;
this module is their public face.

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

:func:`check_target` and :func:`check_params` run the generic rules, then
the kind's own, and raise :class:`CatalogError`, whose ``field`` is the
offending key below the step (``params.latency_ms``, ``target``) and whose
message is a sentence fragment with the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from wiber_harness.faults.entry import (
    CATEGORIES,
    CatalogError,
    Category,
    FaultKind,
    Param,
    ParamType,
    check_value,
    suggest,
)
from wiber_harness.faults.kinds.failpoint import FAILPOINTS
from wiber_harness.faults.registry import KINDS, REGISTRY
from wiber_harness.printable import clip
from wiber_harness.scenario.targets import NodeTarget, Target

CATALOG: Mapping[str, FaultKind] = MappingProxyType({k.name: k.entry for k in KINDS})

# Where a step may leave `target` out: kinds that have only one sensible target.
DEFAULT_TARGETS: Mapping[str, str] = MappingProxyType(
    {k.name: k.default_target for k in KINDS if k.default_target is not None}
)


def fault_kind(name: str) -> FaultKind:
    """The kind called ``name``; raises :class:`CatalogError` with a suggestion."""
    kind = CATALOG.get(name)
    if kind is None:
        raise CatalogError(
            "fault",
            f"unknown fault '{clip(name)}'; {suggest(name, list(CATALOG))}"
            f"use one of {', '.join(CATALOG)} (see 'wiber-harness faults')",
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
            hint = (
                f"; to cut {target} off from its clients write links({target}) "
                "or use fault: isolate"
            )
        raise CatalogError(
            "target",
            f"{kind.name} needs {wanted} such as '{kind.example}', "
            f"not the {target.kind} target '{target}'{hint}",
        )
    if isinstance(target, NodeTarget) and kind.roles and target.role not in kind.roles:
        raise CatalogError(
            "target",
            f"{kind.name} works on {' or '.join(sorted(kind.roles))} nodes, not '{target}'; "
            f"for example '{kind.example}'",
        )
    impl = REGISTRY.get(kind.name)
    if impl is not None:
        impl.check_target(target)


def check_params(
    kind: FaultKind, params: Mapping[str, object], target: Target | None = None
) -> dict[str, Any]:
    """Validate ``params`` for ``kind``; return them with defaults filled in.

    ``target`` (when known) lets a kind check the parameters against it
    (failpoints: that the failpoint lives in the targeted role).
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
                f"{kind.name} has no parameter '{key}'; {suggest(key, names)}{allowed}",
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
        out[p.name] = check_value(kind, p, value)
    impl = REGISTRY.get(kind.name)
    if impl is not None:
        impl.check_params(out, target)
    return out


def kinds(category: Category | None = None) -> list[FaultKind]:
    """Every fault kind (of one category), in catalog order."""
    return [k.entry for k in KINDS if category is None or k.entry.category == category]


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
