"""What several commands share: progress lines, the run summary, options, settings.

Every command module imports from here, never from another command module:

* :func:`progress`: one live line on a terminal, plain lines elsewhere (CI);
* :func:`print_result`: a run's verdict, its checkers and reasons;
* :func:`parse_sets`: ``--set NAME=VALUE`` pairs as settings (a bad pair is a
  usage error);
* :func:`load_system`: the ``--system`` profile, or Wiber's own spec;
* :func:`utc_folder`: ``reports/<kind>/<UTC time>``, a command's default output;
* :func:`backend_option`, :func:`sets_option`, :func:`system_option`,
  :func:`target_option`: the options several commands take, with the same
  names, defaults and help;
* :func:`attach_target`: ``--backend attach --target DEPLOY.toml`` resolved
  to the backend, the loaded deployment and the system profile (``--target``
  alone means attach).
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
    from wiber_harness.cluster.deployment import Deployment
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
    """``--backend local|compose|attach`` (default local)."""
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


def target_option(f: F) -> F:
    """``--target DEPLOY.toml``: the deployment to attach to (backend attach)."""
    option = click.option(
        "--target",
        "target",
        type=click.Path(path_type=Path),
        default=None,
        help="Target file (TOML) of a running deployment to attach to (--backend attach).",
    )
    return option(f)


def attach_target(
    backend: str, target: Path | None, system_profile: Path | None
) -> tuple[str, Deployment | None, SystemSpec]:
    """The backend, the deployment to attach to (None: not attaching) and the system profile.

    ``--target`` alone means ``--backend attach``; with another backend named
    on the command line it is a usage error, and so is ``--backend attach``
    without ``--target``. A profile named by the target file is the run's,
    unless ``--system`` names a different one (a usage error).
    """
    if target is None:
        if backend == "attach":
            raise click.UsageError(
                "--backend attach needs --target DEPLOY.toml, the file that says where the "
                "deployment answers (see docs/scaling.md)"
            )
        return backend, None, load_system(system_profile)
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("backend") if ctx is not None else None
    if backend != "attach" and source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError(
            f"--target attaches to a running deployment; it does not go with --backend {backend}"
        )
    from wiber_harness.cluster.deployment import load_deployment

    deployment = load_deployment(target)
    system = load_system(system_profile)
    if deployment.system is not None:
        if system_profile is not None and system != deployment.system:
            raise click.UsageError(
                f"{target} names the system profile {deployment.system_source} and --system "
                f"names {system_profile}; give the profile once"
            )
        system = deployment.system
    return "attach", deployment, system


__all__ = [
    "attach_target",
    "backend_option",
    "load_system",
    "parse_sets",
    "print_result",
    "progress",
    "sets_option",
    "system_option",
    "target_option",
    "utc_folder",
]
