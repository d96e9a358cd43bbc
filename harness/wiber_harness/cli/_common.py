"""What several commands share: output, the run summary, options, settings.

Every command module imports from here, never from another command module:

* :func:`say`, :func:`progress`: every line a command prints goes through
  them: control characters in it (a fault name, a description, a path) are
  escaped, so no escape sequence in user text reaches the terminal raw;
  colour only on a terminal and never when ``NO_COLOR`` is set
  (https://no-color.org); a live (rewritten) progress line only on a
  terminal, plain lines elsewhere (CI);
* :func:`print_result`: a run's verdict, its checkers and reasons;
* ``--json`` (:func:`json_option`, :func:`emit_json`, :func:`json_error`):
  one meaning for every command that has it: one JSON document on stdout
  (``"schema": "wiber-cli/1"``, ``"command"``, ``"exit_code"``, the
  command's own fields; ``"error"``, the sentence, when the command could
  not do its work), progress and messages on stderr, the same exit codes;
* :func:`parse_sets`: ``--set NAME=VALUE`` pairs as settings, checked
  against the system's names before anything starts (a bad pair, an unknown
  setting or a value of the wrong type is one sentence, exit 2);
* :func:`load_system`: the ``--system`` profile, or Wiber's own spec;
* :func:`utc_folder`: ``reports/<kind>/<UTC time>``, a command's default output;
* :func:`backend_option`, :func:`sets_option`, :func:`system_option`,
  :func:`target_option`, :data:`SEED`: the options several commands take,
  with the same names, defaults, bounds and help;
* :func:`attach_target`: ``--backend attach --target DEPLOY.toml`` resolved
  to the backend, the loaded deployment and the system profile (``--target``
  alone means attach).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from wiber_harness.cluster.factory import BACKENDS
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, SystemSpec, parse_settings
from wiber_harness.printable import escape_controls, one_line, printable
from wiber_harness.verdict import COLOURS, exit_code, word

if TYPE_CHECKING:
    from wiber_harness.cluster.deployment import Deployment
    from wiber_harness.judge import RunResult

F = TypeVar("F", bound=Callable[..., Any])
CLI_SCHEMA = "wiber-cli/1"


MAX_SEED = 2**32 - 1  # = wiber_harness.scenario.schema.MAX_SEED (a unit test holds them equal)
SEED = click.IntRange(0, MAX_SEED)  # the type of every --seed option
# set by --json (an eager option), read when an error is printed
_JSON: dict[str, Any] = {"on": False, "command": "wiber-harness"}


def colour(stream: TextIO | None = None) -> bool:
    """Colour on ``stream`` (default stdout): a terminal, and ``NO_COLOR`` not set."""
    if os.environ.get("NO_COLOR"):
        return False
    s = stream or sys.stdout
    return bool(getattr(s, "isatty", lambda: False)())


def say(line: str = "", err: bool = False, styled: str = "") -> None:
    """Print one line of user-influenced text, control characters escaped.

    ``styled`` is an already-coloured prefix written by the harness itself
    (a verdict word); it is printed plain where colour is off.
    """
    stream = sys.stderr if err else sys.stdout
    text = escape_controls(line)
    click.echo(f"{styled}{text}", err=err, color=colour(stream))


def paint(text: str, fg: str, bold: bool = False) -> str:
    """``text`` in a colour (stripped again by :func:`say` where colour is off)."""
    return click.style(text, fg=fg, bold=bold)


def progress(line: str) -> None:
    """One live line on a terminal, plain lines elsewhere (CI logs)."""
    text = one_line(line, 200)
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{text}", err=True, nl=False)
    else:
        click.echo(text, err=True)


def print_result(r: RunResult, err: bool = False) -> None:
    """The verdict (coloured), the scenario and its folder; a line per checker; the reasons."""
    if sys.stderr.isatty():
        click.echo("", err=True)
    verdict = paint(word(r.verdict), COLOURS[r.verdict], bold=True)
    say(f"  {r.scenario}  ({r.run_dir})", err=err, styled=verdict)
    for name, c in r.checks.items():
        counts = ", ".join(f"{k}={v}" for k, v in list(c["counts"].items())[:8])
        say(f"  {name:<13} {word(c['valid']):<9} {counts}", err=err)
        if c.get("error"):
            say(f"  {'':<13} error: {one_line(str(c['error']), 300)}", err=err)
    for reason in r.reasons:
        say(f"  - {one_line(reason, 500)}", err=err)


def result_doc(r: RunResult) -> dict[str, Any]:
    """A run's result for a ``--json`` document (the words of result.json)."""
    return {
        "scenario": r.scenario,
        "run_dir": str(r.run_dir),
        "verdict": r.verdict,
        "exit_code": exit_code(r.verdict),
        "reasons": list(r.reasons),
        "checks": {
            name: {"valid": c["valid"], "counts": c["counts"], "error": c.get("error")}
            for name, c in r.checks.items()
        },
        "metrics": {"thresholds": r.metrics.get("thresholds", {})},
    }


def json_option(f: F) -> F:
    """``--json``: one JSON document on stdout; progress and messages on stderr."""

    def on(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        _JSON["on"] = bool(value)
        _JSON["command"] = ctx.info_name or "wiber-harness"
        return bool(value)

    option = click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=on,
        help="Print one JSON document on stdout (progress goes to stderr); same exit codes.",
    )
    return option(f)


def json_requested() -> bool:
    """Did this command line ask for ``--json``?"""
    return bool(_JSON["on"])


def reset_json() -> None:
    """Forget ``--json`` (each command line starts without it)."""
    _JSON.update(on=False, command="wiber-harness")


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite numbers as null, paths and other objects as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def emit_json(command: str, code: int, **fields: Any) -> int:
    """Print the command's document on stdout and return its exit code."""
    doc = {"schema": CLI_SCHEMA, "command": command, "exit_code": code, **fields}
    click.echo(json.dumps(_plain(doc), indent=2, ensure_ascii=True, allow_nan=False))
    return code


def json_error(sentence: str, code: int) -> None:
    """Under ``--json``: the document of a command that could not do its work."""
    if json_requested():
        emit_json(str(_JSON["command"]), code, error=sentence)


def show_error(message: str, code: int) -> None:
    """A harness error: its sentence on stderr (escaped, bounded); the JSON document too."""
    text = printable(message)
    click.echo(f"wiber-harness: {text}", err=True)
    json_error(text, code)


def show_click_error(e: click.ClickException, code: int) -> None:
    """A usage error (bad option value, missing argument) as one escaped line naming the fix."""
    ctx = getattr(e, "ctx", None)
    message = one_line(e.format_message()).rstrip(".")
    if ctx is not None:
        path = ctx.command_path
        sub = path.partition(" ")[2]
        message = f"{sub + ': ' if sub else ''}{message}; see '{path} -h'"
    click.echo(f"wiber-harness: {message}", err=True)
    json_error(message, code)


def parse_sets(pairs: tuple[str, ...], system: SystemSpec | None = None) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as settings, checked against ``system``'s names.

    Wiber's own system (the default): every name must be one of its settings
    (``wiber-harness`` says which, with a "did you mean"), every value of the
    setting's type. Another system's profile: ``WIBER_*`` names are checked
    the same way; other names are that system's own and pass as given.
    """
    from wiber_harness.scenario.fields import check_overrides

    try:
        settings = parse_settings(pairs, "--set")
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    return check_overrides(settings, "--set", own=system is None or system == DEFAULT_SYSTEM)


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
    "CLI_SCHEMA",
    "MAX_SEED",
    "SEED",
    "attach_target",
    "backend_option",
    "colour",
    "emit_json",
    "json_error",
    "json_option",
    "json_requested",
    "load_system",
    "paint",
    "parse_sets",
    "print_result",
    "progress",
    "reset_json",
    "result_doc",
    "say",
    "sets_option",
    "show_click_error",
    "show_error",
    "system_option",
    "target_option",
    "utc_folder",
]
