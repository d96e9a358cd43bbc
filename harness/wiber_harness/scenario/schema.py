"""The scenario schema: pydantic models that validate a scenario completely.
Over 500 lines because the five models are one file format: they share the
base model and the error protocol, and the cross-field rules of
:class:`Scenario` and its derivations need all of them. What stands alone is
elsewhere: the words (:mod:`~wiber_harness.scenario.vocab`), the field types
(:mod:`~wiber_harness.scenario.fields`), the judgement
(:mod:`~wiber_harness.scenario.expect`) and the sentences
(:mod:`~wiber_harness.scenario.messages`).

:class:`Scenario` holds a :class:`Topology`, a :class:`Workload`, a
timeline of :class:`FaultStep` and an :class:`Expect`; every field is
checked on construction (types, bounds, unknown keys, settings, faults
against the catalog, targets against the topology, the cross-field rules
the package docstring lists), and each problem is raised as a ``(path,
detail)`` pair that :func:`~wiber_harness.scenario.messages.sentences`
turns into a sentence. :func:`validate` builds a scenario from plain data
and raises :class:`~wiber_harness.errors.InvalidScenario` with those
sentences, one per line.

Derived scenarios are validated again: :meth:`Scenario.with_overrides`
(``--seed``, ``--rate``, ``--duration``) and :meth:`Scenario.quick`
(``--quick``: every time scaled by :data:`QUICK_FACTOR`, never below
:data:`QUICK_MIN_DURATION`, and a step that ``outlasts`` a timeout never
below the system's effective value of it plus a margin, see
:mod:`~wiber_harness.scenario.quick`; what that changed is kept in
``Scenario.notes``). A scenario as written (not derived) must last longer
than the timeouts its steps declare, with its own settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from wiber_harness.checkers.base import Validity
from wiber_harness.errors import InvalidScenario
from wiber_harness.faults.catalog import (
    CatalogError,
    FaultKind,
    check_params,
    check_target,
    fault_kind,
)
from wiber_harness.printable import shown
from wiber_harness.scenario.expect import judge
from wiber_harness.scenario.fields import (
    TARGET_TYPES,
    Int,
    Number,
    TargetField,
    ThresholdField,
    setting,
)
from wiber_harness.scenario.messages import is_num as _is_num
from wiber_harness.scenario.messages import problem as _problem
from wiber_harness.scenario.messages import problems as _problems
from wiber_harness.scenario.messages import sentences
from wiber_harness.scenario.messages import suggest as _suggest
from wiber_harness.scenario.messages import unknown_key as _unknown_key
from wiber_harness.scenario.quick import (
    OUTLAST_TIMEOUTS,
    OutlastError,
    fit_outlasts,
    outlast_problems,
)
from wiber_harness.scenario.targets import (
    Leader,
    LinksOf,
    LinkTarget,
    NodeTarget,
    Target,
    TargetResolutionError,
    TargetSyntaxError,
    TopologyView,
    parse,
    resolve,
)
from wiber_harness.scenario.vocab import (
    CHECKERS,
    DEFAULT_TARGETS,
    DEFAULT_VALID,
    METRICS,
    SYSTEM_SETTINGS,
)

QUICK_FACTOR = 0.4  # --quick runs ~2.5x shorter ...
QUICK_MIN_DURATION = 15.0  # ... but never shorter than this (s)


# --- models -----------------------------------------------------------------


MAX_SEED = 2**32 - 1  # seeds are 0..2**32-1: what every RNG and the history (int64) take


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def _unknown_keys(cls, data: object) -> list[tuple[str, str]]:
        """Problems for unknown keys (extra_forbidden errors get the same text)."""
        if not isinstance(data, Mapping):
            return []
        names = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        return [(str(k), _unknown_key(cls, str(k))) for k in data if k not in names]


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
            raise _problem("", f"must be a mapping of setting name to value, not {shown(raw)}")
        out: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        for key, value in raw.items():
            try:
                name, text = setting(str(key), value)
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
    seed: Int = Field(default=1, ge=0, le=MAX_SEED, description="seed of every random choice")
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
    outlasts: str | None = Field(
        default=None,
        description="a timeout of the system the fault must last longer than, also under "
        "--quick (wiber_harness.scenario.quick.OUTLAST_TIMEOUTS)",
    )

    @field_validator("outlasts")
    @classmethod
    def _timeout(cls, v: str | None) -> str | None:
        if v is not None and v not in OUTLAST_TIMEOUTS:
            raise _problem(
                "",
                f"unknown timeout '{v}'; {_suggest(v, OUTLAST_TIMEOUTS)}"
                f"use one of {', '.join(OUTLAST_TIMEOUTS)}",
            )
        return v

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
        elif raw is not None and not isinstance(raw, TARGET_TYPES):
            problems.append(("target", f"must be a target spec like 'kafka.1', not {shown(raw)}"))
        params = out.get("params") if out.get("params") is not None else {}
        if not isinstance(params, Mapping):
            problems.append(
                ("params", f"must be a mapping of parameter name to value, not {shown(params)}")
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
        """When to heal (s since workload start).

        None: at the end phase (or never, if instantaneous).
        """
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
                    f"unknown metric '{k}'; {_suggest(str(k), METRICS)}"
                    f"known metrics are {', '.join(METRICS)}",
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
        self,
        validity: Mapping[str, Validity],
        metrics: Mapping[str, float | None],
        causes: Mapping[str, str] | None = None,
    ) -> tuple[Validity, list[str]]:
        """Did a run meet these expectations? See :func:`~wiber_harness.scenario.expect.judge`."""
        return judge(self, validity, metrics, causes)


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
    notes: tuple[str, ...] | None = Field(
        default=None,
        description="written by the harness: how a derivation (--quick) changed the scenario; "
        "the run lists them among its reasons",
    )

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
                        f"id '{step.id}' is already used by timeline[{seen[step.id]}]; "
                        "pick another",
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
                        f"{self.topology.partitions} (0..{self.topology.partitions - 1}); "
                        "pick one of those",
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
        return validate(data, self._source, where="the command-line overrides")

    def quick(self, settings: Mapping[str, str] | None = None) -> Scenario:
        """A shorter run for ``--quick``: every time scaled by the same factor,
        and, when it scales, thresholds reported but not gated
        (``expect.gate_thresholds: false``).

        The factor is :data:`QUICK_FACTOR` but never takes the workload below
        :data:`QUICK_MIN_DURATION`; scaling everything keeps faults inside
        the workload and keeps their order and overlaps. A step that
        ``outlasts`` a timeout is never scaled below it (plus a margin): its
        value is the system's effective one, with ``settings`` (``--set``)
        over the scenario's own; :func:`~wiber_harness.scenario.quick.fit_outlasts`
        says how, in ``notes``.
        """
        d = self.workload.duration
        f = min(1.0, max(QUICK_FACTOR, QUICK_MIN_DURATION / d))
        data = self.to_dict()
        if f >= 1.0:
            try:
                notes = fit_outlasts(data, self.to_dict(), settings)
            except OutlastError as e:
                raise InvalidScenario(f"{self._source}: --quick: {e}") from None
            if not notes:
                return self
            data["notes"] = [*(self.notes or ()), *notes]
            return validate(data, self._source, where="--quick")
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
        try:
            notes = fit_outlasts(data, self.to_dict(), settings)
        except OutlastError as e:
            raise InvalidScenario(f"{self._source}: --quick: {e}") from None
        if notes:
            data["notes"] = [*(self.notes or ()), *notes]
        return validate(data, self._source, where="--quick")


def _leader_of(t: Target) -> Leader | None:
    if isinstance(t, NodeTarget) and isinstance(t.select, Leader):
        return t.select
    if isinstance(t, LinkTarget | LinksOf):
        node = t.server if isinstance(t, LinkTarget) else t.node
        return node.select if isinstance(node.select, Leader) else None
    return None


# --- plain data -> scenario ------------------------------------------------


def validate(data: object, source: str, where: str | None = None) -> Scenario:
    """Validate plain data as a scenario from ``source``; InvalidScenario says why not.

    ``where`` names a derivation (``--quick``) that each sentence then ends with.
    """
    if not isinstance(data, Mapping):
        raise InvalidScenario(
            f"{source}: the file must hold a mapping with name, description, workload and "
            "timeline, "
            f"not {type(data).__name__}; see scenarios/baseline.yaml"
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        lines = sentences(source, e, Scenario)
        if where:
            lines = [f"{line} (after {where})" for line in lines]
        raise InvalidScenario("\n".join(lines)) from None
    if where is None and not scenario.notes:
        # the scenario as written must outlast its timeouts at full length; a
        # derivation (--quick, maybe with --set) is fitted by fit_outlasts instead
        steps = [s.model_dump(by_alias=True) for s in scenario.timeline]
        bad = outlast_problems(steps, scenario.topology.settings)
        if bad:
            raise InvalidScenario("\n".join(f"{source}: {f}: {why}" for f, why in bad))
    scenario._source = source
    return scenario


__all__ = [
    "MAX_SEED",
    "QUICK_FACTOR",
    "QUICK_MIN_DURATION",
    "Expect",
    "FaultStep",
    "Scenario",
    "Topology",
    "Workload",
    "validate",
]
