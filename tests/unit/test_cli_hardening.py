"""The command line refuses bad input before anything starts, and prints nothing raw.

Named regressions of issue 15 ("Hardening"), each through the real
``wiber-harness`` entry point (:func:`tests.unit.cliout.invoke`). A command
that would start a stack has ``run_scenario`` replaced by a function that
fails the test, so "refused before anything starts" is checked, not assumed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cliout import ROOT, bad_input, invoke
from tests.unit.runfolders import make_run
from wiber_harness.cli._common import paint, parse_sets, print_result, say
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec
from wiber_harness.errors import InvalidScenario
from wiber_harness.judge import RunResult
from wiber_harness.scenario.schema import MAX_SEED

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to run a scenario."""

    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("a scenario was run: the input should have been refused first")

    monkeypatch.setattr("wiber_harness.runner.run_scenario", refuse)


def fake_result(verdict: Any = False, reasons: tuple[str, ...] = ()) -> RunResult:
    checks = {"delivery": {"valid": verdict, "counts": {"lost": 3}, "error": None}}
    return RunResult(Path("reports/runs/x"), "baseline", verdict, list(reasons), checks, {})


# --- run: refused before anything starts ----------------------------------------------


def test_run_on_an_empty_folder_is_exit_2(tmp_path: Path, no_stack: None) -> None:
    # was: nothing printed, exit 0
    bad_input(invoke("run", str(tmp_path)), str(tmp_path), "no scenario file")


def test_repeat_below_one_is_refused(no_stack: None) -> None:
    # was: --repeat 0 ran once
    bad_input(invoke("run", BASELINE, "--repeat", "0"), "--repeat", "x>=1", "run -h")


@pytest.mark.parametrize(
    "args",
    [
        ["--seed", "9" * 36],
        ["--seed", "-1"],
        ["--seed", str(MAX_SEED), "--repeat", "2"],
    ],
    ids=["36-digits", "negative", "repeat-past-the-bound"],
)
def test_seeds_are_bounded_before_the_stack_starts(args: list[str], no_stack: None) -> None:
    # was: a 36-digit seed passed validation and failed after the stack started
    bad_input(invoke("run", BASELINE, *args), "--seed")


def test_the_cli_seed_bound_is_the_schemas() -> None:
    from wiber_harness.cli._common import MAX_SEED as CLI_MAX_SEED

    assert CLI_MAX_SEED == MAX_SEED == 2**32 - 1


def test_a_set_typo_is_refused_with_did_you_mean(no_stack: None) -> None:
    # was: WIBER_PRODUCR_ACKS=1 silently changed nothing
    line = bad_input(invoke("run", BASELINE, "--set", "WIBER_PRODUCR_ACKS=1"))
    assert "unknown system setting 'WIBER_PRODUCR_ACKS'" in line
    assert "did you mean 'WIBER_PRODUCER_ACKS'" in line
    bad_input(invoke("run", BASELINE, "--set", "WIBER_PRODUCER_ACKS=banana"), "use one of")
    bad_input(invoke("run", BASELINE, "--set", "NOEQUALS"), "expected NAME=VALUE")


def test_set_names_are_checked_against_the_system() -> None:
    assert parse_sets(("producer_acks=1",)) == {"WIBER_PRODUCER_ACKS": "1"}
    assert parse_sets(("WIBER_CONSUMER_COMMIT_MODE=AUTO",)) == {
        "WIBER_CONSUMER_COMMIT_MODE": "auto"
    }
    with pytest.raises(InvalidScenario, match="unknown system setting 'FOO'"):
        parse_sets(("FOO=1",), DEFAULT_SYSTEM)
    other = SystemSpec(name="theirs", api_argv=("x",), consumer_argv=("y",))
    assert parse_sets(("THEIR_BATCH=5",), other) == {"THEIR_BATCH": "5"}  # its own names
    with pytest.raises(InvalidScenario, match="did you mean 'WIBER_PRODUCER_ACKS'"):
        parse_sets(("WIBER_PRODUCR_ACKS=1",), other)


def test_other_commands_bound_their_seeds_too(no_stack: None) -> None:
    bad_input(invoke("suite", "--seed", "9" * 20), "--seed")
    bad_input(invoke("explore", "--seed", str(MAX_SEED), "--runs", "2"), "--seed")
    bad_input(invoke("explore", "--runs", "0"), "--runs")


# --- nothing user-written reaches the terminal raw ---------------------------------------


def test_an_escape_sequence_in_a_fault_name_is_refused_and_shown_escaped(
    tmp_path: Path, no_stack: None
) -> None:
    # was: the sequence reached the terminal raw in the "unknown fault" sentence
    f = tmp_path / "esc.yaml"
    f.write_text(
        Path(BASELINE).read_text()
        + 'timeline:\n  - {at: 1, fault: "\\e]0;pwned\\a\\e[2Jkill", target: kafka.1}\n'
    )
    o = invoke("run", str(f))
    line = bad_input(o, "timeline[0].fault", "U+001B")
    assert "\x1b" not in o.err and "\x07" not in o.err
    assert "\\x1b]0;pwned\\x07" in line


def test_a_file_name_with_an_escape_sequence_is_printed_escaped(tmp_path: Path) -> None:
    o = invoke("validate", str(tmp_path / "x\x1b[31m.yaml"))
    line = bad_input(o, "no such scenario file")
    assert "\x1b" not in o.err and "x\\x1b[31m.yaml" in line


def test_printed_results_escape_user_text(capsys: pytest.CaptureFixture[str]) -> None:
    print_result(fake_result(False, ("delivery: \x1b[2Jcleared \u202eevil",)))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2Jcleared \\u202eevil" in out


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "no_color", "coloured"),
    [(True, "", True), (True, "1", False), (False, "", False)],
    ids=["terminal", "NO_COLOR", "pipe"],
)
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str, coloured: bool
) -> None:
    # was: NO_COLOR ignored
    stream = Tty() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    monkeypatch.setenv("NO_COLOR", no_color)
    say(" baseline", styled=paint("VALID", "green", bold=True))
    text = stream.getvalue()
    assert ("\x1b[" in text) is coloured, repr(text)
    assert "VALID baseline" in text.replace("\x1b[32m", "").replace("\x1b[1m", "").replace(
        "\x1b[0m", ""
    )


# --- --json: one document on stdout, the same exit codes ----------------------------------


def document(out: str) -> dict[str, Any]:
    doc = json.loads(out)
    assert isinstance(doc, dict) and doc["schema"] == "wiber-cli/1"
    return doc


def test_faults_and_scenarios_json() -> None:
    o = invoke("faults", "--json")
    doc = document(o.out)
    assert o.code == 0 and doc["command"] == "faults" and doc["exit_code"] == 0
    assert {"name", "targets", "params"} <= set(doc["faults"][0])
    o = invoke("scenarios", "--json", str(ROOT / "scenarios"))
    doc = document(o.out)
    names = {s["name"] for s in doc["scenarios"]}
    assert o.code == 0 and {"baseline", "unsafe-acks1-leader-kill"} <= names
    unsafe = next(s for s in doc["scenarios"] if s["name"] == "unsafe-acks1-leader-kill")
    assert unsafe["unsafe"] is True and unsafe["timeline"][0]["fault"]


def test_run_json_puts_the_document_on_stdout_and_progress_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake(sc: Any, opts: Any) -> RunResult:
        opts.progress("baseline: starting the stack")
        return fake_result(False, ("delivery: 3 lost",))

    monkeypatch.setattr("wiber_harness.runner.run_scenario", fake)
    o = invoke("run", BASELINE, "--json")
    assert o.code == 1
    doc = document(o.out)
    assert doc["command"] == "run" and doc["exit_code"] == 1 and doc["verdict"] is False
    assert doc["runs"][0]["reasons"] == ["delivery: 3 lost"]
    assert "starting the stack" in o.err and "VIOLATION" in o.err


def test_json_error_is_a_document_too(tmp_path: Path, no_stack: None) -> None:
    o = invoke("run", str(tmp_path), "--json")
    bad_input(o, "no scenario file")
    doc = document(o.out)
    assert doc["command"] == "run" and doc["exit_code"] == 2
    assert "no scenario file" in doc["error"]
    o = invoke("run", BASELINE, "--json", "--repeat", "0")
    bad_input(o, "--repeat")
    assert document(o.out)["exit_code"] == 2


def test_check_json(tmp_path: Path) -> None:
    good = make_run(tmp_path, "baseline")
    lost = make_run(tmp_path, "lossy", lost=3, seed=2)
    o = invoke("check", str(good), "--json")
    doc = document(o.out)
    assert o.code == 0 and doc["verdict"] is True and doc["runs"][0]["scenario"] == "baseline"
    o = invoke("check", str(good), str(lost), "--json")
    doc = document(o.out)
    assert (
        o.code == 1
        and doc["exit_code"] == 1
        and [r["verdict"] for r in doc["runs"]]
        == [
            True,
            False,
        ]
    )


def test_doctor_json() -> None:
    o = invoke("doctor", "--json")
    doc = document(o.out)
    assert o.code == doc["exit_code"] and o.code in (0, 2)
    assert doc["ok"] is (o.code == 0)
    assert {c["component"] for c in doc["components"]} >= {"cache"}


# --- validate ------------------------------------------------------------------------------


def test_validate_checks_files_and_folders_without_starting_anything(
    tmp_path: Path, no_stack: None
) -> None:
    o = invoke("validate", str(ROOT / "scenarios"), str(ROOT / "profiles" / "wiber.toml"))
    assert o.code == 0 and "ok" in o.out and "(profile wiber)" in o.out, o
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: d\n")
    line = bad_input(invoke("validate", str(bad)), str(bad), "workload")
    assert "Traceback" not in line
    o = invoke("validate", str(bad), BASELINE, str(tmp_path / "notes.txt"), "--json")
    doc = document(o.out)
    assert o.code == 2 and doc["valid"] is False
    kinds = {Path(f["path"]).name: (f["kind"], f["valid"]) for f in doc["files"]}
    assert kinds == {
        "bad.yaml": ("scenario", False),
        "baseline.yaml": ("scenario", True),
        "notes.txt": ("unknown", False),
    }


def test_validate_finds_two_scenarios_with_one_name(tmp_path: Path) -> None:
    for n in ("a.yaml", "b.yaml"):
        (tmp_path / n).write_text(Path(BASELINE).read_text())
    o = invoke("validate", str(tmp_path), "--json")
    assert o.code == 2
    problems = [p for f in document(o.out)["files"] for p in f["problems"]]
    assert any("is also the name of" in p for p in problems)


def test_suite_prints_a_plain_line_per_scenario_when_not_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a suite in CI or into a log file runs for many minutes: without a terminal the live
    # bars would be drawn only at the end, so each scenario's start and verdict get a line
    import wiber_harness.report as report
    import wiber_harness.runner as runner

    scen = tmp_path / "scenarios"
    scen.mkdir()
    for name in ("baseline", "leader-kill"):
        (scen / f"{name}.yaml").write_text((ROOT / "scenarios" / f"{name}.yaml").read_text())
    seen: list[str] = []

    def fake_run(sc: Any, opts: Any) -> RunResult:
        seen.append(sc.name)
        return RunResult(tmp_path / sc.name, sc.name, True, [], {}, {})

    class Paths:
        index = tmp_path / "index.html"

    monkeypatch.setattr(runner, "run_scenario", fake_run)
    monkeypatch.setattr(report, "build_report", lambda dirs, folder: Paths())
    r = invoke("suite", "--scenarios", str(scen), "--out", str(tmp_path / "out"))
    assert r.code == 0, r.err
    assert seen == ["baseline", "leader-kill"]
    lines = [ln for ln in r.err.splitlines() if ln.startswith("[")]
    assert lines[0] == "[1/2] baseline: running"
    assert lines[1].startswith("[1/2] baseline: VALID in ")
    assert lines[2] == "[2/2] leader-kill: running"
    assert lines[3].startswith("[2/2] leader-kill: VALID in ")
