"""How to run a pipeline under test: its API and consumer processes.

The harness starts whatever a :class:`SystemSpec` says, filling the
templates below into argv and env, so it can drive another implementation
of the same pipeline (see ``wiber_harness.scenario.profile``). The default spec runs
this project's own ``wiber`` package.

Template fields: ``{python}``, ``{host}``, ``{port}`` (the API's port),
``{kafka_bootstrap}`` (the role's proxied bootstrap), ``{store_uri}`` (the
node's proxied store URI), ``{topic}``, ``{dlq_topic}``, ``{group}``,
``{db}``, ``{collection}``, ``{consumer_id}``, ``{metrics_port}``,
``{delivery_log}``, ``{failpoints_file}``, ``{node_dir}``.

``api`` is what the workload needs to talk to the API (routes, field
names, status meanings); the runner hands it to the workload.

``fields`` names the fields of a stored document (None: the pipeline does
not store it; only ``message_id`` is required) and the ``read_*`` fields
the shape of the conversation read (an object with the items in
``read_items`` or a bare list when None; paged by ``read_paging``); what
each means is in :mod:`wiber_harness.scenario.profile` and
:mod:`wiber_harness.api_reads`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from wiber_harness.workload.plan import ApiProfile

DEFAULT_API_ARGV = (
    "{python}",
    "-m",
    "uvicorn",
    "wiber.api:app",
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--log-level",
    "warning",
    "--no-access-log",
)
DEFAULT_CONSUMER_ARGV = ("{python}", "-m", "wiber.consumer")
DEFAULT_ENV = {
    "WIBER_KAFKA_BOOTSTRAP": "{kafka_bootstrap}",
    "WIBER_STORE_URI": "{store_uri}",
    "WIBER_TOPIC": "{topic}",
    "WIBER_DLQ_TOPIC": "{dlq_topic}",
    "WIBER_GROUP": "{group}",
    "WIBER_STORE_DB": "{db}",
    "WIBER_STORE_COLLECTION": "{collection}",
    "WIBER_CONSUMER_ID": "{consumer_id}",
    "WIBER_METRICS_PORT": "{metrics_port}",
    "WIBER_DELIVERY_LOG": "{delivery_log}",
    "WIBER_FAILPOINTS_FILE": "{failpoints_file}",
    "WIBER_LOG_FORMAT": "json",
}

DEFAULT_FIELDS: dict[str, str | None] = {
    "message_id": "messageId",
    "key": "clientMessageId",
    "conversation": "conversationId",
    "sender": "fromUser",
    # the conversation is derived from sender and recipient when it is not stored
    "recipient": "toUser",
    "partition": "partition",
    "offset": "offset",
    "stored_at_ns": "storedAtNs",
    # where the workload's content tag is found (wiber_harness.workload.tag)
    "tag": "content",
}
# how a conversation read pages (wiber_harness.api_reads), and the query
# parameter each way sends when the profile names none
PAGINGS: tuple[str, ...] = ("cursor", "offset", "after", "before", "none")
PAGING_PARAM = {"cursor": "after", "offset": "offset", "after": "after", "before": "before"}
READ_ORDERS: tuple[str, ...] = ("oldest_first", "newest_first")
# Wiber's store: the messages collection (mongod) or its conversation buckets (FerretDB)
STORE_COLLECTIONS: tuple[str, ...] = ("{collection}", "{collection}_read_[0-9][0-9][0-9]")


@dataclass(frozen=True)
class SystemSpec:
    """Commands, env templates, names and readiness of a pipeline implementation."""

    name: str = "wiber"
    api_argv: tuple[str, ...] = DEFAULT_API_ARGV
    consumer_argv: tuple[str, ...] = DEFAULT_CONSUMER_ARGV
    env: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ENV))
    topic: str = "wiber.messages"
    dlq_topic: str = "wiber.messages.dlq"
    group: str = "wiber-consumers"
    db: str = "wiber"
    collection: str = "messages"
    # the collections of {db} that together are "the store" (fnmatch patterns, where
    # {collection} is the collection above): the harness reads, counts and empties all
    collections: tuple[str, ...] = STORE_COLLECTIONS
    # stored document field names (what the harness reads back from the store;
    # None: the pipeline does not store it)
    fields: Mapping[str, str | None] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    # GET route of one conversation, in write order, paged (wiber_harness.api_reads)
    read_path: str = "/messages/{user1}/{user2}"
    read_items: str | None = "messages"  # answer field holding the page's items; None: bare list
    read_paging: str = "cursor"  # cursor, offset, after, before or none (see PAGINGS)
    read_cursor: str = "nextCursor"  # answer field holding the next cursor (null at the end)
    read_param: str = "after"  # query parameter carrying the cursor / offset / id
    read_limit_param: str | None = "limit"  # query parameter of the page size; None: none
    read_limit: int = 500
    read_order: str = "oldest_first"  # items of a page oldest first, or newest_first
    read_tag: str | None = "content"  # item field holding the content tag; None: none
    api_ready_path: str = "/health/readiness"
    consumer_ready: str = "metrics"  # "metrics": its metrics port answers; "none": started is ready
    # routes, request/response field names and status meanings the workload uses
    api: ApiProfile = field(default_factory=ApiProfile)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message_id_field(self) -> str:
        """The stored (and read) field holding a message's id: the one field every
        pipeline must keep."""
        name = self.fields.get("message_id")
        return name if name else "messageId"

    def store_collection_names(self, existing: Iterable[str]) -> list[str]:
        """The names among ``existing`` (a database's collections) that are the store,
        sorted: every name matching one of :attr:`collections` (``{collection}`` filled in)."""
        pats = [p.replace("{collection}", self.collection) for p in self.collections]
        return sorted(n for n in set(existing) if any(fnmatchcase(n, p) for p in pats))

    def render(self, template: str, values: Mapping[str, object]) -> str:
        return template.format_map({"python": sys.executable, **values})

    def render_argv(self, argv: tuple[str, ...], values: Mapping[str, object]) -> list[str]:
        return [self.render(a, values) for a in argv]

    def render_env(self, values: Mapping[str, object]) -> dict[str, str]:
        return {k: self.render(v, values) for k, v in self.env.items()}


DEFAULT_SYSTEM = SystemSpec()


def parse_settings(pairs: Iterable[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` pairs (system settings given on a command line) as a dict.

    Raises ValueError with one sentence naming ``option`` and the fix when a
    pair has no ``=`` or no name; a value may itself contain ``=``.
    """
    out: dict[str, str] = {}
    for p in pairs:
        name, eq, value = p.partition("=")
        if not eq or not name.strip():
            raise ValueError(
                f"{option} {p!r}: expected NAME=VALUE, e.g. {option} WIBER_PRODUCER_ACKS=1"
            )
        out[name.strip()] = value
    return out


__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_SYSTEM",
    "PAGINGS",
    "PAGING_PARAM",
    "READ_ORDERS",
    "STORE_COLLECTIONS",
    "SystemSpec",
    "parse_settings",
]
