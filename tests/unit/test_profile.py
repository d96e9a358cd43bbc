"""System profiles: the shipped Wiber profile is the default system, another
pipeline's names load as written, and every bad input is one sentence that
names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.errors import InvalidScenario
from wiber_harness.scenario.profile import load_profile, profile_from_dict, profile_to_toml

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
name = "other"
[api]
argv = ["{python}", "-m", "other.api", "--port", "{port}"]
[consumer]
argv = ["{python}", "-m", "other.worker"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.toml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InvalidScenario) as e:
        load_profile(write(tmp_path, text))
    return str(e.value).splitlines()


def test_shipped_wiber_profile_is_the_default_system() -> None:
    assert load_profile(ROOT / "profiles" / "wiber.toml") == DEFAULT_SYSTEM


def test_generated_profile_round_trips() -> None:
    import tomllib

    assert profile_from_dict(tomllib.loads(profile_to_toml(DEFAULT_SYSTEM))) == DEFAULT_SYSTEM


def test_naive_profile_has_its_own_names() -> None:
    spec = load_profile(ROOT / "tests" / "naive" / "naive.toml")
    assert (spec.topic, spec.group, spec.db, spec.collection) == (
        "naive.chat",
        "naive-workers",
        "naive",
        "msgs",
    )
    assert spec.api.send_route == "/v1/send"
    assert (spec.api.from_field, spec.api.to_field, spec.api.content_field) == (
        "from",
        "to",
        "text",
    )
    assert spec.api.key_field == "id" and spec.api.key_header is None
    assert spec.fields["key"] == "cid" and spec.fields["partition"] == "p"
    assert spec.read_path == "/v1/conv/{user1}/{user2}" and spec.read_items == "items"
    assert spec.consumer_ready == "none"
    # {profile_dir} is filled in at load, every other template at node start
    assert spec.env["PYTHONPATH"] == str((ROOT / "tests" / "naive").resolve())
    assert (
        spec.render_env(
            {
                "kafka_bootstrap": "h:1",
                "store_uri": "mongodb://x",
                "topic": "t",
                "group": "g",
                "db": "d",
                "collection": "c",
                "consumer_id": "consumer-1",
                "delivery_log": "/l",
            }
        )["NAIVE_BOOTSTRAP"]
        == "h:1"
    )


def test_minimal_profile_takes_wiber_defaults_for_the_rest(tmp_path: Path) -> None:
    spec = load_profile(write(tmp_path, MINIMAL))
    assert spec.name == "other"
    assert spec.api_argv == ("{python}", "-m", "other.api", "--port", "{port}")
    assert spec.topic == DEFAULT_SYSTEM.topic and spec.api == DEFAULT_SYSTEM.api
    assert spec.env == DEFAULT_SYSTEM.env


def test_false_means_none_for_optional_names(tmp_path: Path) -> None:
    spec = load_profile(
        write(tmp_path, MINIMAL + "[http]\nkey_header = false\nconversation_field = false\n")
    )
    assert spec.api.key_header is None and spec.api.conversation_field is None
    assert spec.api.key_field == "clientMessageId"


def test_unknown_keys_are_rejected_with_a_suggestion(tmp_path: Path) -> None:
    lines = problems(
        tmp_path, MINIMAL + '[http]\nsend_rout = "/x"\n[stored]\nmesage_id = "id"\n[extras]\n'
    )
    assert len(lines) == 3
    assert lines[0].startswith(
        f"{tmp_path / 'p.toml'}: extras: unknown key 'extras'; did you mean 'extra'?"
    )
    assert any(
        "http.send_rout: unknown key 'send_rout' in [http]; did you mean 'send_route'?" in x
        for x in lines
    )
    assert any("stored.mesage_id: unknown key" in x and "'message_id'" in x for x in lines)


def test_missing_required_keys(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[names]\ntopic = "t"\n')
    assert [x.split(": ")[1] for x in lines] == ["name", "api.argv", "consumer.argv"]
    assert all("required key is missing; add" in x for x in lines)


BASE: dict[str, Any] = {  # a profile as TOML data
    "name": "other",
    "api": {"argv": ["{python}", "-m", "other.api"]},
    "consumer": {"argv": ["{python}", "-m", "other.worker"]},
}
BAD_VALUES = [
    ("names", "collections", "messages*", "must be a non-empty list of collection name patterns"),
    ("names", "collections", [], "must be a non-empty list of collection name patterns"),
    ("api", "ready_path", "health", "must start with '/'; write '/health'"),
    ("consumer", "ready", "port", "use one of metrics, none"),
    (
        "env",
        "X",
        "{kafka_bootstrp}",
        "unknown template field '{kafka_bootstrp}'; did you mean 'kafka_bootstrap'?",
    ),
    ("env", "X", 5, "must be a string"),
    ("env", "X", "{port", "not a valid template"),
    ("read", "path", "/c/{user1}", "must hold both {user1} and {user2}"),
    ("read", "path", "/c/{a}/{b}", "unknown template field '{a}'"),
    ("read", "limit", 0, "whole number from 1"),
    ("http", "ok_statuses", 201, "list of HTTP statuses"),
    ("http", "multi_status", 2070, "whole number from 100 to 599"),
    ("http", "from_field", False, "non-empty string"),
    ("http", "key_field", "", "or false (none)"),
    ("names", "topic", 3, "non-empty string"),
    ("stored", "key", "", "non-empty string"),
]


@pytest.mark.parametrize(
    ("table", "key", "value", "words"),
    BAD_VALUES,
    ids=[f"{t}.{k}={v!r}" for t, k, v, _ in BAD_VALUES],
)
def test_bad_values_name_file_field_and_fix(
    table: str, key: str, value: object, words: str
) -> None:
    data = {**BASE, table: {**BASE.get(table, {}), key: value}}
    with pytest.raises(InvalidScenario) as e:
        profile_from_dict(data, "p.toml")
    lines = str(e.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"p.toml: {table}.{key}: "), lines[0]
    assert words in lines[0]


def test_bad_argv_template(tmp_path: Path) -> None:
    lines = problems(tmp_path, MINIMAL.replace('"{port}"]', '"{prot}"]'))
    assert lines == [
        f"{tmp_path / 'p.toml'}: api.argv[4]: unknown template field '{{prot}}'; "
        "did you mean 'port'? known fields are " + lines[0].split("known fields are ")[1]
    ]


def test_bad_name_and_syntax_and_missing_file(tmp_path: Path) -> None:
    assert (
        "name: 'Other Pipeline' is not allowed"
        in problems(tmp_path, MINIMAL.replace('"other"', '"Other Pipeline"'))[0]
    )
    assert "TOML syntax error" in problems(tmp_path, "name = other\n")[0]
    with pytest.raises(InvalidScenario, match="no such system profile; pass a TOML file"):
        load_profile(tmp_path / "nope.toml")


def test_run_command_reports_a_bad_profile_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wiber_harness.cli import main

    bad = write(tmp_path, MINIMAL + '[http]\nsend_rout = "/x"\n')
    with pytest.raises(SystemExit) as e:
        main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--system", str(bad)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "http.send_rout: unknown key 'send_rout'" in err and "Traceback" not in err


def test_tutorial_profile_describes_a_pipeline_that_keeps_nothing_for_the_harness() -> None:
    spec = load_profile(ROOT / "tests" / "tutorial" / "tutorial.toml")
    assert spec.name == "tutorial" and spec.api.ok_statuses == frozenset({200})
    assert (spec.read_items, spec.read_paging, spec.read_order) == (None, "none", "oldest_first")
    assert spec.api.tag == "prefix" and spec.fields["tag"] == "content"
    for name in ("key", "conversation", "partition", "offset", "stored_at_ns"):
        assert spec.fields[name] is None, name
    assert (spec.fields["sender"], spec.fields["recipient"]) == ("sender", "receiver")


def test_read_shapes_and_their_derived_defaults(tmp_path: Path) -> None:
    spec = load_profile(write(tmp_path, MINIMAL + '[read]\nitems = false\npaging = "offset"\n'))
    assert (spec.read_items, spec.read_paging, spec.read_param) == (None, "offset", "offset")
    spec = load_profile(write(tmp_path, MINIMAL + '[read]\npaging = "offset"\nparam = "skip"\n'))
    assert spec.read_param == "skip"
    spec = load_profile(
        write(tmp_path, MINIMAL + '[read]\npaging = "before"\nlimit_param = false\n')
    )
    assert (spec.read_param, spec.read_limit_param) == ("before", None)
    # a tag in a field of its own is looked for in that field, stored and read
    spec = load_profile(write(tmp_path, MINIMAL + '[http]\ntag = "field"\ntag_field = "ref"\n'))
    assert (spec.api.tag, spec.fields["tag"], spec.read_tag) == ("field", "ref", "ref")
    spec = load_profile(write(tmp_path, MINIMAL + "[http]\ntag = false\n"))
    assert spec.api.tag is None


def test_bad_read_shapes_and_tags_are_one_sentence_each(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        MINIMAL
        + '[http]\ntag = "middle"\n'
        + '[read]\nitems = false\npaging = "cursor"\norder = "random"\n'
        + "[stored]\nmessage_id = false\n",
    )
    assert len(lines) == 4, lines
    assert any(
        "http.tag: is 'middle'; use one of prefix, suffix, field or false" in x for x in lines
    )
    assert any("read.order: is 'random'; use one of oldest_first, newest_first" in x for x in lines)
    assert any("read.paging: cursor paging needs an object answer" in x for x in lines)
    assert any("stored.message_id: must be a non-empty string" in x for x in lines)
    lines = problems(
        tmp_path,
        MINIMAL + '[http]\ntag = "field"\ntag_field = "content"\n[read]\npaging = "none"\n'
        'param = "after"\n',
    )
    assert len(lines) == 2, lines
    assert any("http.tag_field: 'content' is already the content_field" in x for x in lines)
    assert any('read.param: has no use with paging = "none"' in x for x in lines)


def test_the_store_is_every_collection_the_patterns_name() -> None:
    existing = ["messages_read_003", "messages", "other", "messages_read_12", "bench_raw_insert_x"]
    existing += ["messages_read_000", "messages_read_0001", "messages_copy"]
    assert DEFAULT_SYSTEM.store_collection_names(existing) == [
        "messages",
        "messages_read_000",
        "messages_read_003",
    ]
    spec = profile_from_dict(
        {**BASE, "names": {"collection": "chat", "collections": ["{collection}", "archive_*"]}}
    )
    assert spec.collections == ("{collection}", "archive_*")
    assert spec.store_collection_names(["chat", "archive_2024", "messages", "chat_read_000"]) == [
        "archive_2024",
        "chat",
    ]
    # a profile that names no patterns takes Wiber's: its collection, and buckets it never has
    assert profile_from_dict(BASE).store_collection_names(["messages", "x"]) == ["messages"]


def test_a_collection_pattern_with_an_unknown_field_names_its_index() -> None:
    with pytest.raises(InvalidScenario) as e:
        profile_from_dict({**BASE, "names": {"collections": ["x", "{colection}_*"]}}, "p.toml")
    assert str(e.value) == (
        "p.toml: names.collections[1]: unknown template field '{colection}'; "
        "did you mean 'collection'? known fields are {collection}"
    )
