"""System profiles: a TOML file that describes one implementation of the pipeline.

The harness drives any pipeline that does what Wiber does (REST API ->
Kafka topic -> consumer(s) -> MongoDB-wire store, reads back through the
API) once a profile says how to start its processes and what it calls
things. :func:`load_profile` turns a profile into a
:class:`~wiber_harness.cluster.system_spec.SystemSpec`; ``wiber-harness run
--system PROFILE.toml`` uses it, and so does ``bench --system``.
``profiles/wiber.toml`` is this project's own pipeline and loads to
exactly :data:`DEFAULT_SYSTEM`.

Format (every key is optional unless marked ``*``; a missing key takes
Wiber's value, printed here; unknown keys and tables are errors)::

    name* = "wiber"                     # [a-z0-9][a-z0-9._-]*, recorded in each run

    [api]
    argv* = ["{python}", "-m", "uvicorn", "wiber.api:app",
             "--host", "{host}", "--port", "{port}"]   # how to start one API process
    ready_path = "/health/readiness"    # GET answering 200 when the API is ready

    [consumer]
    argv* = ["{python}", "-m", "wiber.consumer"]       # how to start one consumer
    ready = "metrics"                   # "metrics": ready when {metrics_port} accepts
                                        # connections; "none": ready once started

    [env]                               # environment of API and consumers (templates);
    WIBER_KAFKA_BOOTSTRAP = "{kafka_bootstrap}"        # replaces Wiber's whole table
    WIBER_STORE_URI = "{store_uri}"

    [names]                             # what the harness creates, rewinds and reads
    topic = "wiber.messages"
    dlq_topic = "wiber.messages.dlq"
    group = "wiber-consumers"           # the consumers' group id
    db = "wiber"
    collection = "messages"
    collections = ["{collection}", "{collection}_read_[0-9][0-9][0-9]"]
                                        # the collections of {db} that together are the
                                        # store (fnmatch patterns; {collection} is the
                                        # name above): final reads read them all

    [http]                              # what the workload sends (ApiProfile)
    send_route = "/messages"            # POST one message
    batch_route = "/messages/batch"     # POST N messages (scenarios with batch > 0)
    from_field = "fromUser"             # request body fields
    to_field = "toUser"
    content_field = "content"
    key_field = "clientMessageId"       # the idempotency key in the body; false: header only
    key_header = "Idempotency-Key"      # the key as a header; false: body only
    message_id_field = "messageId"      # the new message's id in the answer
    conversation_field = "conversationId"  # its conversation in the answer; false: not checked
    partition_field = "partition"       # the Kafka partition the answer names; false: none
    offset_field = "offset"             # the Kafka offset the answer names; false: none
    batch_field = "messages"            # batch request: list of items
    results_field = "results"           # batch answer: per-item results ...
    result_index_field = "index"        # ... their item index ...
    result_status_field = "status"      # ... and status
    ok_statuses = [201]                 # done; any 4xx and not_sent_statuses: surely not
    not_sent_statuses = [503]           # done; any other status: unknown (info)
    multi_status = 207                  # batch answer with mixed results
    tag = "prefix"                      # each message's unique tag: "prefix" / "suffix" of
    tag_field = "tag"                   # the content, "field" (tag_field), false: none

    [read]                              # GET of one conversation (wiber_harness.api_reads)
    path = "/messages/{user1}/{user2}"  # the route; must hold {user1} and {user2}
    items = "messages"                  # answer field of the items; false: a bare list
    paging = "cursor"                   # cursor, offset, after, before or none (one page)
    cursor = "nextCursor"               # answer field: the next page's cursor
    param = "after"                     # paging query parameter (default by paging)
    limit_param = "limit"               # page size's query parameter; false: none
    limit = 500
    order = "oldest_first"              # a page's items; or "newest_first"
    tag = "content"                     # item field holding the tag; false: none

    [stored]                            # field names of a stored document; false: not
    message_id = "messageId"            # stored (message_id is required)
    key = "clientMessageId"             # the idempotency key the client sent
    conversation = "conversationId"     # false: derived from sender and recipient
    sender = "fromUser"
    recipient = "toUser"
    partition = "partition"             # the Kafka partition and offset it came from
    offset = "offset"
    stored_at_ns = "storedAtNs"         # epoch ns of the write; false: first seen (approx.)
    tag = "content"                     # where the message's tag is found; false: nowhere

    [extra]                             # free-form, passed to SystemSpec.extra

Templates: ``argv`` items and ``env`` values may use the fields of
:mod:`wiber_harness.cluster.system_spec` (``{python}``, ``{host}``,
``{port}``, ``{kafka_bootstrap}``, ``{store_uri}``, ``{topic}``,
``{dlq_topic}``, ``{group}``, ``{db}``, ``{collection}``,
``{consumer_id}``, ``{metrics_port}``, ``{delivery_log}``,
``{failpoints_file}``, ``{node_dir}``), filled in per node at start, plus
``{profile_dir}``: the profile file's own folder, filled in at load, so a
profile can point at code next to it (``PYTHONPATH = "{profile_dir}"``).
Write ``{{`` and ``}}`` for literal braces. Scenario settings
(``topology.settings``, ``--set``) are added to the environment as they
are; another implementation may ignore them.

Defaults that follow from other keys, and the rules between keys, are
:mod:`wiber_harness.scenario.profile_rules`'s.

Errors: every problem of a file is one sentence ``FILE: FIELD: what is
wrong; how to fix it`` and all of them are raised together as one
:class:`~wiber_harness.errors.InvalidScenario`, before anything starts.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM, PAGINGS, READ_ORDERS, SystemSpec
from wiber_harness.errors import InvalidScenario
from wiber_harness.printable import clip, one_line, shown
from wiber_harness.scenario.messages import suggest as _suggest
from wiber_harness.scenario.profile_rules import derive
from wiber_harness.scenario.reading import MAX_PROFILE_BYTES, load_toml, read_text
from wiber_harness.workload.plan import ApiProfile
from wiber_harness.workload.tag import TAG_PLACES

TEMPLATE_FIELDS: tuple[str, ...] = (
    "python",
    "host",
    "port",
    "kafka_bootstrap",
    "store_uri",
    "topic",
    "dlq_topic",
    "group",
    "db",
    "collection",
    "consumer_id",
    "metrics_port",
    "delivery_log",
    "failpoints_file",
    "node_dir",
)
PROFILE_DIR = "{profile_dir}"
READY_CHOICES = ("metrics", "none")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class _Key:
    """One key of a table: its kind and where it goes in the SystemSpec / ApiProfile."""

    kind: str  # "str", "route", "name", "optname", "int", "statuses", "argv", "ready", "patterns",
    # "choice" (one of choices), "optchoice" (one of choices, or false)
    default: Any
    choices: tuple[str, ...] = ()


def _wiber_keys() -> dict[str, dict[str, _Key]]:
    d, a = DEFAULT_SYSTEM, DEFAULT_SYSTEM.api
    return {
        "api": {"argv": _Key("argv", d.api_argv), "ready_path": _Key("route", d.api_ready_path)},
        "consumer": {
            "argv": _Key("argv", d.consumer_argv),
            "ready": _Key("ready", d.consumer_ready),
        },
        "names": {
            **{
                k: _Key("str", getattr(d, k))
                for k in ("topic", "dlq_topic", "group", "db", "collection")
            },
            "collections": _Key("patterns", d.collections),
        },
        "http": {
            "send_route": _Key("route", a.send_route),
            "batch_route": _Key("route", a.batch_route),
            **{
                k: _Key("name", getattr(a, k))
                for k in (
                    "from_field",
                    "to_field",
                    "content_field",
                    "message_id_field",
                    "batch_field",
                    "results_field",
                    "result_index_field",
                    "result_status_field",
                    "tag_field",
                )
            },
            **{
                k: _Key("optname", getattr(a, k))
                for k in (
                    "key_field",
                    "key_header",
                    "conversation_field",
                    "partition_field",
                    "offset_field",
                )
            },
            "ok_statuses": _Key("statuses", a.ok_statuses),
            "not_sent_statuses": _Key("statuses", a.not_sent_statuses),
            "multi_status": _Key("status", a.multi_status),
            "tag": _Key("optchoice", a.tag, TAG_PLACES),
        },
        "read": {
            "path": _Key("route", d.read_path),
            "items": _Key("optname", d.read_items),
            "paging": _Key("choice", d.read_paging, PAGINGS),
            "cursor": _Key("name", d.read_cursor),
            "param": _Key("name", d.read_param),
            "limit_param": _Key("optname", d.read_limit_param),
            "limit": _Key("int", d.read_limit),
            "order": _Key("choice", d.read_order, READ_ORDERS),
            "tag": _Key("optname", d.read_tag),
        },
        "stored": {
            k: _Key("name" if k == "message_id" else "optname", v) for k, v in d.fields.items()
        },
    }


TABLES: Mapping[str, Mapping[str, _Key]] = _wiber_keys()
REQUIRED: tuple[str, ...] = ("name", "api.argv", "consumer.argv")
TOP_KEYS: tuple[str, ...] = ("name", *TABLES, "env", "extra")


class _Problems:
    """Collects one sentence per problem, each prefixed with file and field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, detail: str) -> None:
        self.lines.append(one_line(f"{self.source}: {where}: {detail}"))  # one line, bounded

    def raise_if_any(self) -> None:
        if self.lines:
            raise InvalidScenario("\n".join(self.lines))


def _template_problem(text: str, allowed: tuple[str, ...]) -> str | None:
    """Why ``text`` is not a valid template over ``allowed`` fields (None if it is)."""
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as e:
        return (
            f"'{clip(text)}' is not a valid template ({e}); write {{{{ and }}}} for literal braces"
        )
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if name not in allowed:
            known = ", ".join("{" + f + "}" for f in allowed)
            return (
                f"unknown template field '{{{clip(name)}}}'; {_suggest(name, list(allowed))}"
                f"known fields are {known}"
            )
        if spec or conv:
            return f"'{{{clip(name)}}}' may not carry a format spec or conversion; write it plainly"
    return None


def _check_value(p: _Problems, where: str, key: _Key, value: object, profile_dir: str) -> Any:
    """The value converted to what SystemSpec/ApiProfile hold; problems are added to ``p``."""
    k = key.kind
    if k == "argv":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            p.add(
                where,
                f"must be a non-empty list of strings like {list(key.default)[:3]}, "
                f"not {shown(value)}; write the command as a list",
            )
            return key.default
        out = tuple(v.replace(PROFILE_DIR, profile_dir) for v in value)
        for i, v in enumerate(out):
            why = _template_problem(v, TEMPLATE_FIELDS)
            if why:
                p.add(f"{where}[{i}]", why)
        return out
    if k == "patterns":
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            p.add(
                where,
                f"must be a non-empty list of collection name patterns like "
                f"{list(key.default)}, not {shown(value)}; write the patterns as a list",
            )
            return key.default
        for i, v in enumerate(value):
            why = _template_problem(v, ("collection",))
            if why:
                p.add(f"{where}[{i}]", why)
        return tuple(value)
    if k in ("str", "name", "route", "optname"):
        if k == "optname" and value is False:
            return None
        if not isinstance(value, str) or not value.strip():
            alt = " or false (none)" if k == "optname" else ""
            p.add(
                where,
                f"must be a non-empty string{alt}, not {shown(value)}; for example '{key.default}'",
            )
            return key.default
        if k == "route":
            if not value.startswith("/"):
                p.add(where, f"route '{clip(value)}' must start with '/'; write '/{clip(value)}'")
            allowed = ("user1", "user2") if where == "read.path" else ()
            why = _template_problem(value, allowed)
            if why:
                p.add(where, why)
            elif where == "read.path" and not {"user1", "user2"} <= {
                n for _, n, _, _ in _FORMATTER.parse(value) if n
            }:
                p.add(
                    where,
                    f"'{clip(value)}' must hold both {{user1}} and {{user2}}, "
                    "like '/messages/{user1}/{user2}'",
                )
        return value
    if k in ("choice", "optchoice"):
        if k == "optchoice" and value is False:
            return None
        if value not in key.choices:
            alt = " or false (none)" if k == "optchoice" else ""
            p.add(where, f"is {value!r}; use one of {', '.join(key.choices)}{alt}")
            return key.default
        return value
    if k == "ready":
        if value not in READY_CHOICES:
            p.add(
                where,
                f"is {shown(value)}; use one of {', '.join(READY_CHOICES)} "
                "(metrics: its {metrics_port} accepts connections; none: started is ready)",
            )
            return key.default
        return value
    if k in ("int", "status"):
        lo, hi = (1, 100_000) if k == "int" else (100, 599)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            p.add(
                where,
                f"must be a whole number from {lo} to {hi}, not {shown(value)}; "
                f"for example {key.default}",
            )
            return key.default
        return value
    if k == "statuses":
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value
        ):
            p.add(
                where,
                f"must be a list of HTTP statuses like {sorted(key.default)}, not {shown(value)}; "
                "fix the list",
            )
            return key.default
        return frozenset(value)
    raise AssertionError(k)  # pragma: no cover


def _table(p: _Problems, data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    raw = data.get(name, {})
    if not isinstance(raw, Mapping):
        p.add(
            name,
            f"must be a table ([{name}] with key = value lines), not {shown(raw)}; "
            "write it as a table",
        )
        return {}
    return raw


def profile_from_dict(
    data: Mapping[str, Any], source: str = "<profile>", profile_dir: str | Path = "."
) -> SystemSpec:
    """Validate a parsed profile (the TOML document as a dict) into a SystemSpec."""
    p = _Problems(source)
    pdir = str(Path(profile_dir).resolve())
    for key in data:
        if key not in TOP_KEYS:
            p.add(
                key,
                f"unknown key '{clip(key)}'; {_suggest(key, list(TOP_KEYS))}"
                f"allowed are {', '.join(TOP_KEYS)}",
            )
    for req in REQUIRED:
        table, _, leaf = req.rpartition(".")
        holder = data.get(table) if table else data
        if not isinstance(holder, Mapping) or leaf not in holder:
            example = {
                "name": 'name = "mypipeline"',
                "api.argv": '[api] argv = ["{python}", "-m", ...]',
                "consumer.argv": '[consumer] argv = ["{python}", "-m", ...]',
            }[req]
            p.add(req, f"required key is missing; add {example}")
    name = data.get("name", DEFAULT_SYSTEM.name)
    if "name" in data and (not isinstance(name, str) or not _NAME.fullmatch(name)):
        p.add(
            "name",
            f"{shown(name)} is not allowed; "
            "use lower-case letters, digits, '.', '_' and '-', like 'wiber'",
        )
        name = DEFAULT_SYSTEM.name
    values: dict[str, dict[str, Any]] = {}
    for tname, keys in TABLES.items():
        raw = _table(p, data, tname)
        for key in raw:
            if key not in keys:
                p.add(
                    f"{tname}.{key}",
                    f"unknown key '{clip(key)}' in [{tname}]; {_suggest(key, list(keys))}"
                    f"allowed are {', '.join(keys)}",
                )
        values[tname] = {
            k: _check_value(p, f"{tname}.{k}", spec, raw[k], pdir) if k in raw else spec.default
            for k, spec in keys.items()
        }
    env: dict[str, str] = dict(DEFAULT_SYSTEM.env)
    if "env" in data:
        raw_env = _table(p, data, "env")
        env = {}
        for k, v in raw_env.items():
            if not isinstance(v, str):
                p.add(
                    f"env.{k}",
                    f"must be a string (a template), not {shown(v)}; "
                    f'quote it, like {clip(k)} = "{clip(str(v))}"',
                )
                continue
            v = v.replace(PROFILE_DIR, pdir)
            why = _template_problem(v, TEMPLATE_FIELDS)
            if why:
                p.add(f"env.{k}", why)
            env[k] = v
    extra = dict(_table(p, data, "extra"))
    derive(p.add, {t: r for t in TABLES if isinstance(r := data.get(t), Mapping)}, values)
    p.raise_if_any()
    http = values["http"]
    return SystemSpec(
        name=str(name),
        api_argv=values["api"]["argv"],
        consumer_argv=values["consumer"]["argv"],
        env=env,
        **values["names"],
        fields=dict(values["stored"]),
        **{f"read_{k}": v for k, v in values["read"].items()},
        api_ready_path=values["api"]["ready_path"],
        consumer_ready=values["consumer"]["ready"],
        api=ApiProfile(**http),
        extra=extra,
    )


def load_profile(path: str | Path) -> SystemSpec:
    """Read and validate a profile file; raises InvalidScenario with one sentence per problem.

    The file is read through :mod:`wiber_harness.scenario.reading` (size,
    encoding, control characters, nesting bounded before it is parsed).
    """
    f = Path(path)
    text = read_text(
        f,
        "system profile",
        "no such system profile; pass a TOML file such as profiles/wiber.toml",
        MAX_PROFILE_BYTES,
    )
    data = load_toml(text, str(f), "system profile")
    return profile_from_dict(data, str(f), f.resolve().parent)


def profile_to_toml(spec: SystemSpec) -> str:
    """A profile file for ``spec`` (what ``profiles/wiber.toml`` holds for DEFAULT_SYSTEM)."""

    def lit(v: Any) -> str:
        if v is None:
            return "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, frozenset | set):
            return "[" + ", ".join(str(x) for x in sorted(v)) + "]"
        return "[" + ", ".join(lit(x) for x in v) + "]"

    getters: dict[str, Callable[[str], Any]] = {
        "api": lambda k: spec.api_argv if k == "argv" else spec.api_ready_path,
        "consumer": lambda k: spec.consumer_argv if k == "argv" else spec.consumer_ready,
        "names": lambda k: getattr(spec, k),
        "http": lambda k: getattr(spec.api, k),
        "read": lambda k: getattr(spec, f"read_{k}"),
        "stored": lambda k: spec.fields[k],
    }
    lines = [f"name = {lit(spec.name)}"]
    for tname, keys in TABLES.items():
        lines += ["", f"[{tname}]"] + [f"{k} = {lit(getters[tname](k))}" for k in keys]
    lines += ["", "[env]"] + [f"{k} = {lit(v)}" for k, v in spec.env.items()]
    if spec.extra:
        lines += ["", "[extra]"] + [f"{k} = {lit(v)}" for k, v in spec.extra.items()]
    return "\n".join(lines) + "\n"


__all__ = ["PROFILE_DIR", "TEMPLATE_FIELDS", "load_profile", "profile_from_dict", "profile_to_toml"]
