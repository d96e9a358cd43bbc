"""Reading scenario files: YAML in, validated :class:`Scenario` out.

:func:`parse_scenario` validates YAML text, :func:`load_scenario` one file,
:func:`load_scenarios` files and folders together (every problem of every
file in one :class:`~wiber_harness.errors.InvalidScenario`; two scenarios
with one name are an error), :func:`list_scenarios` finds the files of a
folder. YAML is read safely (no arbitrary objects) and a duplicate key is an
error, where PyYAML would silently keep the last one; YAML syntax errors
name the line and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from wiber_harness.errors import InvalidScenario
from wiber_harness.scenario.schema import Scenario, validate


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
            "(indentation, a missing ':', or quote values that start with "
            "'>', '*', '&', '!' or '@')"
        ) from None
    except yaml.YAMLError as e:
        raise InvalidScenario(f"{source}: not valid YAML ({e}); fix the file") from None
    return validate(data, source)


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
                f"{s.source}: name: '{s.name}' is also the name of {by_name[s.name]}; "
                "rename one of them"
            )
        by_name.setdefault(s.name, s.source)
    if errors:
        raise InvalidScenario("\n".join(errors))
    return scenarios


__all__ = ["list_scenarios", "load_scenario", "load_scenarios", "parse_scenario"]
