"""Field types of the scenario schema, each validated on its own.

* :data:`Int`, :data:`Number`: strict numbers (YAML gives real types, so
  ``"10"`` or ``true`` for a number is a mistake);
* :data:`TargetField`: a target spec (:mod:`wiber_harness.scenario.targets`),
  parsed on load and written back as its text;
* :data:`ThresholdField`: a metric bound ``"<= 30"``
  (:class:`~wiber_harness.scenario.expect.Threshold`), written back as text;
* :func:`setting`: one system-setting override checked against
  :data:`~wiber_harness.scenario.vocab.SYSTEM_SETTINGS` and made canonical;
  :func:`check_overrides` does it for the ``--set`` pairs of a command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import PlainSerializer, PlainValidator, Strict

from wiber_harness.errors import InvalidScenario
from wiber_harness.printable import clip, shown
from wiber_harness.scenario.expect import Threshold, parse_threshold
from wiber_harness.scenario.messages import problem as _problem
from wiber_harness.scenario.messages import suggest as _suggest
from wiber_harness.scenario.targets import (
    GroupTarget,
    LinksOf,
    LinkTarget,
    NodeTarget,
    Target,
    WorkloadTarget,
    parse,
)
from wiber_harness.scenario.vocab import SYSTEM_SETTINGS

_SETTING_FORMS = {
    "int": re.compile(r"-?[0-9]+"),
    "float": re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?"),
    "bool": re.compile(r"true|false"),
    "str": re.compile(r".*"),
}
_SETTING_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
}


def setting(key: str, value: object) -> tuple[str, str]:
    """Canonical (env name, env value) of one override; ValueError says what is wrong."""
    name = key.upper() if key.upper().startswith("WIBER_") else f"WIBER_{key.upper()}"
    spec = SYSTEM_SETTINGS.get(name)
    if spec is None:
        raise ValueError(
            f"unknown system setting '{clip(key)}'; {_suggest(name, SYSTEM_SETTINGS)}"
            f"settings a scenario can change are {', '.join(SYSTEM_SETTINGS)}"
        )
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value).strip()
    else:
        raise ValueError(
            f"{name} must be a single value (text, number or true/false), not {shown(value)}"
        )
    if spec.type in ("bool", "str") or spec.choices:
        text = text.lower()
    if not _SETTING_FORMS[spec.type].fullmatch(text) or (spec.choices and text not in spec.choices):
        choices = ", ".join(spec.choices) if spec.choices else _SETTING_WORDS[spec.type]
        raise ValueError(
            f"{name} is {shown(value)}; {_suggest(text, spec.choices) if spec.choices else ''}"
            f"use {'one of ' if spec.choices else ''}{choices}"
        )
    return name, text


def check_overrides(settings: Mapping[str, str], option: str, own: bool) -> dict[str, str]:
    """Settings given on a command line (``--set``), checked before anything starts.

    ``own``: the system is Wiber's own, so every name must be one of
    :data:`SYSTEM_SETTINGS` (``producer_acks`` is taken as
    ``WIBER_PRODUCER_ACKS``). Otherwise only ``WIBER_*`` names are checked;
    another implementation's own names pass as given. Values are checked and
    made canonical as in a scenario's ``topology.settings``. Every problem is
    one sentence; all of them are raised together as InvalidScenario.
    """
    out: dict[str, str] = {}
    problems: list[str] = []
    for key, value in settings.items():
        if not own and not key.upper().startswith("WIBER_"):
            out[key] = value
            continue
        try:
            name, text = setting(key, value)
        except ValueError as e:
            problems.append(f"{option} {clip(key)}={clip(value)}: {e}")
            continue
        out[name] = text
    if problems:
        raise InvalidScenario("\n".join(problems))
    return out


# Strict numbers: YAML gives real types, so "10" or `true` for a number is a mistake.
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
TARGET_TYPES = (NodeTarget, LinkTarget, LinksOf, WorkloadTarget, GroupTarget)


def _target_in(value: object) -> Target:
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, TARGET_TYPES):
        return value
    raise ValueError(f"must be a target spec string, not {shown(value)}")


TargetField = Annotated[Target, PlainValidator(_target_in), PlainSerializer(str, return_type=str)]


def _threshold_in(value: object) -> Threshold:
    try:
        return parse_threshold(value)
    except ValueError as e:
        raise _problem("", str(e)) from None


ThresholdField = Annotated[
    Threshold, PlainValidator(_threshold_in), PlainSerializer(str, return_type=str)
]


__all__ = [
    "TARGET_TYPES",
    "Int",
    "Number",
    "TargetField",
    "ThresholdField",
    "check_overrides",
    "setting",
]
