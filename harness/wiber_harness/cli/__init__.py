"""The ``wiber-harness`` command line.

Exit codes of every command: 0 valid / done, 1 a guarantee was violated or a
gate failed, 2 the harness could not decide (bad input, setup failure,
checker error). A :class:`~wiber_harness.errors.HarnessError` is printed as
its one sentence, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from wiber_harness import __version__
from wiber_harness.errors import HarnessError
from wiber_harness.verdict import EXIT_UNKNOWN, EXIT_VALID, EXIT_VIOLATION


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wiber-harness")
def cli() -> None:
    """Fault-injection test harness and benchmark suite for the Wiber pipeline."""


def _register() -> None:
    """Add every command to `cli`: each command family's module adds its own on import."""
    from wiber_harness.cli import (  # noqa: F401
        bench,
        explore,
        mutants,
        reporting,
        run,
        stack,
        suite,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: HarnessError -> one sentence on stderr, exit 2."""
    _register()
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except HarnessError as e:
        click.echo(f"wiber-harness: {e}", err=True)
        sys.exit(EXIT_UNKNOWN)
    except click.exceptions.Abort:
        click.echo("wiber-harness: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_UNKNOWN)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["EXIT_UNKNOWN", "EXIT_VALID", "EXIT_VIOLATION", "cli", "main"]
