"""Scenario loading and validation, the fault catalog, and the scenario catalog files."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import yaml

from wiber_harness.errors import InvalidScenario
from wiber_harness.faults.catalog import (
    CATALOG,
    DEFAULT_TARGETS,
    FAILPOINTS,
    CatalogError,
    check_params,
    check_target,
    fault_kind,
    kinds,
)
from wiber_harness.scenario import (
    CHECKERS,
    QUICK_MIN_DURATION,
    SYSTEM_SETTINGS,
    Scenario,
    Threshold,
    list_scenarios,
    load_scenario,
    load_scenarios,
    parse_scenario,
    parse_threshold,
)
from wiber_harness.scenario.targets import parse

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
FILE = "scenarios/x.yaml"

BASE = """\
name: leader-kill
description: Kill the leader of partition 0.
workload:
  rate: 200
  duration: 40
timeline:
  - at: 10
    fault: kill
    target: kafka.leader(partition=0)
    for: 10
"""


def load(text: str) -> Scenario:
    return parse_scenario(text, FILE)


def error(text: str) -> str:
    with pytest.raises(InvalidScenario) as e:
        load(text)
    return str(e.value)


def with_step(step: str, duration: int = 40) -> str:
    """A minimal scenario whose only timeline step is ``step`` (YAML flow mapping)."""
    return (
        f"name: x\ndescription: d\nworkload: {{rate: 100, duration: {duration}}}\n"
        f"timeline:\n  - {step}\n"
    )


# --- the happy path -------------------------------------------------------------


def test_minimal_scenario_gets_defaults() -> None:
    s = load(BASE)
    assert s.name == "leader-kill"
    assert s.source == FILE
    assert (s.topology.brokers, s.topology.partitions, s.topology.consumers, s.topology.apis) == (
        3,
        6,
        2,
        1,
    )
    assert s.workload.conversations == 50 and s.workload.batch == 0 and s.workload.seed == 1
    step = s.timeline[0]
    assert step.id == "0-kill"
    assert step.target == parse("kafka.leader(partition=0)")
    assert step.heal_time == 20
    assert step.kind.category == "process"
    assert s.expect.valid == ("delivery", "ordering", "convergence", "redelivery")
    assert s.expect.violation is False


def test_params_get_catalog_defaults() -> None:
    s = load(
        with_step(
            "{at: 5, fault: latency, target: 'link(consumer, kafka.all)', "
            "params: {latency_ms: 200}}"
        )
    )
    assert s.timeline[0].params == {
        "latency_ms": 200,
        "jitter_ms": 0,
        "stream": "both",
        "toxicity": 1.0,
    }
    assert s.timeline[0].heal_time is None  # healed in the end phase


def test_default_targets_for_duplicate_kinds() -> None:
    s = load(with_step("{at: 5, fault: offset_rewind, params: {to: earliest}}"))
    assert str(s.timeline[0].target) == "consumers"
    s = load(with_step("{at: 5, fault: duplicate_retry}"))
    assert str(s.timeline[0].target) == "workload" and s.timeline[0].params == {"count": 100}


def test_heal_at_and_explicit_id() -> None:
    s = load(
        with_step(
            "{id: cut-store, at: 5, fault: partition, target: 'link(api, store)', heal_at: 12}"
        )
    )
    assert s.timeline[0].id == "cut-store" and s.timeline[0].heal_time == 12


def test_settings_are_normalised_to_env_names() -> None:
    s = load(
        BASE
        + "topology:\n  settings:\n    producer_acks: 1\n    WIBER_PRODUCER_IDEMPOTENCE: false\n"
        "    consumer_batch_size: 50\n"
    )
    assert s.topology.env() == {
        "WIBER_PRODUCER_ACKS": "1",
        "WIBER_PRODUCER_IDEMPOTENCE": "false",
        "WIBER_CONSUMER_BATCH_SIZE": "50",
    }
    assert s.topology.unsafe_settings() == {
        "WIBER_PRODUCER_ACKS": "1",
        "WIBER_PRODUCER_IDEMPOTENCE": "false",
    }


def test_models_are_frozen() -> None:
    s = load(BASE)
    with pytest.raises(Exception, match="frozen"):
        s.name = "other"  # type: ignore[misc]  # assigning a frozen field is the point
    with pytest.raises(Exception, match="frozen"):
        s.workload.rate = 1  # type: ignore[misc]  # assigning a frozen field is the point


# --- every class of validation error: one sentence naming file, field, fix ------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown fault, with a suggestion and the catalog
        (
            BASE.replace("fault: kill", "fault: kil"),
            "scenarios/x.yaml: timeline[0].fault: unknown fault 'kil'; did you mean 'kill'? "
            "use one of kill, stop,",
        ),
        # bad target syntax
        (
            BASE.replace("kafka.leader(partition=0)", "kafak.leader(partition=0)"),
            "scenarios/x.yaml: timeline[0].target: "
            "target 'kafak.leader(partition=0)' is not valid: "
            "unknown role 'kafak' (did you mean 'kafka'?)",
        ),
        # wrong target category
        (
            BASE.replace("target: kafka.leader(partition=0)", "target: link(api, kafka.1)"),
            "scenarios/x.yaml: timeline[0].target: kill needs a process target such as "
            "'kafka.leader(partition=0)', not the link target 'link(api, kafka.1)'; "
            "to cut a link use fault: partition",
        ),
        # negative rate
        (
            BASE.replace("rate: 200", "rate: -5"),
            "scenarios/x.yaml: workload.rate: must be > 0, not -5; "
            "use a value > 0 (messages per second)",
        ),
        # zero duration
        (
            BASE.replace("duration: 40", "duration: 0"),
            "scenarios/x.yaml: workload.duration: must be > 0, not 0",
        ),
        # missing required field
        (
            BASE.replace("  rate: 200\n", ""),
            "scenarios/x.yaml: workload.rate: required field is missing; add rate: "
            "(messages per second)",
        ),
        (
            BASE.replace("description: Kill the leader of partition 0.\n", ""),
            "scenarios/x.yaml: description: required",
        ),
        (
            BASE.replace("    fault: kill\n", ""),
            "scenarios/x.yaml: timeline[0].fault: required field is missing",
        ),
        # unknown key, with "did you mean"
        (
            BASE.replace("rate: 200", "rat: 200"),
            "scenarios/x.yaml: workload.rat: unknown key 'rat'; did you mean 'rate'? "
            "allowed keys are rate, duration,",
        ),
        (
            BASE.replace("for: 10", "fro: 10"),
            "scenarios/x.yaml: timeline[0].fro: unknown key 'fro'; did you mean 'for'?",
        ),
        (
            BASE + "expcet: {}\n",
            "scenarios/x.yaml: expcet: unknown key 'expcet'; did you mean 'expect'?",
        ),
        # fault window beyond the workload
        (
            BASE.replace("for: 10", "for: 40"),
            "scenarios/x.yaml: timeline[0].for: "
            "the fault would heal at 50 s, after the workload ends at 40 s; "
            "heal by 40 s or raise workload.duration",
        ),
        (
            BASE.replace("at: 10", "at: 45"),
            "scenarios/x.yaml: timeline[0].at: the fault starts at 45 s, "
            "when the 40 s workload is over",
        ),
        (
            BASE.replace("for: 10", "heal_at: 41"),
            "scenarios/x.yaml: timeline[0].heal_at: the fault would heal at 41 s",
        ),
        # heal before inject
        (
            BASE.replace("for: 10", "heal_at: 5"),
            "scenarios/x.yaml: timeline[0].heal_at: heal_at (5) is not after at (10); "
            "set heal_at > at or use for: N",
        ),
        (
            BASE.replace("for: 10", "for: 0"),
            "scenarios/x.yaml: timeline[0].for: must be > 0, not 0",
        ),
        (
            BASE.replace("for: 10", "for: 5\n    heal_at: 30"),
            "timeline[0].heal_at: give either for",
        ),
        # types
        (
            BASE.replace("at: 10", "at: '10'"),
            "scenarios/x.yaml: timeline[0].at: must be a number, not '10'",
        ),
        (
            BASE.replace("rate: 200", "rate: true"),
            "scenarios/x.yaml: workload.rate: must be a number, not True",
        ),
        (
            BASE + "topology:\n  consumers: 2.5\n",
            "scenarios/x.yaml: topology.consumers: must be a whole number, not 2.5",
        ),
        (
            BASE.replace("name: leader-kill", "name: Leader_Kill"),
            "scenarios/x.yaml: name: 'Leader_Kill' is not allowed",
        ),
        (
            BASE.split("timeline:")[0] + "timeline: 3\n",
            "scenarios/x.yaml: timeline: must be a list, not 3",
        ),
        # topology
        (
            BASE + "topology:\n  brokers: 5\n",
            "scenarios/x.yaml: topology.brokers: 5 brokers is not supported yet; set brokers: 3",
        ),
        (
            BASE.replace("partition=0", "partition=6"),
            "scenarios/x.yaml: timeline[0].target: partition 6 does not exist: "
            "the topic has 6 (0..5)",
        ),
        (
            BASE.replace("kafka.leader(partition=0)", "consumer.3"),
            "scenarios/x.yaml: timeline[0].target: 'consumer.3' does not exist: "
            "there are only 2 consumer nodes",
        ),
        # settings
        (
            BASE + "topology:\n  settings: {WIBER_PRODUCER_ACK: all}\n",
            "scenarios/x.yaml: topology.settings.WIBER_PRODUCER_ACK: "
            "unknown system setting 'WIBER_PRODUCER_ACK'; "
            "did you mean 'WIBER_PRODUCER_ACKS'?",
        ),
        (
            BASE + "topology:\n  settings: {partition_key: dirn}\n",
            "scenarios/x.yaml: topology.settings.partition_key: WIBER_PARTITION_KEY is 'dirn'; "
            "did you mean 'direction'? use one of conversation, direction",
        ),
        (BASE + "topology:\n  settings: {consumer_batch_size: lots}\n", "use a whole number"),
        (
            BASE + "topology:\n  settings: {producer_acks: '1'}\n",
            "topology.settings.WIBER_PRODUCER_ACKS: acks other than all needs "
            "WIBER_PRODUCER_IDEMPOTENCE: false",
        ),
        # expect
        (
            BASE + "expect:\n  thresholds: {recovry_s: '<= 3'}\n",
            "scenarios/x.yaml: expect.thresholds.recovry_s: unknown metric 'recovry_s'; "
            "did you mean 'recovery_s'?",
        ),
        (
            BASE + "expect:\n  thresholds: {recovery_s: 30}\n",
            "scenarios/x.yaml: expect.thresholds.recovery_s: threshold 30 is not a comparison; "
            "write it quoted",
        ),
        (
            BASE + "expect:\n  valid: [delivery, orderng]\n",
            "scenarios/x.yaml: expect.valid[1]: unknown checker 'orderng'; "
            "did you mean 'ordering'?",
        ),
        (
            BASE + "expect:\n  valid: [delivery]\n  violation: [delivery]\n",
            "scenarios/x.yaml: expect.valid: "
            "delivery cannot be both valid and expected to flag a violation",
        ),
        (BASE + "expect:\n  violation: []\n", "expect.violation: an empty list expects nothing"),
    ],
)
def test_validation_errors(text: str, expected: str) -> None:
    message = error(text)
    assert expected in message
    for line in message.splitlines():
        assert line.startswith(FILE), line


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        # instantaneous kinds have no heal
        (
            "{at: 5, fault: restart, target: kafka.1, for: 3}",
            "timeline[0].for: restart is instantaneous and is never healed; remove for",
        ),
        (
            "{at: 5, fault: offset_rewind, params: {by: 5}, heal_at: 9}",
            "timeline[0].heal_at: offset_rewind is instantaneous",
        ),
        # params against the catalog
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: {latency: 200}}",
            "timeline[0].params.latency: latency has no parameter 'latency'; "
            "did you mean 'latency_ms'?",
        ),
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: {latency_ms: -1}}",
            "timeline[0].params.latency_ms: latency parameter 'latency_ms' is -1, "
            "below its minimum 0",
        ),
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: {latency_ms: '200'}}",
            "timeline[0].params.latency_ms: "
            "latency parameter 'latency_ms' must be a whole number, not '200'",
        ),
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: {toxicity: 1.5}}",
            "timeline[0].params.toxicity: latency parameter 'toxicity' is 1.5, above its maximum 1",
        ),
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: {stream: up}}",
            "timeline[0].params.stream: latency parameter 'stream' is 'up'; "
            "use one of upstream, downstream, both",
        ),
        (
            "{at: 5, fault: slicer, target: 'link(api, store)', "
            "params: {average_size: 10, size_variation: 10}}",
            "size_variation must be smaller than average_size",
        ),
        (
            "{at: 5, fault: kill, target: kafka.1, params: {signal: 9}}",
            "kill takes no params; remove them",
        ),
        (
            "{at: 5, fault: offset_rewind, params: {by: 5, to: earliest}}",
            "timeline[0].params.to: give only one of by or to",
        ),
        ("{at: 5, fault: offset_rewind}", "timeline[0].params: offset_rewind needs params.by"),
        (
            "{at: 5, fault: latency, target: 'link(api, store)', params: 3}",
            "timeline[0].params: must be a mapping",
        ),
        # failpoints
        (
            "{at: 5, fault: failpoint, target: consumer.1}",
            "timeline[0].params.name: failpoint needs params.name (one of consumer.after_poll,",
        ),
        (
            "{at: 5, fault: failpoint, target: consumer.1, params: {name: consumer.after_store}}",
            "timeline[0].params.name: failpoint parameter 'name' is 'consumer.after_store'; "
            "did you mean 'consumer.",
        ),
        (
            "{at: 5, fault: failpoint, target: api.1, params: {name: consumer.before_store}}",
            "timeline[0].target: "
            "failpoint consumer.before_store lives in the consumer process, not in 'api.1'",
        ),
        (
            "{at: 5, fault: failpoint, target: consumer.1, "
            "params: {name: consumer.before_store, hit: 2, probability: 0.5}}",
            "give only one of hit or probability",
        ),
        (
            "{at: 5, fault: failpoint, target: consumer.1, "
            "params: {name: consumer.before_store, action: delay}}",
            "action delay needs params.delay_ms",
        ),
        (
            "{at: 5, fault: failpoint, target: store, params: {name: consumer.before_store}}",
            "failpoint works on api or consumer nodes, not 'store'",
        ),
        # target categories and roles
        (
            "{at: 5, fault: latency, target: kafka.1}",
            "latency needs a link target such as 'link(consumer, kafka.all)', "
            "not the process target 'kafka.1'; "
            "to cut kafka.1 off from its clients write links(kafka.1)",
        ),
        (
            "{at: 5, fault: isolate, target: consumer.1}",
            "isolate works on kafka nodes, not 'consumer.1'",
        ),
        ("{at: 5, fault: rolling_restart, target: kafka.1}", "write target: kafka.all"),
        (
            "{at: 5, fault: duplicate_retry, target: kafka.1}",
            "duplicate_retry needs the target 'workload'",
        ),
        (
            "{at: 5, fault: offset_rewind, target: workload, params: {by: 1}}",
            "offset_rewind needs the target 'consumers'",
        ),
        (
            "{at: 5, fault: kill}",
            "timeline[0].target: kill needs a target; add target: kafka.leader(partition=0)",
        ),
        (
            "{at: 5, fault: kill, target: 3}",
            "timeline[0].target: must be a target spec like 'kafka.1', not 3",
        ),
    ],
)
def test_step_errors(step: str, expected: str) -> None:
    message = error(with_step(step))
    assert expected in message
    assert message.startswith(FILE)


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    text = (
        BASE.replace("fault: kill", "fault: kil").replace("rate: 200", "rate: -1") + "colour: red\n"
    )
    lines = error(text).splitlines()
    assert len(lines) == 3
    assert any("timeline[0].fault" in ln for ln in lines)
    assert any("workload.rate" in ln for ln in lines)
    assert any("colour: unknown key" in ln for ln in lines)


def test_several_problems_in_one_step() -> None:
    lines = error(
        with_step("{at: 5, fault: restart, target: 'link(api, store)', for: 2, params: {x: 1}}")
    ).splitlines()
    assert len(lines) == 3
    assert (
        "timeline[0].target" in lines[0]
        and "timeline[0].params.x" in lines[1]
        and "timeline[0].for" in lines[2]
    )


def test_duplicate_fault_ids() -> None:
    text = (
        "name: x\ndescription: d\nworkload: {rate: 1, duration: 30}\ntimeline:\n"
        "  - {id: a, at: 1, fault: kill, target: kafka.1}\n"
        "  - {id: a, at: 2, fault: kill, target: kafka.2}\n"
    )
    assert (
        "scenarios/x.yaml: timeline[1].id: id 'a' is already used by timeline[0]; pick another"
        in error(text)
    )


# --- YAML-level errors --------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column() -> None:
    message = error("name: x\n description: y\n")
    # libyaml (used when installed) says "... not allowed in this context", PyYAML "... here"
    assert message.startswith(
        "scenarios/x.yaml:2:13: YAML syntax error: mapping values are not allowed "
    )
    assert "\n" not in message


def test_unquoted_comparison_is_a_yaml_error_with_a_hint() -> None:
    message = error(BASE + "expect:\n  thresholds:\n    error_rate: >= 0.5\n")
    assert message.startswith("scenarios/x.yaml:")
    assert "quote values that start with '>'" in message


def test_duplicate_yaml_keys() -> None:
    assert (
        error("name: x\nname: y\n")
        == "scenarios/x.yaml:2:1: duplicate key 'name'; keep only one of them"
    )


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    assert "the file must hold a mapping with name, description, workload and timeline" in error(
        text
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidScenario, match=r"nope\.yaml: no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidScenario, match="not a directory of scenarios"):
        list_scenarios(tmp_path / "none")


# --- thresholds and judging ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "value", "holds", "fails"),
    [
        ("<= 30", "<=", 30, 30, 30.1),
        ("<3", "<", 3, 2.9, 3),
        (">= 0.5", ">=", 0.5, 0.5, 0.4),
        ("> 0", ">", 0, 1, 0),
        ("== 0", "==", 0, 0, 1),
    ],
)
def test_thresholds(text: str, op: str, value: float, holds: float, fails: float) -> None:
    t = parse_threshold(text)
    assert t == Threshold(op, value)
    assert t.holds(holds) and not t.holds(fails)
    assert parse_threshold(str(t)) == t


def test_judge_safe_scenario() -> None:
    s = load(BASE + "expect:\n  thresholds: {recovery_s: '<= 30'}\n")
    ok = {"delivery": True, "ordering": True, "convergence": True, "redelivery": True}
    assert s.expect.judge(ok, {"recovery_s": 12}) == (True, [])
    verdict, why = s.expect.judge({**ok, "ordering": False}, {"recovery_s": 40})
    assert verdict is False and why == [
        "ordering found a violation",
        "recovery_s is 40, expected <= 30",
    ]
    assert s.expect.judge({**ok, "convergence": "unknown"}, {"recovery_s": 1})[0] == "unknown"
    assert s.expect.judge(ok, {})[0] == "unknown"  # a threshold without its metric cannot pass


def test_judge_unsafe_scenario() -> None:
    listed = load(BASE + "expect:\n  violation: [delivery]\n").expect
    assert listed.valid == ()
    assert listed.judge({"delivery": False, "ordering": False}, {}) == (True, [])
    assert listed.judge({"delivery": True}, {})[0] is False
    assert listed.judge({"delivery": "unknown"}, {})[0] == "unknown"
    anyone = load(BASE + "expect:\n  violation: true\n").expect
    assert anyone.judge({"delivery": True, "ordering": False}, {}) == (True, [])
    assert anyone.judge({"delivery": True, "ordering": True}, {})[0] is False
    assert anyone.judge({"delivery": True, "ordering": "unknown"}, {})[0] == "unknown"


# --- derived scenarios and serialisation ---------------------------------------------


def test_with_overrides() -> None:
    s = load(BASE).with_overrides(seed=9, rate=50, duration=30)
    assert (s.workload.seed, s.workload.rate, s.workload.duration) == (9, 50, 30)
    assert s.source == FILE
    assert load(BASE).with_overrides() == load(BASE)


def test_overrides_are_validated() -> None:
    with pytest.raises(InvalidScenario) as e:
        load(BASE).with_overrides(duration=15)
    assert "timeline[0].for: the fault would heal at 20 s, after the workload ends at 15 s" in str(
        e.value
    )
    assert "(after the command-line overrides)" in str(e.value)
    with pytest.raises(InvalidScenario, match=r"workload\.rate: must be > 0"):
        load(BASE).with_overrides(rate=0)


def test_quick_scales_every_time_and_keeps_faults_inside() -> None:
    s = load(
        BASE.replace("duration: 40", "duration: 60")
        .replace("at: 10", "at: 20")
        .replace("for: 10", "for: 30")
    )
    q = s.quick()
    assert q.workload.duration == 24
    assert (q.timeline[0].at, q.timeline[0].heal_after) == (8, 12)
    assert q.workload.rate == s.workload.rate


def test_quick_never_goes_below_the_minimum() -> None:
    q = load(BASE.replace("duration: 40", "duration: 30").replace("for: 10", "for: 20")).quick()
    assert q.workload.duration == QUICK_MIN_DURATION  # factor 0.5, not 0.4
    assert (q.timeline[0].at, q.timeline[0].heal_time) == (5, 15)
    short = load(BASE.replace("duration: 40", "duration: 14").replace("at: 10", "at: 2"))
    assert short.quick() is short


def test_to_dict_round_trips_and_is_json() -> None:
    s = load(
        BASE
        + (
            "topology:\n  settings: {consumer_batch_size: 50}\n"
            "expect:\n  thresholds: {error_rate: '< 0.5'}\n"
        )
    )
    d = s.to_dict()
    json.dumps(d)
    assert d["timeline"][0]["target"] == "kafka.leader(partition=0)"
    assert d["timeline"][0]["for"] == 10 and "heal_at" not in d["timeline"][0]
    assert d["expect"]["thresholds"] == {"error_rate": "< 0.5"}
    assert parse_scenario(s.to_yaml(), "again.yaml") == s


# --- the catalog of fault kinds ---------------------------------------------------------


def test_catalog_covers_the_four_categories() -> None:
    assert {k.category for k in kinds()} == {"process", "link", "duplicate", "failpoint"}
    assert [k.name for k in kinds("process")] == [
        "kill",
        "stop",
        "pause",
        "restart",
        "rolling_restart",
    ]
    assert {k.name for k in kinds("duplicate")} == {
        "duplicate_retry",
        "duplicate_replay",
        "offset_rewind",
    }
    for name in (
        "partition",
        "latency",
        "bandwidth",
        "timeout",
        "reset_peer",
        "slow_close",
        "slicer",
        "limit_data",
        "isolate",
    ):
        assert CATALOG[name].category == "link"


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_kind_is_self_consistent(name: str) -> None:
    kind = fault_kind(name)
    target = parse(kind.example)
    check_target(kind, target)
    required = {p.name: (p.choices[0] if p.choices else 1) for p in kind.params if p.required}
    extra = {"by": 10} if name == "offset_rewind" else {}
    params = check_params(kind, {**required, **extra}, target)
    for p in kind.params:
        if p.default is not None:
            assert params[p.name] == p.default
            if p.min is not None:
                assert p.min <= p.default  # type: ignore[operator]
    if kind.category == "link" and name not in ("partition", "isolate"):
        assert {"stream", "toxicity"} <= set(params)
    if name in DEFAULT_TARGETS:
        check_target(kind, parse(DEFAULT_TARGETS[name]))
    assert kind.signature().startswith(f"{name}(")
    json.dumps(kind.to_dict())
    assert all(p.describe() for p in kind.params)


def test_heal_semantics() -> None:
    healable = {k.name for k in kinds() if k.healable}
    assert {"kill", "stop", "pause", "partition", "latency", "isolate", "failpoint"} <= healable
    assert {
        "restart",
        "rolling_restart",
        "duplicate_retry",
        "duplicate_replay",
        "offset_rewind",
    }.isdisjoint(healable)


def test_unknown_kind() -> None:
    with pytest.raises(CatalogError) as e:
        fault_kind("partiton")
    assert e.value.field == "fault" and "did you mean 'partition'?" in e.value.message


# --- the vocabularies match the code that implements them --------------------------------


def test_settings_match_the_system() -> None:
    settings = pytest.importorskip("wiber.settings")
    fields = settings.Settings.model_fields
    for env, spec in SYSTEM_SETTINGS.items():
        name = env.removeprefix("WIBER_").lower()
        assert name in fields, f"{env} is not a field of wiber.settings.Settings"
        literal = typing.get_args(fields[name].annotation)
        if spec.choices and literal:
            assert set(spec.choices) == {str(v).lower() for v in literal}, env


def test_failpoints_match_the_system() -> None:
    failpoints = pytest.importorskip("wiber.failpoints")
    assert set(FAILPOINTS) == set(failpoints.POINTS)
    assert all(name.split(".")[0] == role for name, role in FAILPOINTS.items())


def test_checker_names_match_the_suite() -> None:
    suite = pytest.importorskip("wiber_harness.checkers.suite")
    assert set(CHECKERS) == set(suite.CHECKERS)


# --- the scenario catalog ----------------------------------------------------------------


def catalog_files() -> list[Path]:
    return list_scenarios(SCENARIOS) + list_scenarios(SCENARIOS / "unsafe")


@pytest.mark.parametrize("path", catalog_files(), ids=lambda p: p.stem)
def test_catalog_file_loads(path: Path) -> None:
    s = load_scenario(path)
    assert s.name == path.stem
    assert path.read_text().startswith("#"), "each file starts with a comment saying what it shows"
    assert 30 <= s.workload.duration <= 90
    assert 100 <= s.workload.rate <= 200
    unsafe = path.parent.name == "unsafe"
    assert bool(s.expect.violation) == unsafe
    assert bool(s.topology.unsafe_settings()) == unsafe
    assert parse_scenario(s.to_yaml(), str(path)) == s
    q = s.quick()
    assert q.workload.duration >= QUICK_MIN_DURATION
    assert all(st.at < q.workload.duration for st in q.timeline)
    assert all((st.heal_time or 0) <= q.workload.duration for st in q.timeline)


def test_catalog_loads_as_a_whole() -> None:
    scenarios = load_scenarios([SCENARIOS, SCENARIOS / "unsafe"])
    names = {s.name for s in scenarios}
    assert len(names) == len(scenarios) >= 24
    for expected in (
        "baseline",
        "leader-kill",
        "broker-graceful-restart",
        "rolling-restart",
        "controller-kill",
        "broker-pause",
        "consumer-kill-random",
        "consumer-kill-failpoint",
        "consumer-pause-session-timeout",
        "api-kill",
        "client-broker-partition",
        "consumer-store-partition",
        "store-kill",
        "consumer-broker-latency",
        "api-broker-bandwidth",
        "duplicate-retry",
        "duplicate-replay",
        "offset-rewind",
        "mixed",
        "unsafe-acks1-leader-kill",
        "unsafe-autocommit-consumer-kill",
        "unsafe-no-unique-index-rewind",
        "unsafe-commit-past-store-failure",
        "unsafe-key-per-direction",
    ):
        assert expected in names


def test_load_scenarios_reports_every_bad_file_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE)
    (tmp_path / "b.yaml").write_text(BASE)
    (tmp_path / "c.yaml").write_text(BASE.replace("rate: 200", "rate: 0"))
    (tmp_path / "notes.txt").write_text("not a scenario")
    with pytest.raises(InvalidScenario) as e:
        load_scenarios([tmp_path])
    lines = str(e.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(str(tmp_path / "c.yaml")) and "workload.rate" in lines[0]
    assert lines[1] == (
        f"{tmp_path / 'b.yaml'}: name: 'leader-kill' is also the name of "
        f"{tmp_path / 'a.yaml'}; rename one of them"
    )


def test_list_scenarios(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("")
    (tmp_path / "a.yml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("")
    assert [p.name for p in list_scenarios(tmp_path)] == ["a.yml", "b.yaml"]
    assert [p.name for p in list_scenarios(tmp_path, recursive=True)] == [
        "a.yml",
        "b.yaml",
        "c.yaml",
    ]


def test_the_yaml_schema_in_the_docstring_is_a_valid_scenario() -> None:
    import wiber_harness.scenario as mod
    from wiber_harness.scenario.schema import validate

    doc = mod.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\nCross-field", 1)[0]
    text = "\n".join(line[4:] for line in block.splitlines()).replace("*:", ":")
    data = yaml.safe_load(text)
    data["timeline"][0].pop("heal_at")  # the docstring shows both alternatives
    data["expect"]["violation"] = False
    s = validate(data, "docstring")
    assert s.timeline[0].id == "kill-leader"


def test_quick_reports_thresholds_without_gating_them() -> None:
    s = load(
        BASE.replace("duration: 40", "duration: 60")
        + "expect:\n  thresholds: {error_rate: '<= 0.3'}\n"
    )
    promises = {"delivery": True, "ordering": True, "convergence": True, "redelivery": True}
    assert s.expect.judge(promises, {"error_rate": 0.5}) == (
        False,
        ["error_rate is 0.5, expected <= 0.3"],
    )
    q = s.quick()
    assert q.expect.gate_thresholds is False
    assert q.expect.judge(promises, {"error_rate": 0.5}) == (
        True,
        ["not gated: error_rate is 0.5, expected <= 0.3"],
    )
    assert q.expect.judge(promises, {}) == (True, ["not gated: error_rate was not measured"])
    assert q.expect.judge(promises, {"error_rate": 0.1}) == (True, [])
    # a broken promise still fails the quick run
    verdict, why = q.expect.judge({**promises, "delivery": False}, {"error_rate": 0.5})
    assert verdict is False and why[0] == "delivery found a violation"
    # the stored scenario keeps the setting, so `check` on a quick run judges it the same way
    assert parse_scenario(q.to_yaml(), "stored").expect.gate_thresholds is False
