"""Target specs: what a fault hits, parsed to a typed AST and resolved to names.
Over 500 lines because the grammar is one definition: a new target form
needs its AST node, its parse and its resolution together, and the AST's
text (``str(target)``) must stay the parser's input.

A scenario names its targets abstractly (``kafka.leader(partition=0)``,
``consumer.any``, ``link(api, kafka.1)``) because the concrete node is only
known while the run is going: the leader moves, a random pick is seeded.
:func:`parse` turns a spec into a frozen AST once, at validation time;
:func:`resolve` maps it to node or link names at inject time against a
read-only :class:`ClusterView` (the :class:`~wiber_harness.cluster.base.Cluster`
satisfies it). The faults engineer resolves once per inject and heals exactly
the names the inject resolved, so a leader that moves meanwhile is still
healed.

Grammar (whitespace is ignored; ``mongo`` is an alias of ``store``)::

    target    := node | link | links | "workload" | "consumers"
    node      := "kafka." ksel | "consumer." csel | "api." csel | "store"
    ksel      := N | "leader(" "partition=" N ["," "topic=" NAME] ")"
               | "controller" | "random" | "any" | "minority" | "all"
    csel      := N | "any" | "random" | "all"
    link      := "link(" end "," end ")"       one client end, one server end,
                                               in either order
    client    := "api" | "consumer" | "consumer." csel
    server    := kafka node | "store"
    links     := "links(" (kafka node | "store" | "api" | "consumer") ")"

Meanings:

* ``kafka.N`` / ``consumer.N`` / ``api.N``: the N-th node (1-based).
* ``kafka.leader(partition=P[, topic=T])``: the current leader of partition P
  of the pipeline's topic (or of T).
* ``kafka.controller``: the active KRaft controller.
* ``kafka.random`` / ``.any``: one node picked with the run's seeded RNG.
* ``kafka.minority``: a random minority of the brokers (1 of 3).
* ``.all``: every node of the role.
* ``link(api, kafka.1)`` -> ``api-kafka-1``; ``link(consumer, kafka.all)`` ->
  every ``consumer-kafka-N``. All consumers share their Kafka links (and all
  APIs theirs), so ``link(consumer.1, kafka.1)`` is an error.
* ``link(consumer, store)`` -> every ``consumer-N-store``;
  ``link(consumer.1, store)`` -> ``consumer-1-store``; ``link(api, store)`` ->
  ``api-store``.
* ``links(kafka.2)``: every client link of broker 2 (cuts it off from the API
  and the consumers); ``links(store)``, ``links(api)``, ``links(consumer)``:
  every link of that node or role.
* ``workload``: the harness's own clients (duplicate injection).
* ``consumers``: the consumer group (resolves to every consumer node).

Inter-broker traffic does not go through Toxiproxy, so a link between two
brokers is not a target; use the ``isolate`` fault for that.

Errors: :func:`parse` raises :class:`TargetSyntaxError`, :func:`resolve`
raises :class:`TargetResolutionError`; both are ``ValueError`` subclasses
whose message is a sentence fragment the caller prefixes with file and field.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from wiber_harness.printable import clip

NodeRole = Literal["kafka", "consumer", "api", "store"]
ClientRole = Literal["api", "consumer"]
TargetKind = Literal["process", "link", "workload", "group"]

TARGET_FORMS: tuple[str, ...] = (
    "kafka.N",
    "kafka.leader(partition=N)",
    "kafka.controller",
    "kafka.random",
    "kafka.minority",
    "kafka.all",
    "consumer.N|any|all",
    "api.N|any|all",
    "store",
    "link(api|consumer[.N], kafka.<sel>|store)",
    "links(kafka.<sel>|store|api|consumer)",
    "workload",
    "consumers",
)
_FORMS_HINT = "targets are " + ", ".join(TARGET_FORMS)


class TargetSyntaxError(ValueError):
    """A target spec does not follow the grammar; the message says how to fix it."""


class TargetResolutionError(ValueError):
    """A well-formed spec names something the cluster does not have."""


# --- selectors -------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """The n-th node of a role, 1-based."""

    n: int


@dataclass(frozen=True)
class Leader:
    """The current leader of a partition (of the pipeline's topic unless ``topic``)."""

    partition: int
    topic: str | None = None


@dataclass(frozen=True)
class Controller:
    """The active KRaft controller."""


@dataclass(frozen=True)
class AnyOne:
    """One node picked with the run's seeded RNG."""


@dataclass(frozen=True)
class Minority:
    """A random strict minority of the nodes (1 of 3 brokers)."""


@dataclass(frozen=True)
class All:
    """Every node of the role."""


@dataclass(frozen=True)
class Sole:
    """The only node of a single-node role (``store``)."""


Selector: TypeAlias = Index | Leader | Controller | AnyOne | Minority | All | Sole


# --- targets ---------------------------------------------------------------


def _sel_text(role: str, sel: Selector) -> str:
    match sel:
        case Index(n):
            return f"{role}.{n}"
        case Leader(p, None):
            return f"{role}.leader(partition={p})"
        case Leader(p, t):
            return f"{role}.leader(partition={p}, topic={t})"
        case Controller():
            return f"{role}.controller"
        case AnyOne():
            return f"{role}.random" if role == "kafka" else f"{role}.any"
        case Minority():
            return f"{role}.minority"
        case All():
            return f"{role}.all"
        case Sole():
            return role
    raise AssertionError(sel)  # pragma: no cover


@dataclass(frozen=True)
class NodeTarget:
    """One or more processes of one role."""

    role: NodeRole
    select: Selector

    @property
    def kind(self) -> TargetKind:
        return "process"

    def __str__(self) -> str:
        return _sel_text(self.role, self.select)


@dataclass(frozen=True)
class LinkTarget:
    """Client-to-server Toxiproxy links: ``link(client, server)``.

    ``client_select`` is :class:`All` for the bare role; only consumers have
    per-node links, and only to the store.
    """

    client: ClientRole
    client_select: All | Index | AnyOne
    server: NodeTarget

    @property
    def kind(self) -> TargetKind:
        return "link"

    def __str__(self) -> str:
        client = (
            self.client
            if isinstance(self.client_select, All)
            else _sel_text(self.client, self.client_select)
        )
        return f"link({client}, {self.server})"


@dataclass(frozen=True)
class LinksOf:
    """Every client link of a node or role: ``links(kafka.2)``, ``links(store)``."""

    node: NodeTarget

    @property
    def kind(self) -> TargetKind:
        return "link"

    def __str__(self) -> str:
        inner = self.node.role if self.node.role in ("api", "consumer") else str(self.node)
        return f"links({inner})"


@dataclass(frozen=True)
class WorkloadTarget:
    """The harness's own clients (for client-side duplicate injection)."""

    @property
    def kind(self) -> TargetKind:
        return "workload"

    def __str__(self) -> str:
        return "workload"


@dataclass(frozen=True)
class GroupTarget:
    """The consumer group as a whole (for offset rewinds)."""

    @property
    def kind(self) -> TargetKind:
        return "group"

    def __str__(self) -> str:
        return "consumers"


Target: TypeAlias = NodeTarget | LinkTarget | LinksOf | WorkloadTarget | GroupTarget


# --- parser ----------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[0-9]+")
_TOPIC = re.compile(r"[A-Za-z0-9._-]+")
_ROLE_ALIASES: dict[str, NodeRole] = {
    "mongo": "store",
    "kafka": "kafka",
    "consumer": "consumer",
    "api": "api",
    "store": "store",
}
_WORD_SELECTORS: dict[str, Selector] = {
    "controller": Controller(),
    "random": AnyOne(),
    "any": AnyOne(),
    "minority": Minority(),
    "all": All(),
}
_KAFKA_WORDS = ("leader", "controller", "random", "any", "minority", "all")
_CLIENT_WORDS = ("any", "random", "all")


def _hint(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> TargetSyntaxError:
        return TargetSyntaxError(f"target '{clip(self.text)}' is not valid: {what}")

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, s: str) -> bool:
        self.ws()
        return self.text.startswith(s, self.pos)

    def expect(self, s: str) -> None:
        if not self.peek(s):
            got = self.text[self.pos :] or "the end"
            raise self.fail(f"expected '{s}' at position {self.pos + 1}, found '{clip(got)}'")
        self.pos += len(s)

    def match(self, rx: re.Pattern[str], what: str) -> str:
        self.ws()
        m = rx.match(self.text, self.pos)
        if not m:
            got = self.text[self.pos :] or "the end"
            raise self.fail(f"expected {what} at position {self.pos + 1}, found '{clip(got)}'")
        self.pos = m.end()
        return m.group(0)

    def at_end(self) -> bool:
        self.ws()
        return self.pos >= len(self.text)

    # node := role ["." selector]
    def node(self) -> tuple[NodeRole, Selector | None]:
        word = self.match(_WORD, "a role (kafka, consumer, api, store)")
        role = _ROLE_ALIASES.get(word)
        if role is None:
            raise self.fail(
                f"unknown role '{clip(word)}'{_hint(word, list(_ROLE_ALIASES))}; {_FORMS_HINT}"
            )
        if role == "store":
            if self.peek("."):
                raise self.fail("'store' is a single node; write just 'store'")
            return role, Sole()
        if not self.peek("."):
            return role, None
        self.expect(".")
        self.ws()
        if _INT.match(self.text, self.pos):
            n = int(self.match(_INT, "a node number"))
            if n < 1:
                raise self.fail(f"node numbers start at 1; write '{role}.1'")
            return role, Index(n)
        word = self.match(_WORD, "a node number or selector")
        allowed = _KAFKA_WORDS if role == "kafka" else _CLIENT_WORDS
        if word not in allowed:
            raise self.fail(
                f"'{clip(role)}.{clip(word)}' is not a selector{_hint(word, allowed)}; "
                f"use {role}.N or {role}.{' / '.join(allowed)}"
            )
        if word == "leader":
            return role, self.leader_args()
        return role, _WORD_SELECTORS[word]

    def leader_args(self) -> Leader:
        usage = "write kafka.leader(partition=0) or kafka.leader(partition=0, topic=NAME)"
        if not self.peek("("):
            raise self.fail(f"the leader of which partition? {usage}")
        self.expect("(")
        partition: int | None = None
        topic: str | None = None
        while True:
            key = self.match(_WORD, "'partition=' or 'topic='")
            self.expect("=")
            if key == "partition":
                partition = int(self.match(_INT, "a partition number"))
            elif key == "topic":
                self.ws()
                quote = (
                    self.text[self.pos]
                    if self.pos < len(self.text) and self.text[self.pos] in "'\""
                    else ""
                )
                if quote:
                    self.pos += 1
                topic = self.match(_TOPIC, "a topic name")
                if quote:
                    self.expect(quote)
            else:
                raise self.fail(
                    f"unknown argument '{clip(key)}'{_hint(key, ['partition', 'topic'])}; {usage}"
                )
            if self.peek(","):
                self.expect(",")
                continue
            self.expect(")")
            break
        if partition is None:
            raise self.fail(f"partition= is required; {usage}")
        return Leader(partition, topic)

    def target(self) -> Target:
        self.ws()
        start = self.pos
        word = self.match(_WORD, "a target")
        if word in ("link", "links") and self.peek("("):
            self.expect("(")
            t: Target = self.link_args() if word == "link" else self.links_args()
            self.expect(")")
        elif word == "workload" and self.at_end():
            t = WorkloadTarget()
        elif word == "consumers" and self.at_end():
            t = GroupTarget()
        else:
            self.pos = start
            role, sel = self.node()
            if sel is None:
                raise self.fail(
                    f"which {role}? write {role}.1, {role}.any or {role}.all"
                    if role != "kafka"
                    else (
                        "which broker? write kafka.1, kafka.leader(partition=0), kafka.random "
                        "or kafka.all"
                    )
                )
            t = NodeTarget(role, sel)
        if not self.at_end():
            raise self.fail(
                f"unexpected '{clip(self.text[self.pos :])}' at position {self.pos + 1}"
            )
        return t

    def link_args(self) -> LinkTarget:
        a = self.node()
        self.expect(",")
        b = self.node()
        clients = [e for e in (a, b) if e[0] in ("api", "consumer")]
        servers = [e for e in (a, b) if e[0] in ("kafka", "store")]
        if len(servers) == 2:
            raise self.fail(
                "broker-to-broker and broker-to-store traffic does not go through Toxiproxy; "
                "use the isolate fault to cut a broker off"
            )
        if len(clients) == 2:
            raise self.fail(
                "a link joins a client (api or consumer) to a server (kafka.<sel> or store)"
            )
        (crole, csel), (srole, ssel) = clients[0], servers[0]
        if ssel is None:
            raise self.fail(
                "which broker? write link(..., kafka.1), "
                "link(..., kafka.leader(partition=0)) or link(..., kafka.all)"
            )
        if csel is None:
            csel = All()
        if not isinstance(csel, All | Index | AnyOne):  # pragma: no cover - grammar forbids
            raise self.fail(f"'{crole}' cannot be selected that way")
        client: ClientRole = "api" if crole == "api" else "consumer"
        if srole == "kafka" and not isinstance(csel, All):
            raise self.fail(
                f"all {crole}s share their links to Kafka; "
                f"write link({crole}, {_sel_text(srole, ssel)})"
            )
        if crole == "api" and not isinstance(csel, All):
            raise self.fail("all APIs share their store link; write link(api, store)")
        return LinkTarget(client, csel, NodeTarget(srole, ssel))

    def links_args(self) -> LinksOf:
        role, sel = self.node()
        if role in ("api", "consumer"):
            if sel is not None and not isinstance(sel, All):
                raise self.fail(
                    f"all {role}s share their Kafka links, so one {role} cannot be cut off alone; "
                    f"write links({role})"
                    + (" or link(consumer.N, store)" if role == "consumer" else "")
                )
            sel = All()
        if sel is None:
            raise self.fail(
                "which broker? write links(kafka.1) or links(kafka.leader(partition=0))"
            )
        return LinksOf(NodeTarget(role, sel))


def parse(spec: str) -> Target:
    """Parse a target spec into its AST; raises :class:`TargetSyntaxError`."""
    if not isinstance(spec, str) or not spec.strip():
        raise TargetSyntaxError(f"a target is required; {_FORMS_HINT}")
    return _Parser(spec).target()


# --- resolution ------------------------------------------------------------


@runtime_checkable
class ClusterView(Protocol):
    """What resolution needs to know about a running cluster (read-only)."""

    def node_names(self, role: str) -> list[str]:
        """Names of the nodes of one role, in order (``kafka-1``, ``kafka-2`` ...)."""
        ...

    def links(self) -> list[str]:
        """Names of every Toxiproxy proxy."""
        ...

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        """Node name of the current leader of a partition."""
        ...

    def kafka_controller(self) -> str:
        """Node name of the active controller."""
        ...


@dataclass(frozen=True)
class TopologyView:
    """A :class:`ClusterView` of a topology that is not running.

    Validation resolves every target against it, so a scenario naming
    ``consumer.3`` in a 2-consumer topology fails before anything starts.
    Leader and controller lookups answer ``kafka-1``: any broker will do for
    a dry run.
    """

    brokers: int = 3
    consumers: int = 1
    apis: int = 1

    def node_names(self, role: str) -> list[str]:
        count = {"kafka": self.brokers, "consumer": self.consumers, "api": self.apis}.get(role)
        if count is None:
            return [role] if role in ("store", "toxiproxy") else []
        return [f"{role}-{i}" for i in range(1, count + 1)]

    def links(self) -> list[str]:
        out = [f"{c}-kafka-{i}" for c in ("api", "consumer") for i in range(1, self.brokers + 1)]
        out.append("api-store")
        out += [f"consumer-{i}-store" for i in range(1, self.consumers + 1)]
        return out

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        return "kafka-1"

    def kafka_controller(self) -> str:
        return "kafka-1"


def _nodes(t: NodeTarget, view: ClusterView, rng: random.Random) -> list[str]:
    names = view.node_names(t.role)
    if not names:
        raise TargetResolutionError(f"'{t}' matches nothing: the cluster has no {t.role} node")
    match t.select:
        case Index(n):
            if n > len(names):
                raise TargetResolutionError(
                    f"'{t}' does not exist: there {'is' if len(names) == 1 else 'are'} only "
                    f"{len(names)} {t.role} node{'s' if len(names) != 1 else ''}; "
                    f"use {t.role}.1..{t.role}.{len(names)}"
                )
            return [names[n - 1]]
        case Leader(p, topic):
            return [view.kafka_leader(p, topic)]
        case Controller():
            return [view.kafka_controller()]
        case AnyOne():
            return [rng.choice(names)]
        case Minority():
            # the largest group whose loss still leaves a quorum
            return sorted(rng.sample(names, (len(names) - 1) // 2), key=names.index)
        case All() | Sole():
            return list(names)
    raise AssertionError(t.select)  # pragma: no cover


def _number(node: str) -> str:
    return node.rsplit("-", 1)[-1]


def client_links(node: str, view: ClusterView) -> list[str]:
    """Every proxy through which clients reach (or a client reaches out from) ``node``."""
    role = node.rsplit("-", 1)[0] if node[-1:].isdigit() else node
    names = view.links()
    if role == "kafka":
        wanted = [f"api-kafka-{_number(node)}", f"consumer-kafka-{_number(node)}"]
    elif role == "store":
        wanted = [
            n
            for n in names
            if n == "api-store" or (n.startswith("consumer-") and n.endswith("-store"))
        ]
    elif role == "api":
        wanted = [n for n in names if n.startswith("api-")]
    elif role == "consumer":
        wanted = [n for n in names if n.startswith("consumer-kafka-")] + [f"{node}-store"]
    else:
        wanted = []
    return wanted


def _links(t: LinkTarget | LinksOf, view: ClusterView, rng: random.Random) -> list[str]:
    if isinstance(t, LinksOf):
        if t.node.role in ("api", "consumer"):
            names = [n for n in view.links() if n.startswith(f"{t.node.role}-")]
        else:
            names = [ln for node in _nodes(t.node, view, rng) for ln in client_links(node, view)]
    elif t.server.role == "kafka":
        names = [f"{t.client}-kafka-{_number(b)}" for b in _nodes(t.server, view, rng)]
    elif t.client == "api":
        names = ["api-store"]
    else:
        consumers = _nodes(NodeTarget("consumer", t.client_select), view, rng)
        names = [f"{c}-store" for c in consumers]
    known = set(view.links())
    missing = [n for n in names if n not in known]
    if missing:
        raise TargetResolutionError(
            f"'{t}' needs link {missing[0]}, which the cluster does not have"
        )
    return names


def resolve(target: Target | str, view: ClusterView, rng: random.Random | None = None) -> list[str]:
    """Map a target to node names (process, group) or link names (link).

    ``rng`` makes ``random``/``any``/``minority`` picks reproducible; pass the
    run's seeded RNG (``None`` means a fixed ``Random(0)``). ``workload``
    resolves to ``["workload"]``. The result has no duplicates and keeps
    cluster order. Raises :class:`TargetResolutionError` (and
    :class:`TargetSyntaxError` for an unparsable string).
    """
    t = parse(target) if isinstance(target, str) else target
    r = rng if rng is not None else random.Random(0)
    if isinstance(t, NodeTarget):
        out = _nodes(t, view, r)
    elif isinstance(t, LinkTarget | LinksOf):
        out = _links(t, view, r)
    elif isinstance(t, WorkloadTarget):
        out = ["workload"]
    else:
        out = view.node_names("consumer")
    return list(dict.fromkeys(out))


__all__ = [
    "TARGET_FORMS",
    "All",
    "AnyOne",
    "ClientRole",
    "ClusterView",
    "Controller",
    "GroupTarget",
    "Index",
    "Leader",
    "LinkTarget",
    "LinksOf",
    "Minority",
    "NodeRole",
    "NodeTarget",
    "Selector",
    "Sole",
    "Target",
    "TargetKind",
    "TargetResolutionError",
    "TargetSyntaxError",
    "TopologyView",
    "WorkloadTarget",
    "client_links",
    "parse",
    "resolve",
]
