"""Command templates of the attach backend: declared in a target file, filled in, run, evidenced.

A target file (:mod:`wiber_harness.cluster.deployment`) names the commands
that act on a deployment the harness did not start (``kill``, ``stop``,
``start``, ``pause``, ``resume``, ``status`` ...). This module is the only
place that turns such a declaration into a process, and it promises:

* **Only declared commands run.** A template is parsed when the target file
  is loaded; running it only fills in values, it never adds a word.
* **No shell unless the template asks for one.** Three forms:

  - a string, ``"kubectl delete pod {pod} --grace-period=0"``: split into
    words once, at load, the way a POSIX shell splits (``shlex``), then
    each word is filled in. A value is always exactly one argument (or part
    of one): it is never split, globbed or interpreted. No shell runs;
  - a list, ``["docker", "kill", "{container}"]``: the argument vector,
    each item filled in;
  - a table, ``{ shell = "systemctl kill {unit} && sleep 1" }``: run as
    ``/bin/sh -c SCRIPT`` where every value is quoted with
    :func:`shlex.quote` before it is filled in. This is the only way to get
    pipes, ``&&`` or redirections.

  A string or list template whose program is itself a shell with ``-c``
  (``sh -c '... {pod}'``) is refused at load: its values would be pasted
  into a script unquoted; write it as ``{ shell = ... }`` instead.
* **Fields** are ``{name}`` (Python format syntax without format specs);
  ``{{`` and ``}}`` are literal braces. Which names exist is the caller's
  business (:meth:`Template.fields` lists the ones a template uses, so a
  loader can check them against a node's variables).
* **Bounded and evidenced.** :meth:`Template.run` closes stdin, waits at
  most ``timeout`` seconds (then kills the command) and returns a
  :class:`CommandResult`: what ran, its exit status (None when it timed out
  or could not start), the tails of its output and how long it took.
"""

from __future__ import annotations

import os
import shlex
import string
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"})
OUTPUT_TAIL = 2000  # characters of stdout/stderr kept in the evidence
MAX_TEMPLATE = 4000  # characters of one template
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template is malformed; the message is a sentence fragment with the fix."""


def _fields_of(text: str) -> list[str]:
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as e:
        raise TemplateError(
            f"'{text}' is not a valid template ({e}); write {{{{ and }}}} for literal braces"
        ) from None
    out = []
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(
                f"'{{{name}}}' in '{text}' is not a field name; fields look like {{pod}}"
            )
        if spec or conv:
            raise TemplateError(f"'{{{name}}}' may not carry a format spec or conversion")
        out.append(name)
    return out


@dataclass(frozen=True)
class CommandResult:
    """What one command did: the evidence a verb records."""

    argv: tuple[str, ...]
    shell: bool
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    error: str | None = None  # could not start, or timed out

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "argv": list(self.argv),
            "shell": self.shell,
            "returncode": self.returncode,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "seconds": round(self.seconds, 3),
        }
        if self.error:
            d["error"] = self.error
        return d

    def why_not(self) -> str:
        """One clause saying why the command did not succeed."""
        if self.error:
            return self.error
        tail = (self.stderr or self.stdout).strip().splitlines()
        said = f" ({tail[-1][:200]})" if tail else ""
        return f"'{shlex.join(self.argv)[:200]}' exited {self.returncode}{said}"


@dataclass(frozen=True)
class Template:
    """One declared command: argv words (no shell) or a shell script (values quoted)."""

    words: tuple[str, ...] = ()
    script: str | None = None

    @property
    def shell(self) -> bool:
        return self.script is not None

    def __str__(self) -> str:
        """As written (words with spaces or quotes quoted again)."""
        if self.script is not None:
            return self.script
        return " ".join(
            shlex.quote(w) if not w or any(c in w for c in " \t\n'\"") else w for w in self.words
        )

    def fields(self) -> frozenset[str]:
        """Every ``{name}`` the template uses."""
        texts = [self.script] if self.script is not None else list(self.words)
        return frozenset(n for t in texts for n in _fields_of(t))

    def render(self, values: Mapping[str, object]) -> list[str]:
        """The argv to run: words filled in as they are, or ``/bin/sh -c`` with quoted values.

        A missing field raises :class:`TemplateError` (the loader checks
        fields against the node's variables, so this means a programming
        error, never a silent empty argument).
        """
        missing = self.fields() - set(values)
        if missing:
            raise TemplateError(
                f"'{self}' needs {', '.join('{' + m + '}' for m in sorted(missing))}"
            )
        if self.script is not None:
            quoted = {k: shlex.quote(str(v)) for k, v in values.items()}
            return ["/bin/sh", "-c", self.script.format_map(quoted)]
        text = {k: str(v) for k, v in values.items()}
        return [w.format_map(text) for w in self.words]

    def run(self, values: Mapping[str, object], timeout: float) -> CommandResult:
        """Run the filled-in command (no shell unless a shell template), bounded by ``timeout``."""
        argv = tuple(self.render(values))
        t0 = time.monotonic()
        try:
            r = subprocess.run(
                argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
                env=os.environ.copy(),
            )
        except subprocess.TimeoutExpired as e:
            return CommandResult(
                argv,
                self.shell,
                None,
                _tail(e.stdout),
                _tail(e.stderr),
                time.monotonic() - t0,
                f"'{shlex.join(argv)[:200]}' did not finish within {timeout:g} s (killed)",
            )
        except OSError as e:
            return CommandResult(
                argv,
                self.shell,
                None,
                "",
                "",
                time.monotonic() - t0,
                f"cannot run {argv[0]!r} ({e.strerror or e}); check the command and PATH",
            )
        return CommandResult(
            argv,
            self.shell,
            r.returncode,
            _tail(r.stdout),
            _tail(r.stderr),
            time.monotonic() - t0,
        )


def _tail(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[-OUTPUT_TAIL:]


def _check_words(words: Sequence[str], as_written: str) -> tuple[str, ...]:
    if not words:
        raise TemplateError("is empty; give the command to run")
    for w in words:
        _fields_of(w)
    prog = os.path.basename(words[0])
    if prog in SHELLS and "-c" in words[1:3]:
        raise TemplateError(
            f"'{as_written}' runs a shell with -c, so its values would be pasted into a "
            'script unquoted; write it as { shell = "..." } (values are then quoted) '
            "or call the program directly"
        )
    if "{" in words[0]:
        raise TemplateError(
            f"the program of '{as_written}' is a field; name the program itself "
            "and pass values as arguments"
        )
    return tuple(words)


def parse_template(raw: object) -> Template:
    """A template from its TOML value (string, list of strings, or ``{ shell = "..." }``)."""
    if isinstance(raw, str):
        if len(raw) > MAX_TEMPLATE:
            raise TemplateError(f"is {len(raw)} characters; keep a command under {MAX_TEMPLATE}")
        try:
            words = shlex.split(raw)
        except ValueError as e:
            raise TemplateError(
                f"'{raw}' cannot be split into words ({e}); close its quotes"
            ) from None
        return Template(words=_check_words(words, raw))
    if isinstance(raw, list):
        if not all(isinstance(w, str) for w in raw):
            raise TemplateError(f"a command list must hold only strings, not {raw!r}")
        if sum(len(w) for w in raw) > MAX_TEMPLATE:
            raise TemplateError(f"is too long; keep a command under {MAX_TEMPLATE} characters")
        return Template(words=_check_words(list(raw), shlex.join(raw)))
    if isinstance(raw, Mapping):
        extra = sorted(set(raw) - {"shell"})
        script = raw.get("shell")
        if extra or not isinstance(script, str) or not script.strip():
            raise TemplateError(
                f'a table template is {{ shell = "SCRIPT" }} and nothing else, not {dict(raw)!r}'
            )
        if len(script) > MAX_TEMPLATE:
            raise TemplateError(f"is {len(script)} characters; keep a script under {MAX_TEMPLATE}")
        _fields_of(script)
        return Template(script=script)
    raise TemplateError(
        f'must be a command string, a list of words or {{ shell = "..." }}, not {raw!r}'
    )


__all__ = [
    "MAX_TEMPLATE",
    "CommandResult",
    "Template",
    "TemplateError",
    "parse_template",
]
