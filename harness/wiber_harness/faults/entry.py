"""A fault kind's catalog entry: what it does, what it hits, how it heals, its parameters.

:class:`FaultKind` and :class:`Param` are data; :func:`check_value` checks one
parameter value against its :class:`Param` (type, bounds, choices). Every
check raises :class:`CatalogError`, whose ``field`` is the offending key
below the step (``params.latency_ms``, ``target``) and whose message is a
sentence fragment with the fix. The kinds themselves live in
:mod:`wiber_harness.faults.kinds`; :mod:`wiber_harness.faults.catalog` is
the public face of the whole set.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from wiber_harness.printable import shown
from wiber_harness.scenario.targets import TargetKind

Category = Literal["process", "link", "duplicate", "failpoint"]
ParamType = Literal["int", "float", "str", "choice"]
CATEGORIES: tuple[Category, ...] = ("process", "link", "duplicate", "failpoint")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def suggest(word: str, choices: list[str]) -> str:
    """``did you mean 'X'? `` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


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
        return (
            f"{self.name} ({self.type}{', ' + bounds if bounds else ''}; {default}): "
            f"{self.description}"
        )

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


def check_value(kind: FaultKind, p: Param, value: object) -> int | float | str:
    """``value`` as parameter ``p`` of ``kind`` (a float param gives a float); else CatalogError."""
    where = f"{kind.name} parameter '{p.name}'"
    if p.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CatalogError(
                f"params.{p.name}", f"{where} must be a whole number, not {shown(value)}"
            )
        num: int | float = value
    elif p.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogError(f"params.{p.name}", f"{where} must be a number, not {shown(value)}")
        num = float(value)
    else:
        if not isinstance(value, str):
            raise CatalogError(f"params.{p.name}", f"{where} must be a string, not {shown(value)}")
        if p.choices and value not in p.choices:
            raise CatalogError(
                f"params.{p.name}",
                f"{where} is {shown(value)}; {suggest(value, list(p.choices))}"
                f"use one of {', '.join(p.choices)}",
            )
        return value
    if p.min is not None and num < p.min:
        raise CatalogError(
            f"params.{p.name}",
            f"{where} is {shown(value)}, below its minimum {_num(p.min)}; "
            f"use at least {_num(p.min)}",
        )
    if p.max is not None and num > p.max:
        raise CatalogError(
            f"params.{p.name}",
            f"{where} is {shown(value)}, above its maximum {_num(p.max)}; "
            f"use at most {_num(p.max)}",
        )
    return num


__all__ = [
    "CATEGORIES",
    "CatalogError",
    "Category",
    "FaultKind",
    "Param",
    "ParamType",
    "check_value",
    "suggest",
]
