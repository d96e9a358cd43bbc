"""Run the real ``wiber-harness`` entry point in-process and judge what it printed.

:func:`run_cli` calls :func:`wiber_harness.cli.main` (the console script's own
function, with its error handling) with stdout and stderr captured, and
returns the exit code it gave ``sys.exit``. An exception that escapes
``main`` would be a traceback in a terminal: it is returned as
:class:`Escaped` in place of the exit code, never swallowed.

:func:`one_sentence` asserts the contract of ``docs/verdicts.md`` section 8
for a malformed input: exit 2, no traceback, no "internal error" (a harness
bug caught by the last-resort handler), and exactly one line on stderr
besides the report's progress lines, starting ``wiber-harness:``.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from wiber_harness.cli import main

PROGRESS = ("report: ",)


@dataclass(frozen=True)
class Escaped:
    """An exception that escaped ``main``: in a terminal, a traceback and exit 1."""

    error: BaseException

    def __repr__(self) -> str:
        return f"Escaped({type(self.error).__name__}: {self.error})"


@dataclass(frozen=True)
class Outcome:
    code: int | Escaped
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """stderr without the report's progress lines."""
        return [line for line in self.err.splitlines() if line and not line.startswith(PROGRESS)]


def run_cli(*args: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    code: int | Escaped = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:  # an escape is what we look for
            code = Escaped(e)
    return Outcome(code, out.getvalue(), err.getvalue())


def one_sentence(o: Outcome, *needles: str) -> str:
    """Assert exit 2 with one ``wiber-harness:`` sentence on stderr holding ``needles``."""
    assert o.code == 2, (o.code, o.err[-2000:])
    assert "Traceback" not in o.err and "internal error" not in o.err, o.err[-2000:]
    assert len(o.lines) == 1, o.err[-2000:]
    line = o.lines[0]
    assert line.startswith("wiber-harness: "), line
    for n in needles:
        assert n in line, (n, line)
    return line


__all__ = ["Escaped", "Outcome", "one_sentence", "run_cli"]
