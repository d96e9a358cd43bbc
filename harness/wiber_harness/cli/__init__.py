"""The ``wiber-harness`` command line.

Exit codes of every command: 0 valid / done, 1 a guarantee was violated or a
gate failed, 2 the harness could not decide (bad input, setup failure,
checker error). A :class:`~wiber_harness.errors.HarnessError` is printed as
its one sentence, never as a traceback; control characters in any message are
escaped (:func:`wiber_harness.cli._common.show_error`), and under ``--json``
the error is also the command's JSON document on stdout. Any other exception
is a harness bug: it is printed as one sentence too and exits 2, never 1, since
CI reads 1 as "the pipeline broke a promise" (``WIBER_DEBUG=1`` also prints the
traceback).
"""

from __future__ import annotations

import os
import sys
import traceback
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
        node,
        reporting,
        run,
        stack,
        suite,
        validate,
    )


def _prestart(args: Sequence[str]) -> None:
    """``check RUN_DIR ...``: start the helper process of the first folder's history
    before the imports below (see :func:`wiber_harness.columns_split.prestart`)."""
    if len(args) < 2 or args[0] != "check":
        return
    first = next((a for a in args[1:] if not a.startswith("-")), None)
    if first is None or any(a in ("-h", "--help") for a in args[1:]):
        return
    from pathlib import Path

    from wiber_harness.columns_split import prestart

    prestart(Path(first) / "history.jsonl")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: HarnessError -> one sentence on stderr, exit 2."""
    _prestart(list(argv) if argv is not None else sys.argv[1:])
    _register()
    from wiber_harness.cli._common import reset_json, show_click_error, show_error

    reset_json()
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except HarnessError as e:
        show_error(str(e), EXIT_UNKNOWN)
        sys.exit(EXIT_UNKNOWN)
    except click.exceptions.Abort:
        click.echo("wiber-harness: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        show_click_error(e, EXIT_UNKNOWN)
        sys.exit(EXIT_UNKNOWN)
    except Exception as e:  # a bug, or an input nothing foresaw: "could not decide", never 1
        if os.environ.get("WIBER_DEBUG"):
            traceback.print_exc()
        detail = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        show_error(
            f"internal error ({detail}); this is a harness bug, please report it "
            "with the command line (WIBER_DEBUG=1 prints the traceback)",
            EXIT_UNKNOWN,
        )
        sys.exit(EXIT_UNKNOWN)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["EXIT_UNKNOWN", "EXIT_VALID", "EXIT_VIOLATION", "cli", "main"]
