"""Scenario files: the schema, loading and complete validation.

A scenario is one YAML file. Everything is validated before anything
starts; every problem becomes one sentence ``FILE: FIELD: what is wrong;
how to fix it`` and all of a file's problems are raised together as one
:class:`~wiber_harness.errors.InvalidScenario` (one sentence per line).

Schema (``*`` = required; unknown keys are errors, with a "did you mean")::

    name*: leader-kill           # [a-z0-9][a-z0-9-]*
    description*: one line saying what the scenario shows
    topology:
      brokers: 3                 # only 3 is supported
      partitions: 6              # 1..64
      consumers: 2               # 1..16
      apis: 1                    # 1..8
      settings: {}               # system settings -> scalar; keys are WIBER_* env
                                 # names or lower-case names (producer_acks);
                                 # known names: SYSTEM_SETTINGS
    workload:
      rate*: 200                 # messages per second, > 0
      duration*: 40              # seconds, > 0
      conversations: 50
      payload_size: 64           # bytes of message content
      concurrency: 256           # max requests in flight
      seed: 1                    # the CLI's --seed overrides it
      batch: 0                   # 0: POST /messages; N: POST /messages/batch of N
    timeline:                    # faults, in any order
      - at*: 10                  # seconds since the workload started, < duration
        fault*: kill             # a kind of wiber_harness.faults.catalog
        target: kafka.leader(partition=0)   # grammar: wiber_harness.scenario.targets;
                                 # optional for duplicate_*, offset_rewind, rolling_restart
        for: 10                  # heal N s after inject, or
        heal_at: 20              # heal at this time; neither: heal in the end phase
        params: {}               # per kind, checked against the catalog (defaults filled in)
        id: kill-leader          # optional; default "<index>-<fault>" (history's `fault`)
    expect:
      valid: [delivery, ordering, convergence]  # checkers that must say valid
      thresholds: {recovery_s: "<= 60"}         # metric -> "<=|<|>=|>|== number"
      violation: false           # unsafe-config scenarios: true = some checker must
                                 # report a violation; [delivery] = each listed
                                 # checker must; then `valid` defaults to []
                                 # (Expect.judge applies all of this)

Cross-field rules: a fault heals inside the workload (``at + for`` or
``heal_at`` <= duration), ``heal_at`` > ``at``, instantaneous kinds (restart,
rolling_restart, duplicate_*, offset_rewind) take no ``for``/``heal_at``,
targets fit the fault's category and exist in the topology (``consumer.3``
with 2 consumers is an error), leader partitions exist, fault ids are unique,
a checker is not both expected valid and expected to flag a violation.

Derived scenarios are validated again: :meth:`Scenario.with_overrides`
(``--seed``, ``--rate``, ``--duration``) and :meth:`Scenario.quick`
(``--quick``: every time scaled by one factor, ~0.4, never below 15 s, so
faults stay inside and keep their order and overlaps). :meth:`Scenario.to_dict`
/ :meth:`Scenario.to_yaml` give the resolved scenario (defaults filled in)
for the run folder; loading it again yields an equal scenario.

Vocabularies kept in one place each: :data:`SYSTEM_SETTINGS` (the tunable
subset of ``wiber.settings``), :data:`CHECKERS` (names of
``wiber_harness.checkers.suite``), :data:`METRICS` (threshold names the
runner must supply to :meth:`Expect.judge`).
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, TypeGuard

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from wiber_harness.checkers.base import Validity
from wiber_harness.errors import InvalidScenario
from wiber_harness.faults.catalog import (
    DEFAULT_TARGETS,
    CatalogError,
    FaultKind,
    check_params,
    check_target,
    fault_kind,
)
from wiber_harness.scenario.targets import (
    GroupTarget,
    Leader,
    LinksOf,
    LinkTarget,
    NodeTarget,
    Target,
    TargetResolutionError,
    TargetSyntaxError,
    TopologyView,
    WorkloadTarget,
    parse,
    resolve,
)

# --- vocabularies kept in one place -----------------------------------------


@dataclass(frozen=True)
class SettingSpec:
    """A system setting a scenario may override."""

    type: Literal["str", "int", "float", "bool"]
    choices: tuple[str, ...] = ()  # canonical values; empty: any value of the type
    unsafe: tuple[str, ...] = ()  # values that break a promise on purpose


_BOOL = ("true", "false")

# The tunable subset of wiber.settings.Settings (env name = WIBER_ + field
# name upper-cased). Addresses, ports, topic, group, log and failpoint
# plumbing are the harness's to set, so a scenario cannot override them.
# This mapping is the one place to fix when the system renames a setting
# (a unit test compares it with wiber.settings).
SYSTEM_SETTINGS: Mapping[str, SettingSpec] = MappingProxyType(
    {
        "WIBER_PRODUCER_ACKS": SettingSpec("str", ("all", "1", "0"), ("1", "0")),
        "WIBER_PRODUCER_IDEMPOTENCE": SettingSpec("bool", _BOOL, ("false",)),
        "WIBER_PRODUCER_LINGER_MS": SettingSpec("int"),
        "WIBER_PRODUCER_BATCH_MESSAGES": SettingSpec("int"),
        "WIBER_PRODUCER_COMPRESSION": SettingSpec("str", ("none", "lz4", "snappy", "zstd", "gzip")),
        "WIBER_PRODUCER_DELIVERY_TIMEOUT_MS": SettingSpec("int"),
        "WIBER_PRODUCER_QUEUE_MAX_MESSAGES": SettingSpec("int"),
        "WIBER_REQUEST_TIMEOUT_S": SettingSpec("float"),
        "WIBER_CONSUMER_BATCH_SIZE": SettingSpec("int"),
        "WIBER_CONSUMER_BATCH_TIMEOUT_MS": SettingSpec("int"),
        "WIBER_CONSUMER_COMMIT_MODE": SettingSpec("str", ("after_store", "auto"), ("auto",)),
        "WIBER_CONSUMER_ON_STORE_ERROR": SettingSpec("str", ("retry", "skip"), ("skip",)),
        "WIBER_CONSUMER_SESSION_TIMEOUT_MS": SettingSpec("int"),
        "WIBER_CONSUMER_MAX_POLL_INTERVAL_MS": SettingSpec("int"),
        "WIBER_CONSUMER_RETRY_MAX_BACKOFF_MS": SettingSpec("int"),
        "WIBER_STORE_UNIQUE_INDEX": SettingSpec("bool", _BOOL, ("false",)),
        "WIBER_STORE_TIMEOUT_MS": SettingSpec("int"),
        "WIBER_PARTITION_KEY": SettingSpec("str", ("conversation", "direction"), ("direction",)),
        "WIBER_MAX_BATCH": SettingSpec("int"),
        "WIBER_MAX_CONTENT_BYTES": SettingSpec("int"),
    }
)


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


def _setting(key: str, value: object) -> tuple[str, str]:
    """Canonical (env name, env value) of one override; ValueError says what is wrong."""
    name = key.upper() if key.upper().startswith("WIBER_") else f"WIBER_{key.upper()}"
    spec = SYSTEM_SETTINGS.get(name)
    if spec is None:
        raise ValueError(
            f"unknown system setting '{key}'; {_suggest(name, SYSTEM_SETTINGS)}"
            f"settings a scenario can change are {', '.join(SYSTEM_SETTINGS)}"
        )
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value).strip()
    else:
        raise ValueError(
            f"{name} must be a single value (text, number or true/false), not {value!r}"
        )
    if spec.type in ("bool", "str") or spec.choices:
        text = text.lower()
    if not _SETTING_FORMS[spec.type].fullmatch(text) or (spec.choices and text not in spec.choices):
        choices = ", ".join(spec.choices) if spec.choices else _SETTING_WORDS[spec.type]
        raise ValueError(
            f"{name} is '{value}'; {_suggest(text, spec.choices) if spec.choices else ''}"
            f"use {'one of ' if spec.choices else ''}{choices}"
        )
    return name, text


# wiber_harness.checkers.suite.CHECKERS by name (a unit test keeps them in sync)
CHECKERS: tuple[str, ...] = ("delivery", "ordering", "convergence", "availability", "redelivery")
DEFAULT_VALID: tuple[str, ...] = ("delivery", "ordering", "convergence")
METRICS: Mapping[str, str] = MappingProxyType(
    {
        "recovery_s": "seconds from a fault's heal until acknowledgements flow again",
        "error_rate": "fraction of sends that failed or were indeterminate",
        "max_gap_s": "longest stretch without an acknowledged send",
        "convergence_s": "time for everything acknowledged to become readable",
        "throughput": "acknowledged messages per second",
        "ack_p50_ms": "median acknowledgement latency",
        "ack_p99_ms": "99th percentile acknowledgement latency",
        "ack_max_ms": "worst acknowledgement latency",
        "e2e_p50_ms": "median send-to-readable latency",
        "e2e_p99_ms": "99th percentile send-to-readable latency",
        "e2e_max_ms": "worst send-to-readable latency",
        "lost": "acknowledged messages never stored",
        "duplicated": "messages stored more than once",
        "unexpected": "stored messages that were never sent",
        "recovered": "indeterminate sends that were stored",
        "ordering_violations": "conversation reads out of write order",
    }
)

QUICK_FACTOR = 0.4  # --quick runs ~2.5x shorter ...
QUICK_MIN_DURATION = 15.0  # ... but never shorter than this (s)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _problem(path: str, detail: str) -> PydanticCustomError:
    """A validation problem at ``path`` below the validator's own location."""
    return PydanticCustomError(
        "wiber", "{detail}", {"problems": [(path, detail)], "detail": detail}
    )


def _problems(items: list[tuple[str, str]]) -> PydanticCustomError:
    return PydanticCustomError("wiber", "{detail}", {"problems": items, "detail": items[0][1]})


# --- field types ------------------------------------------------------------

# Strict numbers: YAML gives real types, so "10" or `true` for a number is a mistake.
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
_TARGET_TYPES = (NodeTarget, LinkTarget, LinksOf, WorkloadTarget, GroupTarget)


def _target_in(value: object) -> Target:
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, _TARGET_TYPES):
        return value
    raise ValueError(f"must be a target spec string, not {value!r}")


TargetField = Annotated[Target, PlainValidator(_target_in), PlainSerializer(str, return_type=str)]


@dataclass(frozen=True)
class Threshold:
    """A bound on a metric, written ``"<= 30"``."""

    op: str
    value: float

    OPS: ClassVar[Mapping[str, Callable[[float, float], bool]]] = MappingProxyType(
        {
            "<=": operator.le,
            "<": operator.lt,
            ">=": operator.ge,
            ">": operator.gt,
            "==": operator.eq,
        }
    )

    def holds(self, measured: float) -> bool:
        return self.OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


_THRESHOLD = re.compile(r"^\s*(<=|>=|==|<|>)\s*(-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_threshold(value: object) -> Threshold:
    """Parse ``"<= 30"``; a bare number is rejected because its direction is ambiguous.

    Raises ``ValueError`` with the fix.
    """
    if isinstance(value, Threshold):
        return value
    m = _THRESHOLD.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(
            f'threshold {value!r} is not a comparison; write it quoted, like "<= 30" or ">= 0.5"'
        )
    return Threshold(m.group(1), float(m.group(2)))


def _threshold_in(value: object) -> Threshold:
    try:
        return parse_threshold(value)
    except ValueError as e:
        raise _problem("", str(e)) from None


ThresholdField = Annotated[
    Threshold, PlainValidator(_threshold_in), PlainSerializer(str, return_type=str)
]


# --- models -----------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def _unknown_keys(cls, data: object) -> list[tuple[str, str]]:
        """Problems for unknown keys (extra_forbidden errors get the same text)."""
        if not isinstance(data, Mapping):
            return []
        names = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        return [(str(k), _unknown_key(cls, str(k))) for k in data if k not in names]


def _unknown_key(model: type[BaseModel], key: str) -> str:
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    return f"unknown key '{key}'; {_suggest(key, allowed)}allowed keys are {', '.join(allowed)}"


class Topology(_Model):
    """The cluster to start."""

    brokers: Int = Field(default=3, description="Kafka brokers (only 3 is supported)")
    partitions: Int = Field(default=6, ge=1, le=64, description="partitions of the topic")
    consumers: Int = Field(default=2, ge=1, le=16, description="consumer processes")
    apis: Int = Field(default=1, ge=1, le=8, description="API processes")
    settings: dict[str, str] = Field(default_factory=dict, description="system settings overrides")

    @field_validator("brokers")
    @classmethod
    def _three(cls, v: int) -> int:
        if v != 3:
            raise _problem("", f"{v} brokers is not supported yet; set brokers: 3 or leave it out")
        return v

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, raw: object) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise _problem("", f"must be a mapping of setting name to value, not {raw!r}")
        out: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        for key, value in raw.items():
            try:
                name, text = _setting(str(key), value)
            except ValueError as e:
                problems.append((str(key), str(e)))
                continue
            if name in out:
                problems.append((str(key), f"{name} is given twice; keep one"))
            out[name] = text
        # the system refuses this combination at start; say so now, not after provisioning
        if (
            out.get("WIBER_PRODUCER_ACKS", "all") != "all"
            and out.get("WIBER_PRODUCER_IDEMPOTENCE") != "false"
        ):
            problems.append(
                (
                    "WIBER_PRODUCER_ACKS",
                    "acks other than all needs WIBER_PRODUCER_IDEMPOTENCE: false as well "
                    "(the idempotent producer requires acks=all); add it",
                )
            )
        if problems:
            raise _problems(problems)
        return out

    def env(self) -> dict[str, str]:
        """The settings as environment variables for the API and consumer processes."""
        return dict(self.settings)

    def unsafe_settings(self) -> dict[str, str]:
        """The overrides that break a promise on purpose (logged loudly by the runner)."""
        return {k: v for k, v in self.settings.items() if v in SYSTEM_SETTINGS[k].unsafe}


class Workload(_Model):
    """The open-loop load."""

    rate: Number = Field(gt=0, le=100_000, description="messages per second")
    duration: Number = Field(gt=0, le=86_400, description="seconds of load")
    conversations: Int = Field(default=50, ge=1, le=1_000_000, description="distinct conversations")
    payload_size: Int = Field(
        default=64, ge=1, le=1_048_576, description="bytes of message content"
    )
    concurrency: Int = Field(default=256, ge=1, le=100_000, description="max requests in flight")
    seed: Int = Field(default=1, description="seed of every random choice")
    batch: Int = Field(
        default=0, ge=0, le=10_000, description="0 for single sends, N for batches of N"
    )


class FaultStep(_Model):
    """One fault of the timeline."""

    id: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="fault id in the history"
    )
    at: Number = Field(ge=0, description="seconds since the workload started")
    fault: str = Field(description="a fault kind (see 'wiber-harness faults')")
    target: TargetField = Field(description="what the fault hits")
    heal_after: Number | None = Field(
        default=None, alias="for", gt=0, description="seconds until the heal"
    )
    heal_at: Number | None = Field(
        default=None, gt=0, description="when to heal, seconds since the workload started"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="kind-specific parameters")

    @model_validator(mode="before")
    @classmethod
    def _against_catalog(cls, data: object) -> object:
        # Catalog checks need several raw fields at once and must fill in
        # defaults, so they run before field validation on a copy.
        if not isinstance(data, Mapping) or not isinstance(data.get("fault"), str):
            return data
        out = dict(data)
        # reported here only if the catalog objects too (this raise hides
        # pydantic's own extra_forbidden errors); otherwise pydantic reports them
        problems: list[tuple[str, str]] = []
        unknown = cls._unknown_keys(data)
        try:
            kind: FaultKind | None = fault_kind(out["fault"])
        except CatalogError as e:
            problems.append((e.field, e.message))
            kind = None
        target: Target | None = None
        raw = out.get("target")
        if raw is None and kind is not None:
            raw = DEFAULT_TARGETS.get(kind.name)
            if raw is None:
                problems.append(
                    ("target", f"{kind.name} needs a target; add target: {kind.example}")
                )
        if isinstance(raw, str):
            try:
                target = parse(raw)
                if kind is not None:
                    check_target(kind, target)
                out["target"] = target
            except TargetSyntaxError as e:
                problems.append(("target", str(e)))
            except CatalogError as e:
                problems.append((e.field, e.message))
        elif raw is not None and not isinstance(raw, _TARGET_TYPES):
            problems.append(("target", f"must be a target spec like 'kafka.1', not {raw!r}"))
        params = out.get("params") if out.get("params") is not None else {}
        if not isinstance(params, Mapping):
            problems.append(
                ("params", f"must be a mapping of parameter name to value, not {params!r}")
            )
        elif kind is not None:
            try:
                out["params"] = check_params(kind, params, target)
            except CatalogError as e:
                problems.append((e.field, e.message))
        if kind is not None:
            problems += _heal_problems(kind, out)
        if problems:
            raise _problems(unknown + problems)
        return out

    @property
    def kind(self) -> FaultKind:
        return fault_kind(self.fault)

    @property
    def heal_time(self) -> float | None:
        """When to heal (s since workload start); None: at the end phase (or never, if instantaneous)."""
        if self.heal_after is not None:
            return self.at + self.heal_after
        return self.heal_at


def _heal_problems(kind: FaultKind, step: Mapping[str, Any]) -> list[tuple[str, str]]:
    hold = step.get("for", step.get("heal_after"))
    heal_at, at = step.get("heal_at"), step.get("at")
    if not kind.healable:
        given = [key for key, value in (("for", hold), ("heal_at", heal_at)) if value is not None]
        return [
            (key, f"{kind.name} is instantaneous and is never healed; remove {key}")
            for key in given
        ]
    if hold is not None and heal_at is not None:
        return [
            (
                "heal_at",
                "give either for (seconds after at) or heal_at (an absolute time), not both",
            )
        ]
    if _is_num(heal_at) and _is_num(at) and heal_at <= at:
        return [
            (
                "heal_at",
                f"heal_at ({heal_at:g}) is not after at ({at:g}); set heal_at > at or use for: N",
            )
        ]
    return []


def _is_num(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


class Expect(_Model):
    """What a correct run looks like."""

    valid: tuple[str, ...] = Field(
        default=DEFAULT_VALID, description="checkers that must report valid"
    )
    thresholds: dict[str, ThresholdField] = Field(default_factory=dict, description="metric bounds")
    violation: Annotated[bool, Strict()] | tuple[str, ...] = Field(
        default=False, description="true or a list of checkers: the run must produce a violation"
    )
    gate_thresholds: Annotated[bool, Strict()] = Field(
        default=True,
        description="false: thresholds are measured and reported but not part of the verdict "
        "(what --quick sets: its scaled times are not what the thresholds were written for)",
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        if isinstance(data, Mapping) and data.get("violation") and "valid" not in data:
            # an unsafe configuration may break more than the promise it targets
            return {**data, "valid": []}
        return data

    @field_validator("valid", mode="after")
    @classmethod
    def _checkers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _known_checkers(v)

    @field_validator("violation", mode="after")
    @classmethod
    def _violation(cls, v: bool | tuple[str, ...]) -> bool | tuple[str, ...]:
        if isinstance(v, tuple):
            if not v:
                raise _problem(
                    "", "an empty list expects nothing; write violation: true or name checkers"
                )
            return _known_checkers(v)
        return v

    @field_validator("thresholds", mode="before")
    @classmethod
    def _metrics(cls, raw: object) -> object:
        if isinstance(raw, Mapping):
            bad = [
                (
                    str(k),
                    f"unknown metric '{k}'; {_suggest(str(k), METRICS)}known metrics are {', '.join(METRICS)}",
                )
                for k in raw
                if k not in METRICS
            ]
            if bad:
                raise _problems(bad)
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        if isinstance(self.violation, tuple):
            both = [c for c in self.valid if c in self.violation]
            if both:
                raise _problem(
                    "valid",
                    f"{both[0]} cannot be both valid and expected to flag a violation; "
                    "remove it from valid or from violation",
                )
        return self

    def judge(
        self, validity: Mapping[str, Validity], metrics: Mapping[str, float | None]
    ) -> tuple[Validity, list[str]]:
        """Did a run meet these expectations? (verdict, one sentence per shortfall).

        ``validity`` maps checker names to their verdicts, ``metrics`` metric
        names to values. ``valid`` checkers must say True; with
        ``violation: true`` at least one checker must say False, with a list
        every listed checker must. A missing or ``"unknown"`` verdict, or a
        missing metric, makes the answer ``"unknown"`` unless something
        already failed (False beats unknown beats True, as for checkers).
        With ``gate_thresholds: false`` a missed or unmeasured threshold is
        only reported: one "not gated: ..." sentence each, verdict unchanged.
        """
        failed: list[str] = []
        unknown: list[str] = []
        for name in self.valid:
            v = validity.get(name, "unknown")
            if v is False:
                failed.append(f"{name} found a violation")
            elif v is not True:
                unknown.append(f"{name} could not decide")
        if self.violation is True:
            if not any(v is False for v in validity.values()):
                target = failed if all(v is True for v in validity.values()) else unknown
                target.append("no checker found the violation this unsafe setup must produce")
        else:
            for name in self.violation or ():
                v = validity.get(name, "unknown")
                if v is True:
                    failed.append(
                        f"{name} found no violation, but this unsafe setup must produce one"
                    )
                elif v is not False:
                    unknown.append(f"{name} could not decide")
        notes: list[str] = []
        for metric, bound in self.thresholds.items():
            value = metrics.get(metric)
            if value is not None and bound.holds(value):
                continue
            missed = (
                f"{metric} was not measured"
                if value is None
                else f"{metric} is {value:g}, expected {bound}"
            )
            if not self.gate_thresholds:
                notes.append(f"not gated: {missed}")
            else:
                (unknown if value is None else failed).append(missed)
        if failed:
            return False, failed + notes
        return ("unknown", unknown + notes) if unknown else (True, notes)


def _known_checkers(names: tuple[str, ...]) -> tuple[str, ...]:
    bad = [
        (f"[{i}]", f"unknown checker '{n}'; {_suggest(n, CHECKERS)}use {', '.join(CHECKERS)}")
        for i, n in enumerate(names)
        if n not in CHECKERS
    ]
    if bad:
        raise _problems(bad)
    return tuple(dict.fromkeys(names))


class Scenario(_Model):
    """A validated scenario. Build with :func:`load_scenario` or :func:`parse_scenario`."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$", description="lower-case letters, digits and dashes"
    )
    description: str = Field(min_length=1, description="one line saying what the scenario shows")
    topology: Topology = Field(default_factory=lambda: Topology(), description="the cluster")
    workload: Workload = Field(description="the load: rate and duration at least")
    timeline: tuple[FaultStep, ...] = Field(default=(), description="the faults")
    expect: Expect = Field(default_factory=lambda: Expect(), description="the expected verdicts")

    _source: str = PrivateAttr(default="<scenario>")

    @model_validator(mode="before")
    @classmethod
    def _ids(cls, data: object) -> object:
        if isinstance(data, Mapping) and isinstance(data.get("timeline"), list):
            steps = [
                {**s, "id": f"{i}-{s['fault']}"}
                if isinstance(s, Mapping)
                and s.get("id") is None
                and isinstance(s.get("fault"), str)
                else s
                for i, s in enumerate(data["timeline"])
            ]
            return {**data, "timeline": steps}
        return data

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        problems: list[tuple[str, str]] = []
        end = self.workload.duration
        view = TopologyView(self.topology.brokers, self.topology.consumers, self.topology.apis)
        seen: dict[str, int] = {}
        for i, step in enumerate(self.timeline):
            here = f"timeline[{i}]"
            if step.id in seen:
                problems.append(
                    (
                        f"{here}.id",
                        f"id '{step.id}' is already used by timeline[{seen[step.id]}]; pick another",
                    )
                )
            seen[str(step.id)] = i
            if step.at >= end:
                problems.append(
                    (
                        f"{here}.at",
                        f"the fault starts at {step.at:g} s, when the {end:g} s workload is over; "
                        f"use at < {end:g} or raise workload.duration",
                    )
                )
            heal = step.heal_time
            if heal is not None and heal > end and step.at < end:
                key = "for" if step.heal_after is not None else "heal_at"
                problems.append(
                    (
                        f"{here}.{key}",
                        f"the fault would heal at {heal:g} s, after the workload ends at "
                        f"{end:g} s; heal by {end:g} s or raise workload.duration",
                    )
                )
            try:
                resolve(step.target, view)
            except TargetResolutionError as e:
                problems.append((f"{here}.target", str(e)))
            leader = _leader_of(step.target)
            if (
                leader is not None
                and leader.topic is None
                and leader.partition >= self.topology.partitions
            ):
                problems.append(
                    (
                        f"{here}.target",
                        f"partition {leader.partition} does not exist: the topic has "
                        f"{self.topology.partitions} (0..{self.topology.partitions - 1}); pick one of those",
                    )
                )
        if problems:
            raise _problems(problems)
        return self

    # --- views ---------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        # where a scenario was loaded from is not part of what it is
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # dict fields: unhashable anyway

    @property
    def source(self) -> str:
        """The file it came from (for messages)."""
        return self._source

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the YAML shape, defaults filled in (for the run folder)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    # --- derived scenarios -----------------------------------------------------

    def with_overrides(
        self, *, seed: int | None = None, rate: float | None = None, duration: float | None = None
    ) -> Scenario:
        """The same scenario with CLI overrides applied and validated again."""
        data = self.to_dict()
        for key, value in (("seed", seed), ("rate", rate), ("duration", duration)):
            if value is not None:
                data["workload"][key] = value
        return _validate(data, self._source, where="the command-line overrides")

    def quick(self) -> Scenario:
        """A shorter run for ``--quick``: every time scaled by the same factor,
        and, when it scales, thresholds reported but not gated
        (``expect.gate_thresholds: false``).

        The factor is :data:`QUICK_FACTOR` but never takes the workload below
        :data:`QUICK_MIN_DURATION`; scaling everything keeps faults inside
        the workload and keeps their order and overlaps.
        """
        d = self.workload.duration
        f = min(1.0, max(QUICK_FACTOR, QUICK_MIN_DURATION / d))
        if f >= 1.0:
            return self
        data = self.to_dict()
        # thresholds were written for the full timeline: a fault window scaled
        # below Kafka's failure detection (6 s) cannot meet an error-rate bound
        # meant for a 10 s one, so --quick reports them without gating
        data["expect"]["gate_thresholds"] = False
        # round the end up and the fault times down, so windows stay inside
        data["workload"]["duration"] = math.ceil(d * f * 10) / 10
        for step in data["timeline"]:
            for key in ("at", "for", "heal_at"):
                if key in step:
                    scaled = math.floor(step[key] * f * 10) / 10
                    step[key] = scaled if key == "at" else max(0.1, scaled)
        return _validate(data, self._source, where="--quick")


def _leader_of(t: Target) -> Leader | None:
    if isinstance(t, NodeTarget) and isinstance(t.select, Leader):
        return t.select
    if isinstance(t, LinkTarget | LinksOf):
        node = t.server if isinstance(t, LinkTarget) else t.node
        return node.select if isinstance(node.select, Leader) else None
    return None


# --- error sentences --------------------------------------------------------

_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "tuple_type": "a list",
    "list_type": "a list",
}

_DESCRIPTIONS: dict[str, str] = {}
for _m in (Topology, Workload, FaultStep, Expect, Scenario):
    for _n, _f in _m.model_fields.items():
        _DESCRIPTIONS.setdefault(_f.alias or _n, _f.description or "")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("["):
            out += part
        elif part:
            out += f".{part}" if out else part
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (for its allowed keys)."""
    model: type[BaseModel] = Scenario
    for part in loc:
        if isinstance(part, int):
            continue  # an element of a tuple of models: same model
        info = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if info is None:
            return None
        inner = _models_in(info.annotation)
        if not inner:
            return None
        model = inner[0]
    return model


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _sentences(source: str, err: ValidationError) -> list[str]:
    out: list[str] = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        typ, ctx, given = e["type"], e.get("ctx") or {}, e.get("input")
        if typ == "wiber":
            out += [f"{source}: {_path((*loc, p)) or 'scenario'}: {d}" for p, d in ctx["problems"]]
            continue
        path = _path(loc) or "scenario"
        field = str(loc[-1]) if loc else ""
        what = _DESCRIPTIONS.get(field, "")
        hint = f" ({what})" if what else ""
        if typ == "missing":
            detail = f"required field is missing; add {field}:{hint}"
        elif typ in _TYPE_WORDS:
            detail = f"must be {_TYPE_WORDS[typ]}, not {given!r}; fix the value{hint}"
        elif typ in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            sign = {
                "greater_than": ">",
                "greater_than_equal": ">=",
                "less_than": "<",
                "less_than_equal": "<=",
            }[typ]
            raw_bound = next(iter(ctx.values()))
            bound = f"{raw_bound:g}" if _is_num(raw_bound) else str(raw_bound)
            detail = f"must be {sign} {bound}, not {given!r}; use a value {sign} {bound}{hint}"
        elif typ == "string_pattern_mismatch":
            detail = f"{given!r} is not allowed; use lower-case letters, digits and dashes, like 'leader-kill'"
        elif typ == "string_too_short":
            detail = f"must not be empty; write{hint}"
        elif typ == "extra_forbidden":
            model = _model_at(loc[:-1])
            detail = _unknown_key(model, field) if model else "unknown key; remove it"
        else:
            detail = f"{e['msg']} (got {given!r}); fix the value{hint}"
        out.append(f"{source}: {path}: {detail}")
    return out


def _validate(data: object, source: str, where: str | None = None) -> Scenario:
    if not isinstance(data, Mapping):
        raise InvalidScenario(
            f"{source}: the file must hold a mapping with name, description, workload and timeline, "
            f"not {type(data).__name__}; see scenarios/baseline.yaml"
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        lines = _sentences(source, e)
        if where:
            lines = [f"{line} (after {where})" for line in lines]
        raise InvalidScenario("\n".join(lines)) from None
    scenario._source = source
    return scenario


# --- YAML -------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last)."""


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool | None):
            continue  # unhashable keys fail later with pydantic's own message
        if key in seen:
            raise _DuplicateKey(None, None, f"duplicate key '{key}'", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as YAML text; ``source`` names it in messages."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except _DuplicateKey as e:
        mark = e.problem_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InvalidScenario(f"{source}{at}: {e.problem}; keep only one of them") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        raise InvalidScenario(
            f"{source}{at}: YAML syntax error: {problem}; fix the YAML there "
            "(indentation, a missing ':', or quote values that start with '>', '*', '&', '!' or '@')"
        ) from None
    except yaml.YAMLError as e:
        raise InvalidScenario(f"{source}: not valid YAML ({e}); fix the file") from None
    return _validate(data, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; raises InvalidScenario."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidScenario(
            f"{p}: no such scenario file; see 'wiber-harness list' for the catalog"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidScenario(
            f"{p}: cannot read the scenario ({e}); check the path and its permissions"
        ) from None
    return parse_scenario(text, str(p))


def list_scenarios(directory: str | Path, recursive: bool = False) -> list[Path]:
    """The scenario files (``*.yaml``, ``*.yml``) in a directory, sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise InvalidScenario(
            f"{d}: not a directory of scenarios; pass a folder such as scenarios/"
        )
    globber = d.rglob if recursive else d.glob
    return sorted(p for pattern in ("*.yaml", "*.yml") for p in globber(pattern) if p.is_file())


def load_scenarios(paths: Iterable[str | Path]) -> list[Scenario]:
    """Load files and directories (their top-level ``*.yaml``); all validated before returning.

    Every problem of every file is reported in one InvalidScenario; two
    scenarios with the same name are an error.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        files += list_scenarios(p) if p.is_dir() else [p]
    scenarios: list[Scenario] = []
    errors: list[str] = []
    for f in files:
        try:
            scenarios.append(load_scenario(f))
        except InvalidScenario as e:
            errors.append(str(e))
    by_name: dict[str, str] = {}
    for s in scenarios:
        if s.name in by_name:
            errors.append(
                f"{s.source}: name: '{s.name}' is also the name of {by_name[s.name]}; rename one of them"
            )
        by_name.setdefault(s.name, s.source)
    if errors:
        raise InvalidScenario("\n".join(errors))
    return scenarios


__all__ = [
    "CHECKERS",
    "DEFAULT_VALID",
    "METRICS",
    "QUICK_FACTOR",
    "QUICK_MIN_DURATION",
    "SYSTEM_SETTINGS",
    "Expect",
    "FaultStep",
    "Scenario",
    "SettingSpec",
    "Threshold",
    "Topology",
    "Workload",
    "list_scenarios",
    "load_scenario",
    "load_scenarios",
    "parse_scenario",
    "parse_threshold",
]
