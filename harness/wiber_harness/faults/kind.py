"""The contract of a fault kind: one object holds its catalog entry and its behaviour.

Every module in :mod:`wiber_harness.faults.kinds` defines ``KINDS``, a tuple
of :class:`Kind` objects; :mod:`wiber_harness.faults.registry` finds them, so
adding a kind is adding a module. A :class:`Kind` holds, for one kind:

* ``entry``: its catalog entry (:class:`~wiber_harness.faults.entry.FaultKind`:
  description, targets, heal, parameters);
* ``rank``: its place in listings (``wiber-harness faults``, ``kinds()``):
  process kinds 100s, link kinds 200s, duplicates 300s, failpoints 400s;
* ``default_target``: the target a step may leave out (None: it must name one);
* :meth:`Kind.check_target` and :meth:`Kind.check_params`: the kind's own
  rules, run after the generic ones of :mod:`~wiber_harness.faults.catalog`;
* :meth:`Kind.inject` and :meth:`Kind.heal`: what the nemesis calls, in a
  worker thread, holding the locks of the resolved names; they return
  evidence (a dict whose ``effective`` says whether the fault took effect,
  with a ``reason`` when it did not);
* ``explore``: how ``wiber-harness explore`` draws it (:class:`Explorable`),
  or None when explore never draws it.

A :class:`WorkloadKind` acts through the harness's own clients on the event
loop instead of on the cluster: it is not resolved, locked or healed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from wiber_harness.cluster.base import Cluster
from wiber_harness.errors import FaultError
from wiber_harness.faults.entry import FaultKind
from wiber_harness.scenario.targets import Target

if TYPE_CHECKING:  # scenario imports the catalog, which imports this module
    from wiber_harness.scenario import FaultStep

T = TypeVar("T")
Evidence = dict[str, Any]
DrawnParams = tuple[tuple[str, Any], ...]


@dataclass
class ActiveFault:
    """A fault the nemesis injected: its step, the names it resolved to, the inject's evidence."""

    step: FaultStep
    resolved: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    healed: bool = False

    @property
    def fid(self) -> str:
        """The fault's id in the history (the step's id, else its kind)."""
        return self.step.id or self.step.fault


@dataclass(frozen=True)
class FaultContext:
    """What a kind acts on: the cluster and the run's seeded RNG."""

    cluster: Cluster
    rng: random.Random


class WorkloadClient(Protocol):
    """The harness's workload as a workload kind uses it."""

    async def retry_acknowledged(self, count: int) -> dict[str, Any]:
        """Re-send ``count`` acknowledged requests with their Idempotency-Key; the evidence."""
        ...


def per_target(evs: dict[str, dict[str, Any]]) -> Evidence:
    """Per-target evidence; effective only if every target shows the effect."""
    bad = [k for k, v in evs.items() if not v.get("effective", True)]
    out: dict[str, Any] = {"nodes": evs, "effective": not bad}
    if bad:
        reasons = "; ".join(f"{k}: {evs[k].get('reason', 'no effect seen')}" for k in bad)
        out["reason"] = reasons
    return out


# --- what explore needs to draw a kind ----------------------------------------------


class Draw(Protocol):
    """The two primitives a schedule is drawn with (random.Random or hypothesis)."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...


class Shape(Protocol):
    """The topology explore draws targets for."""

    @property
    def consumers(self) -> int: ...

    @property
    def apis(self) -> int: ...


def no_params(draw: Draw) -> DrawnParams:
    """Draw nothing: the kind's defaults."""
    return ()


def no_resource(target: str) -> str | None:
    """The fault occupies nothing: it may overlap any other."""
    return None


@dataclass(frozen=True)
class Explorable:
    """How explore draws a kind.

    ``families``: the ``--faults`` words that include it (its own name, and
    a group such as ``duplicate``). ``targets``: the target specs it is drawn
    from (repeats weight the draw). ``params``: its drawn parameters.
    ``resource``: what it occupies, from its target spec (two faults on one
    resource are never in effect at once; None: nothing). ``settles``: after
    its heal the resource stays busy a gap longer (a process coming back).
    ``lingers``: although instantaneous, it occupies its resource a while
    (a restart, a rewind that stops and starts consumers).
    """

    families: tuple[str, ...]
    targets: Callable[[Shape], tuple[str, ...]]
    params: Callable[[Draw], DrawnParams] = no_params
    resource: Callable[[str], str | None] = no_resource
    settles: bool = False
    lingers: bool = False


# --- the kind ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One fault kind: catalog entry, validation, inject, heal, explore (see the module doc)."""

    entry: FaultKind
    rank: int
    default_target: str | None = None
    explore: Explorable | None = None

    @property
    def name(self) -> str:
        return self.entry.name

    def check_target(self, target: Target) -> None:
        """Raise CatalogError when the kind's own rules reject ``target`` (generic rules passed)."""

    def check_params(self, params: dict[str, Any], target: Target | None) -> None:
        """Raise CatalogError when the kind's own rules reject ``params`` (defaults filled in).

        May fill in values that are not plain defaults; ``target`` is None when
        not known.
        """

    def inject(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        """Inject the fault on ``fault.resolved``; the evidence (blocking, in a worker thread)."""
        raise FaultError(f"the nemesis does not know how to inject {self.name!r}")

    def heal(self, ctx: FaultContext, fault: ActiveFault) -> Evidence:
        """Undo the fault on ``fault.resolved``; the evidence (blocking, in a worker thread)."""
        raise FaultError(f"the nemesis does not know how to heal {self.name!r}")


@dataclass(frozen=True)
class WorkloadKind(Kind):
    """A kind the harness's own clients carry out on the event loop (instantaneous)."""

    async def inject_workload(
        self, workload: WorkloadClient, params: Mapping[str, Any]
    ) -> Evidence:
        """Inject through ``workload``; the evidence."""
        raise FaultError(f"the nemesis does not know how to inject {self.name!r}")


__all__ = [
    "ActiveFault",
    "Draw",
    "DrawnParams",
    "Evidence",
    "Explorable",
    "FaultContext",
    "Kind",
    "Shape",
    "WorkloadClient",
    "WorkloadKind",
    "no_params",
    "no_resource",
    "per_target",
]
