"""pytest plugin (registered through the ``pytest11`` entry point).

The entry point makes the plugin active in every project of the Python
environment the harness is installed in, so it collects nothing unless asked:

* scenario files are collected only when the project names their folders in
  its pytest configuration (``wiber_scenarios = scenarios``, paths relative
  to the configuration file; every ``*.yaml`` / ``*.yml`` below them is a
  scenario) or when ``--wiber`` is given (then any YAML file in a folder
  named ``scenarios`` that looks like a scenario is one). Each file is one
  test item, named after the scenario; the item runs the scenario on a fresh
  stack and fails when the verdict is not valid (an unsafe scenario is valid
  when it produces its violation).
* A failure says which: its report's first line is ``VIOLATION: <sentence>``
  (a promise was broken) or ``UNKNOWN: <sentence>`` (the harness could not
  decide, e.g. a provisioning failure, shown as its one sentence, never as a
  traceback of the plugin); the progress letter is ``V`` or ``U`` and the
  verbose word ``VIOLATION`` or ``UNKNOWN`` instead of ``FAILED`` (the test
  still counts as failed). The checkers' summary and the run folder follow.
* Fixtures for Python-written scenarios: ``wiber_cluster`` (session-scoped
  running stack with the pipeline) and ``run_scenario`` (run a scenario file
  or object with the command-line options below; returns the RunResult).
* Options: ``--wiber``, ``--wiber-backend``, ``--wiber-seed``,
  ``--wiber-quick``, ``--wiber-out``, ``--wiber-set NAME=VALUE``
  (repeatable; a system setting such as an unsafe one, on top of the
  scenario's own, checked against the system's settings at start-up),
  ``--wiber-system PROFILE.toml`` (drive another implementation of the
  pipeline; a bad profile is a usage error with one sentence per problem),
  ``--wiber-target DEPLOY.toml`` (attach to a running deployment instead of
  starting a stack; a scenario it cannot run is skipped with the one-sentence
  reason the CLI would refuse it with). Markers ``integration``, ``slow``,
  ``scenario`` and ``compose`` are registered, so
  ``--strict-markers`` is clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wiber_harness.printable import one_line, printable
from wiber_harness.verdict import quiet_word, word

if TYPE_CHECKING:
    from wiber_harness.cluster.base import Cluster
    from wiber_harness.cluster.deployment import Deployment
    from wiber_harness.cluster.system_spec import SystemSpec
    from wiber_harness.judge import RunResult
    from wiber_harness.scenario import Scenario

_DEPLOYMENT = pytest.StashKey["Deployment"]()
VERDICT_PROPERTY = "wiber_verdict"  # user property: VIOLATION or UNKNOWN of a failed item
MARKERS = (
    "integration: needs the real local stack (Kafka, store, Toxiproxy)",
    "slow: takes more than a minute",
    "scenario: runs a scenario file on the real stack",
    "compose: needs a Docker engine and compose (the compose backend)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("wiber", "Wiber fault-injection harness")
    g.addoption(
        "--wiber",
        action="store_true",
        default=False,
        help="collect scenario files (YAML in a folder named 'scenarios') as Wiber tests",
    )
    parser.addini(
        "wiber_scenarios",
        type="paths",
        default=[],
        help="folders whose scenario files (*.yaml, *.yml) are collected as Wiber tests",
    )
    g.addoption(
        "--wiber-backend",
        default="local",
        choices=("local", "compose"),
        help="cluster backend for scenario tests (default: local)",
    )
    g.addoption(
        "--wiber-seed",
        type=_seed,
        default=None,
        help="override every scenario's workload seed (0..2**32-1)",
    )
    g.addoption(
        "--wiber-quick",
        action="store_true",
        default=False,
        help="run scenarios in their quick form",
    )
    g.addoption("--wiber-out", default=str(Path("reports") / "runs"), help="where run folders go")
    g.addoption(
        "--wiber-system",
        default=None,
        metavar="PROFILE.toml",
        help="system profile of the pipeline under test (default: Wiber itself)",
    )
    g.addoption(
        "--wiber-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=(
            "extra system setting (env) for every scenario run, "
            "e.g. WIBER_CONSUMER_COMMIT_MODE=auto"
        ),
    )
    g.addoption(
        "--wiber-target",
        default=None,
        metavar="DEPLOY.toml",
        help="attach to the running deployment this target file describes (backend attach)",
    )


def _seed(text: str) -> int:
    from wiber_harness.scenario.schema import MAX_SEED

    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"{text} is not a seed from 0 to {MAX_SEED}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    for m in MARKERS:
        config.addinivalue_line("markers", m)
    pairs = list(config.getoption("--wiber-set") or [])
    if pairs:  # a typo must not silently change nothing: checked before any test runs
        from wiber_harness.errors import InvalidScenario
        from wiber_harness.scenario.fields import check_overrides

        try:
            own = config.getoption("--wiber-system") is None  # another pipeline has its own names
            check_overrides(_settings(pairs), "--wiber-set", own=own)
        except InvalidScenario as e:
            raise pytest.UsageError(printable(str(e))) from None


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """A failed scenario reads VIOLATION or UNKNOWN, not FAILED (it still counts as failed)."""
    if report.when != "call" or not report.failed:
        return None
    verdict = dict(report.user_properties).get(VERDICT_PROPERTY)
    if verdict in ("VIOLATION", "UNKNOWN"):
        return "failed", str(verdict)[0], str(verdict)
    return None


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(r) for r in roots)


def _looks_like_scenario(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml") or "scenarios" not in path.parts:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4000).decode("utf-8", "replace")
    except OSError:
        return False
    return "\nname:" in f"\n{head}" and "workload:" in head


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """A scenario file, only where the project asked for them (see the module doc)."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    roots = [Path(p) for p in parent.config.getini("wiber_scenarios")]
    if roots and _under(file_path, roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    if parent.config.getoption("--wiber") and _looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from wiber_harness.errors import InvalidScenario
        from wiber_harness.scenario import load_scenario

        try:
            sc = load_scenario(self.path)
        except InvalidScenario as e:
            raise self.CollectError(printable(str(e))) from None
        item = ScenarioItem.from_parent(self, name=sc.name, scenario=sc)
        item.add_marker(pytest.mark.scenario)
        item.add_marker(pytest.mark.integration)
        yield item


class ScenarioFailed(Exception):
    """A scenario's verdict was not valid, or the harness could not decide.

    ``word`` is ``VIOLATION`` or ``UNKNOWN``; ``sentence`` says why in one
    line; ``details`` (the checkers' summary) follows it in the report.
    """

    def __init__(self, word: str, sentence: str, details: str = "") -> None:
        super().__init__(f"{word}: {sentence}")
        self.word, self.sentence, self.details = word, sentence, details

    def report(self) -> str:
        """The failure report: ``WORD: sentence`` first, then the details."""
        first = f"{self.word}: {one_line(self.sentence)}"
        return f"{first}\n{printable(self.details)}" if self.details else first


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kw: Any) -> None:
        super().__init__(**kw)
        self.scenario = scenario

    def runtest(self) -> None:
        from wiber_harness.errors import HarnessError
        from wiber_harness.faults.needs import NotSupported

        try:
            r = _run(self.config, self.scenario)
        except NotSupported as e:
            pytest.skip(f"the target cannot run this scenario: {e}")
        except HarnessError as e:  # setup, provisioning, checker: could not decide
            self.user_properties.append((VERDICT_PROPERTY, "UNKNOWN"))
            raise ScenarioFailed("UNKNOWN", str(e)) from None
        self.user_properties.append(("run_dir", str(r.run_dir)))
        if r.verdict is not True:
            self.user_properties.append((VERDICT_PROPERTY, word(r.verdict)))
            raise ScenarioFailed(word(r.verdict), headline(r), summarize(r))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.report()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


def headline(r: RunResult) -> str:
    """One sentence for a run that was not valid: its first reason, or its verdict."""
    if r.reasons:
        return f"scenario {r.scenario}: {r.reasons[0]} (run folder {r.run_dir})"
    return f"scenario {r.scenario} was judged {word(r.verdict)} (run folder {r.run_dir})"


def summarize(r: RunResult) -> str:
    """The checkers' summary of a run, as printed in a failing test."""
    lines = [f"scenario {r.scenario}: {word(r.verdict)}", f"run folder: {r.run_dir}"]
    for name, c in r.checks.items():
        v = quiet_word(c["valid"])
        counts = ", ".join(f"{k}={val}" for k, val in list(c["counts"].items())[:10])
        lines.append(f"  {name:<13} {v:<9} {counts}")
        for kind, ex in (c.get("examples") or {}).items():
            if ex:
                lines.append(f"  {'':<13} e.g. {kind}: {str(ex[:2])[:300]}")
        if c.get("error"):
            lines.append(f"  {'':<13} error: {c['error']}")
    lines += [f"  - {x}" for x in r.reasons]
    return "\n".join(lines)


def _settings(pairs: list[str]) -> dict[str, str]:
    from wiber_harness.cluster.system_spec import parse_settings

    try:
        return parse_settings(pairs, "--wiber-set")
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e


def _system(path: str | None) -> SystemSpec:
    from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.scenario.profile import load_profile

    if path is None:
        return DEFAULT_SYSTEM
    try:
        return load_profile(path)
    except InvalidScenario as e:
        raise pytest.UsageError(f"--wiber-system: {e}") from e


def _run(config: pytest.Config, scenario: Scenario, **overrides: Any) -> RunResult:
    from wiber_harness.runner import RunOptions, run_scenario

    opts = RunOptions(
        out_root=Path(config.getoption("--wiber-out")),
        seed=config.getoption("--wiber-seed"),
        quick=bool(config.getoption("--wiber-quick")),
        backend=str(config.getoption("--wiber-backend")),
        settings=_settings(list(config.getoption("--wiber-set"))),
        system=_system(config.getoption("--wiber-system")),
    )
    target = config.getoption("--wiber-target")
    if target:
        opts.backend = "attach"
        opts.deployment = _deployment(config, str(target))
        named = config.getoption("--wiber-system")
        if opts.deployment.system is not None:  # as the CLI does: the target's profile
            if named is not None and opts.system != opts.deployment.system:
                raise pytest.UsageError(
                    f"{target} names the system profile {opts.deployment.system_source} and "
                    f"--wiber-system names {named}; give the profile once"
                )
            opts.system = opts.deployment.system
    for k, v in overrides.items():
        setattr(opts, k, v)
    return run_scenario(scenario, opts)


def _deployment(config: pytest.Config, path: str) -> Deployment:
    """The ``--wiber-target`` file, loaded once per session (a bad file is a usage error)."""
    from wiber_harness.cluster.deployment import load_deployment
    from wiber_harness.errors import InvalidScenario

    cached = config.stash.get(_DEPLOYMENT, None)
    if cached is None:
        try:
            cached = load_deployment(path)
        except InvalidScenario as e:
            raise pytest.UsageError(str(e)) from None
        config.stash[_DEPLOYMENT] = cached
    return cached


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest) -> Callable[..., RunResult]:
    """Run a scenario (path or Scenario) with the --wiber-* options; returns the RunResult."""
    from wiber_harness.scenario import load_scenario

    def go(scenario: str | Path | Scenario, **overrides: Any) -> RunResult:
        sc = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
        return _run(request.config, sc, **overrides)

    return go


@pytest.fixture(scope="session")
def wiber_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running local stack with the Wiber pipeline, shared by the session."""
    from wiber_harness.cluster.base import ClusterConfig
    from wiber_harness.cluster.factory import make_cluster

    c = make_cluster("local", ClusterConfig(run_dir=tmp_path_factory.mktemp("wiber-stack")))
    c.start()
    try:
        yield c
    finally:
        c.close()
