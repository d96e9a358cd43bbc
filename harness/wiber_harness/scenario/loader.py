"""Reading scenario files: YAML in, validated :class:`Scenario` out.

:func:`parse_scenario` validates YAML text, :func:`load_scenario` one file,
:func:`load_scenarios` files and folders together (every problem of every
file in one :class:`~wiber_harness.errors.InvalidScenario`; two scenarios
with one name are an error), :func:`list_scenarios` finds the files of a
folder. Files are read through :mod:`wiber_harness.scenario.reading`:
size, encoding, control characters, nesting and alias expansion are bounded
before the document is built, YAML is read safely (no arbitrary objects), a
duplicate key is an error (PyYAML would silently keep the last one), and
syntax errors name the line and column. A folder given to
:func:`load_scenarios` that holds no scenario file is an error too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from wiber_harness.errors import InvalidScenario
from wiber_harness.scenario.reading import load_yaml, read_text
from wiber_harness.scenario.schema import Scenario, validate


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as YAML text; ``source`` names it in messages."""
    return validate(load_yaml(text, source), source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; raises InvalidScenario."""
    text = read_text(
        path,
        "scenario",
        "no such scenario file; check the path ('wiber-harness scenarios' lists them)",
    )
    return parse_scenario(text, str(path))


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
    scenarios with the same name are an error, and so is a folder without
    scenario files (a run of nothing must not pass).
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        found = list_scenarios(p)
        if not found:
            raise InvalidScenario(
                f"{p}: no scenario file (*.yaml, *.yml) in this folder; "
                "pass a folder that holds scenarios, such as scenarios/, or a scenario file"
            )
        files += found
    if not files:
        raise InvalidScenario("no scenario given; pass scenario files or a folder of them")
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
                f"{s.source}: name: '{s.name}' is also the name of {by_name[s.name]}; "
                "rename one of them"
            )
        by_name.setdefault(s.name, s.source)
    if errors:
        raise InvalidScenario("\n".join(errors))
    return scenarios


__all__ = ["list_scenarios", "load_scenario", "load_scenarios", "parse_scenario"]
