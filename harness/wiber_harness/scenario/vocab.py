"""The words a scenario may use, each taken from the code that defines it.

Nothing here is a copy, so a rename where a word is defined reaches
validation without an edit here:

* :data:`SYSTEM_SETTINGS`: the settings of ``wiber.settings.TUNABLE``
  under their env names, each with its type and choices (from the
  ``Settings`` field's annotation) and its unsafe values
  (``wiber.settings.UNSAFE_VALUES``);
* :data:`CHECKERS`: the names of ``wiber_harness.checkers.suite.CHECKERS``;
* :data:`METRICS`: ``wiber_harness.metrics.THRESHOLD_METRICS``, the figures
  ``threshold_metrics`` computes (name -> what it measures);
* :data:`FAULT_KINDS`: ``wiber_harness.faults.catalog.CATALOG``, and
  :data:`DEFAULT_TARGETS` for the kinds that may omit a target.

:data:`DEFAULT_VALID` is the scenario's own default: the checkers a run
must pass when ``expect.valid`` is not given.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from wiber.settings import ENV_PREFIX, TUNABLE, UNSAFE_VALUES, Settings
from wiber_harness.checkers.suite import CHECKERS as _SUITE
from wiber_harness.faults.catalog import CATALOG, DEFAULT_TARGETS, FaultKind
from wiber_harness.metrics import THRESHOLD_METRICS


@dataclass(frozen=True)
class SettingSpec:
    """A system setting a scenario may override."""

    type: Literal["str", "int", "float", "bool"]
    choices: tuple[str, ...] = ()  # canonical values; empty: any value of the type
    unsafe: tuple[str, ...] = ()  # values that break a promise on purpose


_BOOL = ("true", "false")


def _spec(field: str) -> SettingSpec:
    """The spec of one ``Settings`` field, from its annotation."""
    annotation = Settings.model_fields[field].annotation
    unsafe = UNSAFE_VALUES.get(field, ())
    if typing.get_origin(annotation) is Literal:
        return SettingSpec("str", tuple(str(v) for v in typing.get_args(annotation)), unsafe)
    if annotation is bool:
        return SettingSpec("bool", _BOOL, unsafe)
    if annotation is int:
        return SettingSpec("int", (), unsafe)
    if annotation is float:
        return SettingSpec("float", (), unsafe)
    raise TypeError(f"wiber.settings.{field} is {annotation!r}: not a type a scenario can set")


# env name (WIBER_ + field name upper-cased) -> spec, in wiber.settings.TUNABLE order
SYSTEM_SETTINGS: Mapping[str, SettingSpec] = MappingProxyType(
    {ENV_PREFIX + field.upper(): _spec(field) for field in TUNABLE}
)

CHECKERS: tuple[str, ...] = tuple(_SUITE)
DEFAULT_VALID: tuple[str, ...] = ("delivery", "ordering", "convergence", "redelivery")
METRICS: Mapping[str, str] = THRESHOLD_METRICS
FAULT_KINDS: Mapping[str, FaultKind] = CATALOG

__all__ = [
    "CHECKERS",
    "DEFAULT_TARGETS",
    "DEFAULT_VALID",
    "FAULT_KINDS",
    "METRICS",
    "SYSTEM_SETTINGS",
    "SettingSpec",
]
