"""The registry of fault kinds, found by importing every module of ``faults/kinds``.

Discovery (:func:`discover`) walks the ``kinds`` package with ``pkgutil``,
imports each module whose name does not start with ``_`` and collects its
``KINDS`` tuple of :class:`~wiber_harness.faults.kind.Kind`. A module without
``KINDS``, an object that is not a ``Kind``, or two kinds with one name stop
the import with :class:`RegistryError` (a broken kind must not silently drop
out of the catalog). Kinds are ordered by ``rank``, then name: that order is
the catalog's, the listing's and explore's.

:data:`REGISTRY` maps each name to its kind; :func:`families` gives explore's
fault families. Everything else (validation, the nemesis, explore) asks here
instead of naming kinds.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType, ModuleType

from wiber_harness.errors import FaultError
from wiber_harness.faults import kinds as kinds_package
from wiber_harness.faults.kind import Explorable, Kind


class RegistryError(ImportError):
    """A module of ``faults/kinds`` does not define its kinds properly."""


def _kinds_of(module: ModuleType) -> tuple[Kind, ...]:
    found = getattr(module, "KINDS", None)
    if not isinstance(found, tuple) or not found:
        raise RegistryError(
            f"{module.__name__} defines no KINDS; every module of "
            f"{kinds_package.__name__} must define KINDS, a non-empty tuple of Kind "
            "(start the module name with '_' for a helper module)"
        )
    bad = [k for k in found if not isinstance(k, Kind)]
    if bad:
        raise RegistryError(
            f"{module.__name__}.KINDS holds {bad[0]!r}, which is not a "
            "wiber_harness.faults.kind.Kind"
        )
    return found


def discover(package: ModuleType = kinds_package) -> tuple[Kind, ...]:
    """Every kind of every module of ``package``, in (rank, name) order."""
    found: dict[str, tuple[Kind, str]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for kind in _kinds_of(module):
            if kind.name in found:
                raise RegistryError(
                    f"fault kind {kind.name!r} is defined by both {found[kind.name][1]} and "
                    f"{module.__name__}; rename one"
                )
            found[kind.name] = (kind, module.__name__)
    return tuple(sorted((k for k, _ in found.values()), key=lambda k: (k.rank, k.name)))


KINDS: tuple[Kind, ...] = discover()
REGISTRY: Mapping[str, Kind] = MappingProxyType({k.name: k for k in KINDS})


def implementation(name: str) -> Kind:
    """The kind called ``name`` (FaultError when there is none)."""
    kind = REGISTRY.get(name)
    if kind is None:
        raise FaultError(f"the nemesis does not know the fault kind {name!r}")
    return kind


def explorable(name: str) -> Explorable | None:
    """How explore draws kind ``name`` (None: explore never draws it, or no such kind)."""
    kind = REGISTRY.get(name)
    return None if kind is None else kind.explore


def families() -> dict[str, tuple[str, ...]]:
    """Explore's fault families: each ``--faults`` word and its kinds, in catalog order."""
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        for family in kind.explore.families if kind.explore is not None else ():
            out.setdefault(family, []).append(kind.name)
    return {family: tuple(names) for family, names in out.items()}


__all__ = [
    "KINDS",
    "REGISTRY",
    "RegistryError",
    "discover",
    "explorable",
    "families",
    "implementation",
]
