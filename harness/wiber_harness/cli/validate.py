"""``wiber-harness validate FILES...``: check scenario and profile files, start nothing.

Each argument is a scenario (``.yaml`` / ``.yml``), a system profile
(``.toml``) or a folder (its scenario files, subfolders included). Every file
is read and validated exactly as ``run`` would before starting a stack
(bounded reading, the schema, the fault catalog, the target grammar; two
scenarios with one name are a problem too), and nothing else happens: no
provisioning, no process, no network.

Prints ``ok  FILE  (scenario NAME)`` per valid file and every problem as its
sentence; exit 0 when every file is valid, 2 when any is not (bad input: the
harness could not decide). ``--json`` prints one document instead (see
:mod:`wiber_harness.cli._common`): ``files``, each with ``path``, ``kind``
(``scenario``, ``profile`` or ``unknown``), ``valid``, ``name`` and
``problems`` (sentences), and ``valid`` for all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wiber_harness.cli import cli
from wiber_harness.cli._common import emit_json, json_option, paint, say
from wiber_harness.printable import MAX_LINES, one_line
from wiber_harness.verdict import EXIT_UNKNOWN, EXIT_VALID

SCENARIO_SUFFIXES = (".yaml", ".yml")
PROFILE_SUFFIXES = (".toml",)


def _files(paths: tuple[Path, ...]) -> tuple[list[Path], list[dict[str, Any]]]:
    """The files to check, and a problem entry for each folder that holds none."""
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.scenario import list_scenarios

    files: list[Path] = []
    empty: list[dict[str, Any]] = []
    for p in paths:
        if not p.is_dir():
            files.append(p)
            continue
        try:
            found = list_scenarios(p, recursive=True)
        except InvalidScenario as e:  # pragma: no cover - is_dir() said it was a folder
            found, why = [], str(e)
        else:
            why = (
                f"{p}: no scenario file (*.yaml, *.yml) in this folder or below; "
                "pass scenario or profile files, or a folder that holds scenarios"
            )
        if not found:
            empty.append({"path": str(p), "kind": "folder", "valid": False, "problems": [why]})
        files += found
    return files, empty


def check_file(path: Path) -> dict[str, Any]:
    """One file's entry: its kind, whether it is valid, its name, its problems."""
    from wiber_harness.errors import InvalidScenario
    from wiber_harness.scenario import load_scenario
    from wiber_harness.scenario.profile import load_profile

    suffix = path.suffix.lower()
    entry: dict[str, Any] = {"path": str(path), "kind": "unknown", "valid": False, "name": None}
    try:
        if suffix in SCENARIO_SUFFIXES:
            entry["kind"] = "scenario"
            entry["name"] = load_scenario(path).name
        elif suffix in PROFILE_SUFFIXES:
            entry["kind"] = "profile"
            entry["name"] = load_profile(path).name
        else:
            raise InvalidScenario(
                f"{path}: not a scenario (.yaml, .yml) or a system profile (.toml); "
                "pass one of those"
            )
    except InvalidScenario as e:
        problems = [one_line(p) for p in str(e).split("\n")]
        if len(problems) > MAX_LINES:
            more = len(problems) - MAX_LINES
            problems = [*problems[:MAX_LINES], f"{path}: ... and {more} more problems"]
        entry["problems"] = problems
        return entry
    entry["valid"] = True
    entry["problems"] = []
    return entry


@cli.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def validate_cmd(paths: tuple[Path, ...], as_json: bool) -> int:
    """Check scenario (.yaml) and profile (.toml) files without starting anything.

    Exit 0 when every file is valid, 2 when any is not.
    """
    files, entries = _files(paths)
    entries += [check_file(f) for f in files]
    by_name: dict[str, str] = {}
    for e in entries:
        if e["kind"] != "scenario" or not e["valid"]:
            continue
        if e["name"] in by_name:
            e["valid"] = False
            e["problems"].append(
                f"{e['path']}: name: '{e['name']}' is also the name of {by_name[e['name']]}; "
                "rename one of them"
            )
        by_name.setdefault(e["name"], e["path"])
    ok = all(e["valid"] for e in entries)
    code = EXIT_VALID if ok else EXIT_UNKNOWN
    if as_json:
        return emit_json("validate", code, valid=ok, files=entries)
    for e in entries:
        if e["valid"]:
            say(f"  {e['path']}  ({e['kind']} {e['name']})", styled=paint("ok", "green"))
        for problem in e["problems"]:
            say(problem, err=True)
    bad = sum(1 for e in entries if not e["valid"])
    if bad and len(entries) > 1:
        say(f"{bad} of {len(entries)} files are not valid", err=True)
    return code


__all__ = ["check_file", "validate_cmd"]
