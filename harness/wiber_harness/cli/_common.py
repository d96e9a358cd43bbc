"""What several commands share: progress lines, the run summary, options, settings.

Every command module imports from here, never from another command module:

* :func:`progress`: one live line on a terminal, plain lines elsewhere (CI);
* :func:`print_result`: a run's verdict, its checkers and reasons;
* :func:`parse_sets`: ``--set NAME=VALUE`` pairs as settings (a bad pair is a
  usage error);
* :func:`load_system`: the ``--system`` profile, or Wiber's own spec;
* :func:`utc_folder`: ``reports/<kind>/<UTC time>``, a command's default output;
* :func:`backend_option`, :func:`sets_option`, :func:`system_option`: the
  options several commands take, with the same names, defaults and help.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wiber_harness.cluster.factory import BACKENDS
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec, parse_settings
from wiber_harness.verdict import COLOURS, word

if TYPE_CHECKING:
    from wiber_harness.judge import RunResult

F = TypeVar("F", bound=Callable[..., Any])


def progress(line: str) -> None:
    """One live line on a terminal, plain lines elsewhere (CI logs)."""
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{line[:200]}", err=True, nl=False)
    else:
        click.echo(line, err=True)


def print_result(r: RunResult) -> None:
    """The verdict (coloured), the scenario and its folder; a line per checker; the reasons."""
    if sys.stderr.isatty():
        click.echo("", err=True)
    verdict = click.style(word(r.verdict), fg=COLOURS[r.verdict], bold=True)
    click.echo(f"{verdict}  {r.scenario}  ({r.run_dir})")
    for name, c in r.checks.items():
        counts = ", ".join(f"{k}={v}" for k, v in list(c["counts"].items())[:8])
        click.echo(f"  {name:<13} {word(c['valid']):<9} {counts}")
        if c.get("error"):
            click.echo(f"  {'':<13} error: {c['error']}")
    for reason in r.reasons:
        click.echo(f"  - {reason}")


def parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as settings; a malformed pair is a usage error."""
    try:
        return parse_settings(pairs, "--set")
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def load_system(path: Path | None) -> SystemSpec:
    """The system profile at ``path``, or Wiber's own spec when there is none."""
    if path is None:
        return DEFAULT_SYSTEM
    from wiber_harness.scenario.profile import load_profile

    return load_profile(path)


def utc_folder(kind: str) -> Path:
    """``reports/<kind>/<UTC time>``: a command's default output folder."""
    return Path("reports") / kind / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def backend_option(f: F) -> F:
    """``--backend local|compose`` (default local)."""
    option = click.option(
        "--backend", type=click.Choice(list(BACKENDS)), default="local", show_default=True
    )
    return option(f)


def sets_option(help: str) -> Callable[[F], F]:
    """``--set NAME=VALUE`` (repeatable), with the command's own help text."""
    return click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help=help)


def system_option(f: F) -> F:
    """``--system PROFILE``: a TOML profile of another pipeline implementation."""
    option = click.option(
        "--system",
        "system_profile",
        type=click.Path(path_type=Path),
        default=None,
        help="System profile (TOML) describing another pipeline implementation.",
    )
    return option(f)


__all__ = [
    "backend_option",
    "load_system",
    "parse_sets",
    "print_result",
    "progress",
    "sets_option",
    "system_option",
    "utc_folder",
]
