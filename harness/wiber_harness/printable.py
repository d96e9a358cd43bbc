"""Text a terminal can show safely: user values bounded and control characters escaped.

Everything the harness prints may hold text someone else wrote: a scenario's
description, a fault name, a file name, a value that failed validation. This
module promises that such text, once passed through it, is

* **bounded**: :func:`shown` renders any value (a huge list, a 4,000-digit
  number, an alias-shared structure) as a short ``repr`` of at most
  :data:`WIDTH` characters, in time bounded by the width, never by the value;
  :func:`clip` does the same for text that is shown without quotes;
* **inert**: :func:`escape_controls` writes every control character (C0
  except tab and newline, DEL, C1, and the bidirectional overrides that can
  disguise a line) as a visible ``\\xNN`` / ``\\uNNNN`` escape, so no escape
  sequence in user text reaches the terminal raw;
* :func:`one_line` is both for a whole message line: escaped, and elided in
  the middle when longer than :data:`LINE_WIDTH`; :func:`printable` applies
  it to each line of a message of at most :data:`MAX_LINES` lines.

:data:`CONTROL` is the one definition of "control character" that the file
readers (:mod:`wiber_harness.scenario.reading`) refuse and the printers escape.
"""

from __future__ import annotations

import re
import reprlib

WIDTH = 60  # a rendered value
LINE_WIDTH = 1000  # a whole message line (a sentence names a file, a field and a fix)
MAX_LINES = 50  # lines of one message (one problem each)

# C0 except tab, newline and carriage return; DEL; C1; bidi embeddings/overrides/isolates
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_CR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 4
_REPR.maxdict = 4
_REPR.maxstring = WIDTH
_REPR.maxlong = WIDTH
_REPR.maxother = WIDTH


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def escape_controls(text: str, keep_newlines: bool = True) -> str:
    """``text`` with every control character as a visible escape (``\\x1b``).

    Tabs are kept; newlines too unless ``keep_newlines`` is false; a carriage
    return is always escaped (it would let a line overwrite itself).
    """
    pattern = _CONTROL_OR_CR if keep_newlines else CONTROL
    out = pattern.sub(_escape, text)
    if not keep_newlines:
        out = out.replace("\n", "\\n").replace("\r", "\\r")
    return out


def clip(text: str, width: int = WIDTH) -> str:
    """Unquoted text, one line, escaped, at most ``width`` characters (``...`` marks a cut)."""
    head = escape_controls(text[: width * 4], keep_newlines=False)
    if len(head) <= width and len(text) <= width * 4:
        return head
    return head[: max(width - 3, 1)] + "..."


def shown(value: object, width: int = WIDTH) -> str:
    """A bounded ``repr`` of ``value``: at most ``width`` characters, escapes kept visible."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a repr that fails (or an int past the digit limit) still prints
        text = f"<{type(value).__name__}>"
    return clip(text, width)


def one_line(line: str, width: int = LINE_WIDTH) -> str:
    """One message line, escaped; longer than ``width``: the middle elided."""
    text = escape_controls(line, keep_newlines=False)
    if len(text) <= width:
        return text
    half = (width - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def printable(message: str, width: int = LINE_WIDTH, max_lines: int = MAX_LINES) -> str:
    """A message of one or more lines: each through :func:`one_line`, at most ``max_lines``."""
    lines = message.split("\n", max_lines)
    more = len(lines) > max_lines
    out = [one_line(line, width) for line in lines[:max_lines]]
    if more:
        rest = message.count("\n") + 1 - max_lines
        out.append(f"... and {rest} more lines")
    return "\n".join(out)


__all__ = [
    "CONTROL",
    "LINE_WIDTH",
    "MAX_LINES",
    "WIDTH",
    "clip",
    "escape_controls",
    "one_line",
    "printable",
    "shown",
]
