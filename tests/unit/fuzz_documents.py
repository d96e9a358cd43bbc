"""Documents for fuzzing the scenario and profile readers: grammars, mutations, hostile files.

* :func:`yaml_documents`: scenario-shaped data (a valid scenario, then up to
  four structural edits: a field set to any value, deleted, or a key added;
  the same value placed twice, so the YAML writer emits anchors and
  aliases), written as block YAML, flow YAML or JSON, then up to five byte
  edits with YAML's dangerous tokens (tags, anchors, merge keys, directives,
  deep brackets, control characters, invalid UTF-8, huge numbers);
* :func:`toml_documents`: the same for profiles over TOML (a small writer,
  since TOML has no null and no anchors; then byte edits with TOML's tokens);
* :data:`HOSTILE`: named files built to hurt (alias bombs, nesting, huge
  files and values, control characters, pipes and devices), each of which
  must be refused with one sentence.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCENARIO: dict[str, Any] = {
    "name": "fuzzed",
    "description": "a fuzzed scenario",
    "topology": {"partitions": 6, "consumers": 2, "settings": {"producer_linger_ms": 5}},
    "workload": {"rate": 100, "duration": 30, "seed": 7},
    "timeline": [
        {"at": 5, "fault": "kill", "target": "kafka.leader(partition=0)", "for": 5},
        {
            "at": 12,
            "fault": "latency",
            "target": "link(api, kafka.1)",
            "for": 4,
            "params": {"ms": 200},
        },
    ],
    "expect": {"valid": ["delivery", "ordering"], "thresholds": {"error_rate": "<= 0.5"}},
}
PATHS: tuple[tuple[Any, ...], ...] = (
    ("name",), ("description",), ("topology",), ("topology", "partitions"),
    ("topology", "settings"), ("topology", "settings", "producer_linger_ms"), ("workload",),
    ("workload", "rate"), ("workload", "duration"), ("workload", "seed"),
    ("workload", "batch"), ("timeline",), ("timeline", 0), ("timeline", 0, "at"),
    ("timeline", 0, "fault"), ("timeline", 0, "target"), ("timeline", 0, "for"),
    ("timeline", 1, "params"), ("timeline", 1, "params", "ms"), ("expect",),
    ("expect", "valid"), ("expect", "violation"), ("expect", "thresholds"),
    ("expect", "thresholds", "error_rate"), ("extra",),
)  # fmt: skip
WORDS = (
    "kill", "pause", "latency", "partition", "kafka.1", "kafka.leader(partition=0)",
    "link(api, kafka.1)", "links(store)", "consumer.any", "<= 30", ">= 0.5", "== 1",
    "WIBER_PRODUCER_ACKS", "producer_acks", "all", "true", "delivery", "ordering",
    "\x1b[31m", "\u202e", "\x00", "a" * 300, "{python}", "{{", "%s", "${HOME}",
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-5, max_value=100_001),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(WORDS),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.sampled_from(WORDS), inner, max_size=4)
    ),
    max_leaves=20,
)

YAML_TOKENS: tuple[bytes, ...] = (
    b"&a ", b"*a", b"<<: *a\n", b"&a [*a]", b"!!python/object/apply:os.system ['id']",
    b"!!binary ", b"!!int ", b"!!float ", b"!!timestamp ", b"!!set ", b"!foo ", b"!<tag:x> ",
    b"\x00", b"\x1b[31m", b"\x07", b"\x7f", b"\xc2\x85", b"\xe9", b"\xff\xfe", b"\xef\xbb\xbf",
    b"\t", b"\r\n", b"\r", b"[" * 70, b"{" * 70, b"- " * 70, b"9" * 5000, b"9" * 40, b"1e999",
    b".nan", b".inf", b"-.inf", b"---\n", b"...\n", b"? ", b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n",
    b"'", b'"', b"\\", b'"\\e[2J"', b'"\\u202e"', b'"\\x00"', "\u202e".encode(), b"#", b":", b": ",
    b"|", b">", b"@", b"`", b"&" + b"a" * 300, b"2001-13-45", b"0x", b"0o9", b"~", b"\n  ", b",",
)  # fmt: skip
TOML_TOKENS: tuple[bytes, ...] = (
    b"[", b"]", b"[[", b"]]", b"=", b" = ", b"{", b"}", b'"""', b"'''", b'"\\u001b"',
    b'"\\e"', b"\x00", b"\x1b", b"\xe9", b"\xff", b"9" * 5000, b"1979-05-27T07:32:00Z",
    b"1979-13-45", b"inf", b"nan", b"-inf", b"0x", b"0b2", b"1_000", b"[" * 80, b"{a=" * 40,
    b"\n[api]\n", b"\n[[api]]\n", b"\nname = 1\n", b"#", b"\\", b"\r", b"\t", b",", b".",
    b'"{python}"', b'"{nope}"', b'"{{"', b"true", b"[extra]\nx = ",
)  # fmt: skip


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    node = doc
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return


@st.composite
def _edited(draw: st.DrawFn, base: dict[str, Any], paths: tuple[tuple[Any, ...], ...]) -> Any:
    doc = json.loads(json.dumps(base))
    shared = draw(values)  # placed twice: the YAML writer makes it an anchor and an alias
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(("set", "set", "delete", "share", "add")))
        if how == "add":
            _set(doc, (*path[:-1], draw(st.text(max_size=8) | st.sampled_from(WORDS))),
                 draw(values))  # fmt: skip
        else:
            _set(doc, path, shared if how == "share" else draw(values), delete=how == "delete")
    if draw(st.integers(0, 9)) == 0:
        doc = draw(values)  # not a mapping at all
    return doc


@st.composite
def _byte_edits(draw: st.DrawFn, text: bytes, tokens: tuple[bytes, ...]) -> bytes:
    data = bytearray(text)
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(("insert", "insert", "delete", "byte", "repeat")))
        if how == "insert":
            data[at:at] = draw(st.sampled_from(tokens))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif how == "byte":
            data[at:at] = bytes([draw(st.integers(0, 255))])
        else:
            piece = bytes(data[at : at + draw(st.integers(1, 30))])
            data[at:at] = piece * draw(st.integers(2, 50))
    return bytes(data)


def _yaml_text(doc: Any, style: str) -> bytes:
    if style == "json":
        try:
            return json.dumps(doc, allow_nan=True).encode()
        except (TypeError, ValueError):
            style = "block"
    return yaml.safe_dump(
        doc, default_flow_style=style == "flow", allow_unicode=True, sort_keys=False
    ).encode()


@st.composite
def yaml_documents(draw: st.DrawFn) -> bytes:
    doc = draw(_edited(SCENARIO, PATHS))
    text = _yaml_text(doc, draw(st.sampled_from(("block", "flow", "json"))))
    return draw(_byte_edits(text, YAML_TOKENS))


# --------------------------------------------------------------------------- TOML
def _toml_key(k: Any) -> str:
    k = str(k)
    bare = k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k)
    return k if bare else json.dumps(k)


def _toml_value(v: Any, depth: int = 0) -> str | None:
    if v is None:
        return None
    if depth > 40:  # a value shared into itself is a cycle, which TOML cannot write
        return "0"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        items = [x for x in (_toml_value(i, depth + 1) for i in v) if x is not None]
        return "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        pairs = [(k, _toml_value(x, depth + 1)) for k, x in v.items()]
        return "{" + ", ".join(f"{_toml_key(k)} = {x}" for k, x in pairs if x is not None) + "}"
    return json.dumps(str(v))


def toml_dump(doc: Any) -> str:
    """TOML for plain data (nulls left out): top-level values, then one table per mapping."""
    if not isinstance(doc, dict):
        return f"value = {_toml_value(doc) or 0}\n"
    lines = []
    tables = []
    for k, v in doc.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif (text := _toml_value(v)) is not None:
            lines.append(f"{_toml_key(k)} = {text}")
    for k, v in tables:
        lines.append(f"\n[{_toml_key(k)}]")
        lines += [f"{_toml_key(a)} = {t}" for a, b in v.items() if (t := _toml_value(b))]
    return "\n".join(lines) + "\n"


def _profile() -> dict[str, Any]:
    import tomllib

    from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
    from wiber_harness.scenario.profile import profile_to_toml

    return tomllib.loads(profile_to_toml(DEFAULT_SYSTEM))


PROFILE: dict[str, Any] = _profile()
PROFILE_PATHS: tuple[tuple[Any, ...], ...] = tuple(
    [("name",), ("extra",), ("env",)]
    + [(t,) for t in PROFILE if isinstance(PROFILE[t], dict)]
    + [(t, k) for t in PROFILE if isinstance(PROFILE[t], dict) for k in PROFILE[t]]
)


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    doc = draw(_edited(PROFILE, PROFILE_PATHS))
    return draw(_byte_edits(toml_dump(doc).encode(), TOML_TOKENS))


# ------------------------------------------------------------------------ hostile
def _bomb(levels: int = 9, merge: bool = False) -> bytes:
    lines = ['  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    use = f"  <<: {{x: *a{levels - 1}}}\n" if merge else f"  rate: *a{levels - 1}\n"
    return ("name: bomb\ndescription: d\nx:\n" + "\n".join(lines) + "\nworkload:\n" + use).encode()


def _sparse(path: Path, head: bytes, size: int) -> None:
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)


def _write(data: bytes) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        p.write_bytes(data)

    return write


PROFILE_TEXT = (ROOT / "profiles" / "wiber.toml").read_bytes()
MiB = 1 << 20
# name -> (file name, how to make it, a word of the one sentence it must get)
HOSTILE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "alias-bomb": ("s.yaml", _write(_bomb()), "aliases"),
    "alias-bomb-merge": ("s.yaml", _write(_bomb(merge=True)), "aliases"),
    "alias-bomb-keys": ("s.yaml", _write(_bomb().replace(b"rate: *a8", b"*a8 : 1")), "aliases"),
    "recursive-alias": ("s.yaml", _write(b"a: &a [*a]\n"), "contains it"),
    "deep-flow-5000": ("s.yaml", _write(b"x: " + b"[" * 5000 + b"]" * 5000), "nest"),
    "deep-flow-200000": ("s.yaml", _write(b"x: " + b"[" * 200_000), "nest"),
    "deep-block": ("s.yaml", _write(b"".join(b" " * i + b"k:\n" for i in range(100))), "nest"),
    "int-5000-digits": ("s.yaml", _write(b"name: " + b"9" * 5000 + b"\n"), "cannot be read"),
    "seed-36-digits": (
        "s.yaml",
        _write(
            (ROOT / "scenarios" / "baseline.yaml")
            .read_bytes()
            .replace(b"  duration: 30\n", b"  duration: 30\n  seed: " + b"9" * 36 + b"\n")
        ),
        "workload.seed",
    ),
    "escape-raw": ("s.yaml", _write(b"name: \x1b]0;pwned\x07\n"), "U+001B"),
    "escape-quoted": ("s.yaml", _write(b'name: "\\e[2J"\n'), "U+001B"),
    "nul": ("s.yaml", _write(b"name: x\x00y\n"), "U+0000"),
    "bidi": ("s.yaml", _write("name: x\u202ey\n".encode()), "U+202E"),
    "latin-1": ("s.yaml", _write(b"name: caf\xe9\n"), "UTF-8"),
    "utf-16": ("s.yaml", _write("name: x\n".encode("utf-16")), "UTF-8"),
    "random-bytes": ("s.yaml", _write(bytes(range(256)) * 4096), "UTF-8"),
    "50-mb": ("s.yaml", lambda p: _sparse(p, b"name: x\n", 50 * MiB), "bytes"),
    "1-mib-of-values": (
        "s.yaml",
        _write(b"x:\n" + b"  - 1\n" * ((MiB - 10) // 6)),
        "values",
    ),
    "1-mib-scalar": ("s.yaml", _write(b"x: " + b"a" * (MiB - 10) + b"\n"), "characters long"),
    "1-mib-key": ("s.yaml", _write(b"? " + b"a" * (MiB - 20) + b"\n: 1\n"), "characters long"),
    "python-tag": ("s.yaml", _write(b"x: !!python/object/apply:os.system ['id']\n"), "tags"),
    "folder": ("d.yaml", lambda p: p.mkdir(), "folder"),
    "fifo": ("f.yaml", lambda p: os.mkfifo(p), "regular file"),
    "device": ("dev.yaml", lambda p: p.symlink_to("/dev/zero"), "regular file"),
    "symlink-loop": ("l.yaml", lambda p: p.symlink_to(p), "cannot read"),
    "missing": ("m.yaml", lambda p: None, "no such"),
    "toml-deep-3000": (
        "p.toml",
        _write(PROFILE_TEXT + b"\n[extra]\nx = " + b"[" * 3000 + b"]" * 3000 + b"\n"),
        "nested",
    ),
    "toml-deep-inline": (
        "p.toml",
        _write(PROFILE_TEXT + b"\n[extra]\nx = " + b"{a=" * 2000 + b"1" + b"}" * 2000 + b"\n"),
        "nested",
    ),
    "toml-int-5000-digits": (
        "p.toml",
        _write(PROFILE_TEXT + b"\n[extra]\nx = " + b"9" * 5000 + b"\n"),
        "cannot be read",
    ),
    "toml-escape": ("p.toml", _write(PROFILE_TEXT + b'\n[extra]\nx = "\\u001b[2J"\n'), "U+001B"),
    "toml-nul": ("p.toml", _write(PROFILE_TEXT + b"\n#\x00\n"), "U+0000"),
    "toml-latin-1": ("p.toml", _write(PROFILE_TEXT + b"\n# caf\xe9\n"), "UTF-8"),
    "toml-50-mb": ("p.toml", lambda p: _sparse(p, b'name = "x"\n', 50 * MiB), "bytes"),
    "toml-1-mib": ("p.toml", _write(b"[extra]\nx = [" + b"1," * (MiB // 2) + b"]\n"), "bytes"),
    "toml-256-kib-of-values": (
        "p.toml",
        _write(b"[extra]\nx = [" + b"1," * ((256 * 1024 - 30) // 2) + b"]\n"),
        "values",
    ),
    "toml-random-bytes": ("p.toml", _write(bytes(range(256)) * 800), "UTF-8"),
}

__all__ = ["HOSTILE", "ROOT", "toml_documents", "toml_dump", "yaml_documents"]
