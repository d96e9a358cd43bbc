"""Fuzz the scenario and profile readers through ``wiber-harness validate``: never a traceback.

Hypothesis draws scenario-shaped YAML and profile-shaped TOML
(:mod:`tests.unit.fuzz_documents`: a valid document, structural edits,
then byte edits with each format's dangerous tokens) and runs the real
command on each. The oracle, for every document:

* the command returns (no exception escapes ``main``: a traceback in a
  terminal) with exit 0 (valid) or 2 (bad input), never 1;
* for bad input, stderr holds one sentence per problem, each naming the file,
  with no control character and no longer than
  :data:`wiber_harness.printable.LINE_WIDTH`;
* each document is judged within 100 MB more peak memory and in under a
  second of CPU time (wall time varies
  with the machine's load: it is only held to 5 s).

:data:`~tests.unit.fuzz_documents.HOSTILE` files (alias bombs, nesting,
50 MB files, pipes, devices, ...) are each judged in one child process that
measures the time of each and the growth of its peak memory: under 1 s of
CPU each and 100 MB in all; then each through the command: exit 2, one line.

``WIBER_FUZZ_EXAMPLES`` sets the examples per format (default 150, about
20 s in all here); set it to thousands for a long run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.unit.cliout import bad_input, invoke
from tests.unit.fuzz_documents import HOSTILE, ROOT, toml_documents, yaml_documents
from wiber_harness.printable import CONTROL, LINE_WIDTH

EXAMPLES = int(os.environ.get("WIBER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STATS: dict[str, int] = {"tried": 0, "valid": 0, "refused": 0}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("fuzz")
    for warm in ("scenarios/baseline.yaml", "profiles/wiber.toml"):  # lazy imports first
        assert invoke("validate", str(ROOT / warm)).code == 0
    yield d
    print(f"\nfuzz: {STATS}")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def judge(path: Path, data: bytes) -> None:
    """The oracle of the module docstring, for one document."""
    path.write_bytes(data)
    peak, t0, c0 = _peak_mb(), time.perf_counter(), time.process_time()
    o = invoke("validate", str(path))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # the process's high-water mark may rise by at most what this call allocated on top of
    # what was live: a call that needed 100 MB more than the fuzzer holds shows up here
    # (hypothesis's own memory grows with the examples, so a whole-run bound would not)
    assert _peak_mb() - peak < 100, (_peak_mb() - peak, data[:200])
    STATS["tried"] += 1
    assert o.code in (0, 2), (o.code, o.err[-2000:])
    assert "Traceback" not in o.err, o.err[-3000:]
    # CPU time: the budget is the work's, not the shared machine's load (wall: a sanity bound)
    assert cpu < 1.0 and seconds < 5.0, (cpu, seconds, data[:200])
    if o.code == 0:
        STATS["valid"] += 1
        assert o.err == "", o.err
        return
    STATS["refused"] += 1
    assert o.lines, "exit 2 without a sentence"
    for line in o.lines:
        assert line.startswith(f"{path}"), line
        assert not CONTROL.search(line), repr(line)
        assert len(line) <= LINE_WIDTH + len(str(path)), len(line)


@FUZZ
@given(data=yaml_documents())
def test_fuzzed_scenarios_are_judged_or_refused_in_sentences(folder: Path, data: bytes) -> None:
    judge(folder / "fuzzed.yaml", data)


@FUZZ
@given(data=toml_documents())
def test_fuzzed_profiles_are_judged_or_refused_in_sentences(folder: Path, data: bytes) -> None:
    judge(folder / "fuzzed.toml", data)


_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from wiber_harness.cli.validate import check_file
check_file(Path(sys.argv[1]))  # warm: every lazy import done before measuring
check_file(Path(sys.argv[2]))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
for name in sys.argv[3:]:
    path = Path(name)
    t0, c0 = time.perf_counter(), time.process_time()
    entry = check_file(path)
    cpu = time.process_time() - c0
    out[path.parent.name] = {"seconds": time.perf_counter() - t0, "cpu": cpu, "entry": entry}
grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
print(json.dumps({"grew_mb": grew, "files": out}))
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    files = {}
    for name, (file_name, make, _) in HOSTILE.items():
        (root / name).mkdir()
        make(root / name / file_name)
        files[name] = root / name / file_name
    return files


def test_hostile_files_are_refused_under_a_second_and_100_mb(hostile: dict[str, Path]) -> None:
    root = ROOT
    limit = 3 << 30

    def cap() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    p = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            str(root / "scenarios" / "baseline.yaml"),
            str(root / "profiles" / "wiber.toml"),
            *map(str, hostile.values()),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(p.stdout)
    slow = {
        n: (r["cpu"], r["seconds"])
        for n, r in result["files"].items()
        if r["cpu"] >= 1.0 or r["seconds"] >= 5.0
    }
    assert not slow, slow
    assert result["grew_mb"] < 100, result["grew_mb"]
    for name, r in result["files"].items():
        entry = r["entry"]
        assert entry["valid"] is False and len(entry["problems"]) == 1, (name, entry)
        assert HOSTILE[name][2] in entry["problems"][0], (name, entry["problems"])
    worst = max(result["files"].items(), key=lambda kv: kv[1]["seconds"])
    print(f"\nhostile: slowest {worst[0]} {worst[1]['seconds']:.3f} s, "
          f"peak grew {result['grew_mb']:.0f} MB")  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_file_is_one_sentence_and_exit_2(
    name: str, hostile: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a hostile file reached run_scenario")

    monkeypatch.setattr("wiber_harness.runner.run_scenario", refuse)
    path = hostile[name]
    line = bad_input(invoke("validate", str(path)), str(path), HOSTILE[name][2])
    assert not CONTROL.search(line), repr(line)
    if path.suffix == ".toml":
        o = invoke("run", str(ROOT / "scenarios" / "baseline.yaml"), "--system", str(path))
    else:
        o = invoke("run", str(path))
    bad_input(o, HOSTILE[name][2])
