"""Scenario and profile files written to hurt: refused fast, small, in one sentence.

Each test is a named regression of issue 15 ("Hardening"): the reading limits
of :mod:`wiber_harness.scenario.reading` are checked before the work they
bound. The measured ones run the validation in a child process
(:func:`tests.unit.cliout.measured`) and hold it to 1 s and 100 MB.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.cliout import ROOT, bad_input, invoke, measured
from wiber_harness.errors import InvalidScenario
from wiber_harness.printable import LINE_WIDTH
from wiber_harness.scenario import load_scenario
from wiber_harness.scenario.profile import load_profile
from wiber_harness.scenario.reading import MAX_DEPTH, MAX_FILE_BYTES

BASE = (ROOT / "scenarios" / "baseline.yaml").read_text()
PROFILE = (ROOT / "profiles" / "wiber.toml").read_text()


def alias_bomb(levels: int = 9) -> str:
    """The 'billion laughs' document: ~600 bytes that expand to 9**9 values."""
    lines = ['  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    return (
        "name: bomb\ndescription: alias bomb\nx:\n"
        + "\n".join(lines)
        + f"\nworkload:\n  rate: *a{levels - 1}\n  duration: 10\n"
    )


def problem(path: Path) -> str:
    """The one sentence loading ``path`` raises (scenario or profile by suffix)."""
    load = load_profile if path.suffix == ".toml" else load_scenario
    with pytest.raises(InvalidScenario) as e:
        load(path)
    message = str(e.value)
    assert "\n" not in message, message
    return message


def put(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def within_budget(result: dict[str, object]) -> None:
    # CPU time: the work's own, whatever else loads the machine; wall time a sanity bound
    assert result["cpu"] < 1.0 and result["seconds"] < 5.0, result  # type: ignore[operator]
    assert result["grew_mb"] < 100, result  # type: ignore[operator]


# --- alias bombs, nesting, size -------------------------------------------------------


def test_alias_bomb_is_refused_in_under_a_second_and_100_mb(tmp_path: Path) -> None:
    # was: 20-33 s, 1.3-2.2 GB, then a MemoryError traceback and exit 1
    f = put(tmp_path, "bomb.yaml", alias_bomb())
    assert len(alias_bomb()) < 700
    r = measured(f)
    within_budget(r)
    entry = r["entry"]
    assert isinstance(entry, dict) and entry["valid"] is False
    assert "aliases" in entry["problems"][0] and ":8:" in entry["problems"][0]
    line = bad_input(invoke("run", str(f)), "alias")
    assert len(line) < 300


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = BASE.replace("  rate: 150\n  duration: 30\n", "  rate: &r 30\n  duration: *r\n")
    sc = load_scenario(put(tmp_path, "a.yaml", text))
    assert (sc.workload.rate, sc.workload.duration) == (30, 30)


def test_merge_keys_are_understood(tmp_path: Path) -> None:
    text = "name: merged\ndescription: d\nworkload:\n  <<: {rate: 10, duration: 5}\n  duration: 6\n"
    sc = load_scenario(put(tmp_path, "m.yaml", text))
    assert (sc.workload.rate, sc.workload.duration) == (10, 6)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "refers to a value that contains it" in problem(put(tmp_path, "r.yaml", "a: &a [*a]\n"))


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nworkload: " + "[" * 5000 + "]" * 5000 + "\n",
        "name: x\n" + "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused(tmp_path: Path, text: str) -> None:
    message = problem(put(tmp_path, "deep.yaml", text))
    assert "nest" in message


def test_a_50_mb_scenario_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # was: 72 s and 820 MB before a one-line rejection
    f = tmp_path / "huge.yaml"
    with f.open("wb") as fh:
        fh.write(b"name: x\ndescription: ")
        fh.truncate(50 << 20)  # sparse: 50 MB without writing them
    r = measured(f)
    within_budget(r)
    entry = r["entry"]
    assert isinstance(entry, dict)
    assert f"more than the {MAX_FILE_BYTES:,}" in entry["problems"][0]
    bad_input(invoke("run", str(f)), "52,428,800 bytes")


def test_a_file_just_under_the_limit_is_judged_within_the_budget(tmp_path: Path) -> None:
    # 1 MiB of small values: refused by the value count, not after building them all
    body = "".join(f"  - {{k: {i}}}\n" for i in range(100_000))
    text = ("name: x\ndescription: d\nitems:\n" + body)[: MAX_FILE_BYTES - 10]
    text = text[: text.rfind("\n") + 1]
    f = put(tmp_path, "big.yaml", text)
    within_budget(measured(f))


def test_a_pipe_or_a_folder_is_named_and_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it to read would block until a writer came
    assert "not a regular file" in problem(fifo)
    assert "is a folder" in problem(tmp_path)


# --- encoding and control characters -----------------------------------------------


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        (b"name: x\x1b[31m\n", ":1:8:", "U+001B"),
        (b"name: x\x00\n", ":1:8:", "U+0000"),
        ("name: x\u202e\n".encode(), ":1:8:", "U+202E"),
        (b"name: caf\xe9\n", ":1:10:", "not UTF-8"),
    ],
    ids=["escape", "nul", "bidi-override", "latin-1"],
)
def test_control_characters_and_non_utf8_are_refused_at_their_place(
    tmp_path: Path, data: bytes, where: str, what: str
) -> None:
    message = problem(put(tmp_path, "c.yaml", data))
    assert where in message and what in message
    assert "\x1b" not in message and "\x00" not in message


def test_an_escape_sequence_written_as_a_yaml_escape_is_refused(tmp_path: Path) -> None:
    # the file is clean text, but "\e" decodes to ESC: checked after parsing too
    text = BASE + 'timeline:\n  - {at: 1, fault: "\\e]0;pwned\\akill", target: kafka.1}\n'
    assert "\x1b" not in text
    message = problem(put(tmp_path, "e.yaml", text))
    assert "timeline[0].fault" in message and "U+001B" in message
    assert "\x1b" not in message and "\x07" not in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    assert load_scenario(put(tmp_path, "bom.yaml", "\ufeff" + BASE)).name == "baseline"


# --- values that cannot be built, and values in sentences ------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\nworkload:\n  rate: " + "9" * 5000 + "\n", "cannot be read"),
        ("name: x\nworkload: 2001-13-45\n", "cannot be read"),
        ("name: !!int abc\n", "cannot be read"),
        # found by the fuzz test: PyYAML raised AttributeError (a traceback, exit 1)
        ("name: !!timestamp null\n", "cannot be read"),
        ("a: !!python/object:os.system ['ls']\n", "without tags"),
        ("? [a, b]\n: 1\n", "unhashable"),
        ("a: 1\n---\nb: 2\n", "YAML syntax error"),
    ],
    ids=[
        "5000-digits",
        "bad-date",
        "bad-int-tag",
        "timestamp-tag-on-null",
        "python-tag",
        "list-key",
        "two-documents",
    ],
)
def test_values_that_cannot_be_built_are_one_sentence(
    tmp_path: Path, text: str, needle: str
) -> None:
    assert needle in problem(put(tmp_path, "v.yaml", text))


def test_a_36_digit_seed_is_refused_when_the_file_is_read(tmp_path: Path) -> None:
    # was: accepted, then the run failed after the stack had started
    text = BASE.replace("  duration: 30\n", "  duration: 30\n  seed: " + "9" * 36 + "\n")
    assert "workload.seed: must be <= 4294967295" in problem(put(tmp_path, "s.yaml", text))
    text = BASE.replace("  duration: 30\n", "  duration: 30\n  seed: -1\n")
    assert "workload.seed: must be >= 0" in problem(put(tmp_path, "s.yaml", text))


def test_rendered_values_are_bounded(tmp_path: Path) -> None:
    # was: the whole value in the sentence (`!r`)
    long_list = "[" + ", ".join(str(i) for i in range(5000)) + "]"
    text = BASE.replace("rate: 150", f"rate: {long_list}")
    message = problem(put(tmp_path, "b.yaml", text))
    assert "workload.rate: must be a number, not [0, 1, 2, 3, ...]" in message
    assert len(message) < 300, message
    name = "k" * 10_000
    fault = BASE + f"timeline:\n  - {{at: 1, fault: {name}, target: kafka.1}}\n"
    message = problem(put(tmp_path, "f.yaml", fault))
    assert "unknown fault 'kkkk" in message and len(message) < LINE_WIDTH, len(message)


# --- profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (PROFILE + "\n[extra]\nx = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        (PROFILE + "\n[extra]\nx = " + "[" * 80 + "]" * 80 + "\n", "nested deeper than"),
        (PROFILE + "\n[extra]\nx = " + "9" * 5000 + "\n", "cannot be read"),
        (PROFILE + '\n[extra]\nx = "\\u001b[31m"\n', "U+001B"),
        (PROFILE.replace('name = "wiber"', 'name = "wiber\x07"'), "U+0007"),
        (PROFILE + '\n[extra]\nx = "' + "y" * 30_000 + '"\n', "characters long"),
    ],
    ids=["deep-3000", "deep-80", "5000-digits", "escape", "bell", "long-text"],
)
def test_hostile_profiles_are_one_sentence(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in problem(put(tmp_path, "p.toml", text))


def test_a_50_mb_profile_is_refused_before_it_is_read(tmp_path: Path) -> None:
    f = tmp_path / "huge.toml"
    with f.open("wb") as fh:
        fh.write(b'name = "x"\n')
        fh.truncate(50 << 20)
    r = measured(f)
    within_budget(r)
    assert "more than the" in r["entry"]["problems"][0]


def test_a_profile_value_in_a_sentence_is_bounded(tmp_path: Path) -> None:
    text = PROFILE.replace('ready = "metrics"', "ready = [" + ", ".join(["1"] * 3000) + "]", 1)
    message = problem(put(tmp_path, "p.toml", text))
    assert "consumer.ready" in message and len(message) < 400, message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("k.yaml", 'name: x\ndescription: d\nworkload: {rate: 1, duration: 1}\n"a\\nb": 1\n'),
        ("k.toml", PROFILE + '\n["a\\nb"]\nx = 1\n'),
    ],
    ids=["yaml", "toml"],
)
def test_a_key_with_a_newline_is_still_one_line(tmp_path: Path, name: str, text: str) -> None:
    # found by the long fuzz run: the key was rendered raw, so one problem took two lines
    # and the second did not name the file
    assert "a\\nb" in problem(put(tmp_path, name, text))
