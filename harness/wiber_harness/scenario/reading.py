"""Reading a scenario or profile file someone may have written to hurt: bounded first.

A scenario (YAML) or a system profile (TOML) is small: a few kilobytes. This
module turns a path into plain data (dicts, lists, scalars) or raises
:class:`~wiber_harness.errors.InvalidScenario` with one sentence per problem,
``FILE[:LINE:COL]: what is wrong; how to fix it``. Every limit is checked
*before* the work it bounds, so a hostile file costs well under a second and
a few megabytes:

* :func:`read_text`: the path is a regular file (``stat`` first: a folder, a
  pipe or a device is named as such and never opened) of at most
  :data:`MAX_FILE_BYTES` (a profile: :data:`MAX_PROFILE_BYTES`); at most
  that many bytes are read even if it grows;
  the bytes must be UTF-8 (a leading BOM is dropped) and hold no control
  character (:data:`wiber_harness.printable.CONTROL`: C0 but tab, newline
  and carriage return; DEL; C1; bidirectional overrides);
* :func:`load_yaml`: a first pass over the parser's events (libyaml when it
  is installed, which does not recurse) refuses nesting deeper than
  :data:`MAX_DEPTH`, recursive aliases and documents that hold more than
  :data:`MAX_NODES` nodes *once every alias is expanded* (a "billion laughs"
  alias bomb is refused after reading a few hundred bytes); only then are the
  objects built, safely (no arbitrary objects), with duplicate keys refused
  and a value that cannot be built (a 5,000-digit number, the 45th of
  December) reported at its line and column;
* :func:`load_toml`: a count of the characters every value follows bounds
  the number of values first; then ``tomllib``, with every way it can fail
  (syntax, a number too long to convert, nesting deep enough to exhaust the
  stack) as a sentence;
* :func:`check_tree` (called by both loaders): the parsed data, walked
  without recursion, has no key longer than :data:`MAX_KEY_CHARS`, no text
  longer than :data:`MAX_TEXT_CHARS` and no control character in any key or
  value (an escape such as ``"\\e[31m"`` in a quoted YAML string or a TOML
  string decodes to one).

Values in sentences go through :func:`wiber_harness.printable.shown`, so a
sentence stays short whatever the value.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from wiber_harness.errors import InvalidScenario
from wiber_harness.printable import CONTROL, clip, shown

KiB = 1 << 10
MAX_FILE_BYTES = 1024 * KiB  # a scenario is a few KB; this is 100 times that
MAX_PROFILE_BYTES = 256 * KiB  # a profile is ~3 KB (and tomllib has no cheap first pass)
MAX_DEPTH = 64  # levels of nesting (a scenario needs 5)
MAX_NODES = 20_000  # values in the document with every alias expanded
MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 20_000

_MERGE = "tag:yaml.org,2002:merge"
_Loaderbase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: str | Path, what: str, missing: str, limit: int = MAX_FILE_BYTES) -> str:
    """The file's text, checked: regular file, size, UTF-8, no control character.

    ``what`` names the kind of file in sentences ("scenario", "system
    profile"); ``missing`` is what is said when the file does not exist.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InvalidScenario(f"{p}: {missing}") from None
    except OSError as e:
        raise InvalidScenario(
            f"{p}: cannot read the {what} ({clip(e.strerror or str(e))}); "
            "check the path and its permissions"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidScenario(f"{p}: is a folder, not a {what} file; pass the file itself")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidScenario(
            f"{p}: is not a regular file (a pipe, socket or device); pass a {what} file"
        )
    if st.st_size > limit:
        raise InvalidScenario(_too_big(p, what, st.st_size, limit))
    try:
        with open(p, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as e:
        raise InvalidScenario(
            f"{p}: cannot read the {what} ({clip(e.strerror or str(e))}); "
            "check the path and its permissions"
        ) from None
    if len(raw) > limit:
        raise InvalidScenario(_too_big(p, what, len(raw), limit))
    return check_text(raw, str(p), what)


def _too_big(p: Path, what: str, size: int, limit: int) -> str:
    return (
        f"{p}: the {what} is {size:,} bytes, more than the {limit:,} a {what} may have; "
        f"is this the right file? a {what} is a few kilobytes of text"
    )


def check_text(raw: bytes, source: str, what: str) -> str:
    """``raw`` decoded as UTF-8 without control characters, or one sentence why not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(raw[: e.start].decode("utf-8", "replace"), e.start)
        raise InvalidScenario(
            f"{source}:{line}:{col}: the {what} is not UTF-8 text "
            f"(byte 0x{raw[e.start]:02x} at offset {e.start}); save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    m = CONTROL.search(text)
    if m:
        line, col = _line_col(text, m.start())
        raise InvalidScenario(
            f"{source}:{line}:{col}: the {what} holds the control character "
            f"U+{ord(m.group()):04X}; remove it (a {what} is plain text)"
        )
    return text


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


# ----------------------------------------------------------------------- YAML
class _Loader(_Loaderbase):  # type: ignore[valid-type,misc]
    """Safe loader (libyaml's parser when present) that refuses duplicate keys and
    reports a value it cannot build at its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as e:  # PyYAML's constructors: ValueError, AttributeError (!!timestamp
            # on a non-date), OverflowError, ...: all of them mean "this value is not readable"
            raise _Unreadable(
                None, None, f"this value cannot be read ({clip(str(e))})", node.start_mark
            ) from None


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


class _Unreadable(yaml.constructor.ConstructorError):
    pass


class _TooMuch(yaml.YAMLError):
    """The event pass refused the document; ``message`` is the sentence's tail."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:  # '<<: *base': merged keys may be overridden here
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool | None):
            continue  # unhashable keys fail in construct_mapping with their own message
        if key in seen:
            raise _DuplicateKey(None, None, f"duplicate key {shown(key)}", key_node.start_mark)
        seen.add(key)
    out: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _prescan(text: str) -> None:
    """Walk the parser's events: depth, recursive aliases and expanded size, bounded."""
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for, expanded
    stack: list[list[Any]] = []  # open collections: [anchor, expanded nodes so far]
    total = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise _TooMuch(
                    ev.start_mark,
                    f"nested deeper than {MAX_DEPTH} levels; flatten it (a scenario needs 5)",
                )
            stack.append([ev.anchor, 1])
            n = 1
        elif isinstance(ev, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][1] += size
            continue
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor is not None:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            if any(a == ev.anchor for a, _ in stack):
                raise _TooMuch(
                    ev.start_mark,
                    f"the alias *{clip(str(ev.anchor))} refers to a value that contains it; "
                    "write the value out",
                )
            n = sizes.get(ev.anchor or "", 1)  # an undefined alias fails when composed
        else:
            continue
        total += n
        if stack and not isinstance(ev, yaml.CollectionStartEvent):
            stack[-1][1] += n
        if total > MAX_NODES:
            raise _TooMuch(
                ev.start_mark,
                f"the document holds more than {MAX_NODES:,} values once its aliases (*name) "
                "are expanded; write it out without aliases (an alias bomb?)",
            )


def load_yaml(text: str, source: str) -> Any:
    """Plain data from YAML text, bounded as the module says; InvalidScenario says why not."""
    try:
        _prescan(text)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except _TooMuch as e:
        raise InvalidScenario(f"{source}{_at(e.mark)}: {e.message}") from None
    except _DuplicateKey as e:
        raise InvalidScenario(
            f"{source}{_at(e.problem_mark)}: {e.problem}; keep only one of them"
        ) from None
    except _Unreadable as e:
        raise InvalidScenario(
            f"{source}{_at(e.problem_mark)}: {e.problem}; fix the value"
        ) from None
    except yaml.constructor.ConstructorError as e:
        problem = " ".join(str(e.problem or "a value cannot be built").split())
        raise InvalidScenario(
            f"{source}{_at(e.problem_mark)}: {clip(problem, 200)}; write plain values "
            "(text, numbers, true/false, lists and mappings) without tags such as !!python"
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(e.problem or e.context or "invalid YAML").split())
        raise InvalidScenario(
            f"{source}{_at(mark)}: YAML syntax error: {clip(problem, 200)}; fix the YAML there "
            "(indentation, a missing ':', or quote values that start with "
            "'>', '*', '&', '!' or '@')"
        ) from None
    except yaml.YAMLError as e:
        raise InvalidScenario(
            f"{source}: not valid YAML ({clip(' '.join(str(e).split()), 200)}); fix the file"
        ) from None
    except RecursionError:  # pragma: no cover - the event pass bounds the depth first
        raise InvalidScenario(
            f"{source}: nested too deeply; flatten it (a scenario needs 5 levels)"
        ) from None
    check_tree(data, source)
    return data


def _at(mark: Any) -> str:
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


# ----------------------------------------------------------------------- TOML
def load_toml(text: str, source: str, what: str = "profile") -> dict[str, Any]:
    """Plain data from TOML text; every way ``tomllib`` fails is one sentence.

    Every TOML value follows a ``=``, ``[`` or ``,``: more of those than
    :data:`MAX_NODES` is refused before ``tomllib`` (pure Python) parses it.
    """
    if sum(text.count(c) for c in "=[,") > MAX_NODES:
        raise InvalidScenario(
            f"{source}: the {what} holds more than {MAX_NODES:,} values; make it smaller "
            f"(a {what} holds about a hundred)"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidScenario(
            f"{source}: TOML syntax error ({clip(' '.join(str(e).split()), 200)}); fix the TOML "
            "there (strings need quotes, tables are written [name])"
        ) from None
    except RecursionError:
        raise InvalidScenario(
            f"{source}: nested too deeply for a {what}; flatten it (a {what} needs 3 levels)"
        ) from None
    except (ValueError, OverflowError) as e:  # e.g. an integer past Python's digit limit
        raise InvalidScenario(
            f"{source}: a value cannot be read ({clip(str(e))}); fix the value"
        ) from None
    check_tree(data, source)
    return data


# ------------------------------------------------------------------ the tree
def check_tree(data: Any, source: str) -> None:
    """No key or text too long, no control character, no nesting past MAX_DEPTH.

    Walks without recursion; visits at most :data:`MAX_NODES` values (shared
    values, YAML aliases, are visited once per reference, as validation would).
    """
    todo: list[tuple[Any, str, int]] = [(data, "", 0)]
    visited = 0
    while todo:
        value, where, depth = todo.pop()
        visited += 1
        if visited > MAX_NODES or depth > MAX_DEPTH:
            what = (
                f"nested deeper than {MAX_DEPTH} levels"
                if depth > MAX_DEPTH
                else f"holds more than {MAX_NODES:,} values"
            )
            raise InvalidScenario(f"{source}: the document {what}; make it smaller")
        if isinstance(value, str):
            _check_str(value, source, where or "the document", "text", MAX_TEXT_CHARS)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                name = str(k) if isinstance(k, str | int | float | bool) or k is None else "?"
                if isinstance(k, str):
                    _check_str(
                        k, source, f"{where}.{clip(k)}" if where else clip(k), "key", MAX_KEY_CHARS
                    )
                todo.append((v, f"{where}.{clip(name)}" if where else clip(name), depth + 1))
        elif isinstance(value, list | tuple | set | frozenset):
            for i, v in enumerate(value):
                todo.append((v, f"{where}[{i}]", depth + 1))


def _check_str(text: str, source: str, where: str, what: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidScenario(
            f"{source}: {where}: the {what} is {len(text):,} characters long, more than "
            f"{limit:,}; shorten it"
        )
    m = CONTROL.search(text)
    if m:
        raise InvalidScenario(
            f"{source}: {where}: the {what} {shown(text)} holds the control character "
            f"U+{ord(m.group()):04X}; remove it (write plain text)"
        )


__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_KEY_CHARS",
    "MAX_NODES",
    "MAX_PROFILE_BYTES",
    "MAX_TEXT_CHARS",
    "check_text",
    "check_tree",
    "load_toml",
    "load_yaml",
    "read_text",
]
