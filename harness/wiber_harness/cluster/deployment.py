"""Target files: a TOML description of a deployment the harness did not start (attach mode).
Over 500 lines because the whole format is validated in one place, like a
scenario: every key's type, bounds and meaning, and the cross-key rules
(links name declared nodes, templates use fields the node defines).

``wiber-harness run SCENARIO --backend attach --target DEPLOY.toml`` drives
the deployment a target names, through
:class:`~wiber_harness.cluster.attach.AttachCluster`. The file says where
the deployment answers and which fault drivers it offers; everything it
does not offer is refused before a run
(:mod:`wiber_harness.faults.needs`). Format (``*``: required)::

    name = "staging"                    # a label recorded in each run
    system = "profiles/wiber.toml"      # the system profile (relative to this
                                        # file); default: the Wiber spec

    [api]
    urls* = ["http://10.0.0.5:8000"]    # one per API node: api-1, api-2 ...

    [kafka]
    bootstrap* = "10.0.0.7:9092"        # direct listeners: the harness's own view
    pipeline_bootstrap = "10.0.0.9:19092"  # what the pipeline uses (recorded only)
    controller = "kafka-metadata-quorum.sh --bootstrap-server {bootstrap} describe --status"
                                        # prints "LeaderId: N" or N: kafka.controller

    [store]
    uri* = "mongodb://10.0.0.8:27017/"  # direct, never through Toxiproxy

    [settings]                          # system settings the deployment runs with
    WIBER_CONSUMER_SESSION_TIMEOUT_MS = "6000"

    [toxiproxy]                         # link faults, through a Toxiproxy you run
    url* = "http://10.0.0.6:8474"
    [toxiproxy.links]                   # harness link name = proxy name there
    api-kafka-1 = "kafka1_from_api"     # the API's hop to broker 1
    consumer-1-store = "store_from_c1"  # consumer 1's hop to the store

    [commands]                          # defaults for every node (templates)
    kill = "kubectl delete pod {pod} --grace-period=0 --force"
    start = "kubectl wait --for=condition=Ready pod/{pod} --timeout=120s"
    timeout_s = 60                      # longest a command may take
    observe_s = 10                      # how long a verb's effect is looked for

    [nodes.kafka-1]                     # kafka-N, api-N, consumer-N (N from 1, no
    broker_id = 0                       # gaps) and store; kafka: its node id
    address = "10.0.0.7:9092"           # kafka: its own direct listener
    vars = { pod = "kafka-0" }          # template fields of this node
    pause = { shell = "kubectl exec {pod} -- kill -STOP 1" }   # overrides [commands]

    [nodes.consumer-1]
    health = "http://10.0.0.11:9100/metrics"   # or "tcp://host:port"
    status = ["ctl", "status", "{pod}"]         # prints running|paused|down [PID]
    failpoints = { file = "/shared/consumer-1.failpoints" }  # or { url = ... }
                                                # or { command = "... {spec}" }
    delivery_log = "/shared/consumer-1.delivery.jsonl"

Verbs a node may have: ``kill``, ``stop`` (may use ``{grace}``),
``start``, ``pause``, ``resume``, ``status``, ``isolate`` and ``rejoin``.
Every template may use ``{node}``, ``{role}``, ``{index}``,
``{bootstrap}`` and the node's ``vars``; a ``failpoints`` command also
``{spec}``. A ``[commands]`` default applies to each node that defines
every field it uses (another node simply lacks that verb, and a scenario
needing it there is refused with the reason); a field no node defines is an
error. How templates run (no shell unless ``{ shell = ... }``): see
:mod:`wiber_harness.cluster.templates`.

API nodes come from ``[api].urls`` and the ``store`` node always exists;
Kafka and consumer nodes exist when declared. Errors: every problem is
one sentence ``FILE: FIELD: what; fix`` (unknown keys with a did-you-mean),
all raised together as one :class:`~wiber_harness.errors.InvalidScenario`.
Limits: the file at most 256 KiB, 64 nodes, 256 links, 32 vars per node,
values 1,000 characters, templates 4,000.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wiber_harness.cluster.system_spec import SystemSpec
from wiber_harness.cluster.templates import Template, TemplateError, parse_template
from wiber_harness.errors import InvalidScenario
from wiber_harness.scenario.messages import suggest as _suggest

MAX_FILE = 256 << 10
MAX_NODES = 64
MAX_LINKS = 256
MAX_VARS = 32
MAX_VALUE = 1000
MAX_URLS = 8

VERBS = ("kill", "stop", "start", "pause", "resume", "status", "isolate", "rejoin")
BUILTIN_FIELDS = ("node", "role", "index", "bootstrap")
VERB_FIELDS: Mapping[str, tuple[str, ...]] = {"stop": ("grace",)}
TOP_KEYS = (
    "name",
    "system",
    "api",
    "kafka",
    "store",
    "settings",
    "toxiproxy",
    "commands",
    "nodes",
)
TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "api": ("urls",),
    "kafka": ("bootstrap", "pipeline_bootstrap", "controller"),
    "store": ("uri",),
    "toxiproxy": ("url", "links"),
    "commands": (*VERBS, "timeout_s", "observe_s"),
}
NODE_KEYS = (*VERBS, "vars", "broker_id", "address", "health", "failpoints", "delivery_log")
_NODE = re.compile(r"(kafka|api|consumer)-([1-9][0-9]*)|store")
_VAR = re.compile(r"[a-z_][a-z0-9_]*")
_HOSTPORT = re.compile(r"[^\s,/]+:[0-9]{1,5}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ROLE_ORDER = {"kafka": 0, "store": 1, "api": 2, "consumer": 3}

Role = Literal["kafka", "store", "api", "consumer"]


@dataclass(frozen=True)
class FailpointDriver:
    """How failpoints of a node are armed: a file it watches, an HTTP route, or a command."""

    kind: Literal["file", "url", "command"]
    file: Path | None = None
    url: str | None = None
    command: Template | None = None

    def describe(self) -> str:
        return {"file": f"file {self.file}", "url": f"PUT {self.url}"}.get(
            self.kind, f"command '{self.command}'"
        )


@dataclass(frozen=True)
class NodeDecl:
    """One node of the deployment: its role, probes, template values and commands."""

    name: str
    role: Role
    index: int  # N of role-N (1 for the store)
    vars: Mapping[str, str] = field(default_factory=dict)
    commands: Mapping[str, Template] = field(default_factory=dict)
    # verbs the [commands] default has but this node cannot fill in: verb -> why
    lacking: Mapping[str, str] = field(default_factory=dict)
    broker_id: int | None = None
    address: str | None = None
    health: str | None = None
    failpoints: FailpointDriver | None = None
    delivery_log: Path | None = None

    def values(self, bootstrap: str, **extra: object) -> dict[str, object]:
        """The fields a template of this node is filled in with."""
        return {
            "node": self.name,
            "role": self.role,
            "index": self.index,
            "bootstrap": bootstrap,
            **self.vars,
            **extra,
        }


@dataclass(frozen=True)
class Deployment:
    """A validated target file (see the module docstring)."""

    source: str
    name: str
    api_urls: tuple[str, ...]
    kafka_bootstrap: str
    store_uri: str
    nodes: Mapping[str, NodeDecl]
    pipeline_bootstrap: str | None = None
    controller: Template | None = None
    system: SystemSpec | None = None
    system_source: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    toxiproxy_url: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)  # harness link -> proxy name
    timeout_s: float = 60.0
    observe_s: float = 10.0

    def node_names(self, role: str) -> list[str]:
        return [n for n, d in self.nodes.items() if d.role == role]

    def command(self, node: str, verb: str) -> Template | None:
        d = self.nodes.get(node)
        return None if d is None else d.commands.get(verb)


# ----------------------------------------------------------------------- problems


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, detail: str) -> None:
        self.lines.append(f"{self.source}: {where}: {detail}")

    def unknown(self, where: str, keys: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for k in keys:
            if k not in allowed:
                self.add(
                    f"{where}{k}" if where else k,
                    f"unknown key '{k}'; {_suggest(k, list(allowed))}"
                    f"allowed are {', '.join(allowed)}",
                )


def _table(p: _Problems, raw: Mapping[str, Any], name: str, where: str = "") -> Mapping[str, Any]:
    v = raw.get(name, {})
    if not isinstance(v, Mapping):
        p.add(f"{where}{name}", f"must be a table ([{where}{name}]), not {v!r}; write it as one")
        return {}
    return v


def _text(p: _Problems, where: str, v: object, example: str) -> str | None:
    if not isinstance(v, str) or not v.strip():
        p.add(where, f"must be a non-empty string like '{example}', not {v!r}")
        return None
    if len(v) > MAX_VALUE:
        p.add(where, f"is {len(v)} characters; keep it under {MAX_VALUE}")
        return None
    return v


def _url(p: _Problems, where: str, v: object, example: str) -> str | None:
    s = _text(p, where, v, example)
    if s is not None and not s.startswith(("http://", "https://")):
        p.add(where, f"'{s}' is not an http(s) URL; write it like '{example}'")
        return None
    return s.rstrip("/") if s is not None else None


def _bootstrap(p: _Problems, where: str, v: object) -> str | None:
    s = _text(p, where, v, "10.0.0.7:9092,10.0.0.8:9092")
    if s is not None and not all(_HOSTPORT.fullmatch(x.strip()) for x in s.split(",")):
        p.add(where, f"'{s}' must be host:port pairs separated by commas, like '10.0.0.7:9092'")
        return None
    return s


def _number(p: _Problems, where: str, v: object, lo: float, hi: float, default: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        p.add(where, f"must be a number from {lo:g} to {hi:g}, not {v!r}")
        return default
    return float(v)


def _template(p: _Problems, where: str, v: object) -> Template | None:
    try:
        return parse_template(v)
    except TemplateError as e:
        p.add(where, str(e))
        return None


# ---------------------------------------------------------------------- sections


def _api(p: _Problems, raw: Mapping[str, Any]) -> tuple[str, ...]:
    t = _table(p, raw, "api")
    p.unknown("api.", t, TABLE_KEYS["api"])
    urls = t.get("urls")
    if urls is None:
        p.add("api.urls", 'required key is missing; add urls = ["http://HOST:PORT"]')
        return ()
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_URLS:
        p.add("api.urls", f"must be a list of 1 to {MAX_URLS} URLs, not {urls!r}")
        return ()
    out = [_url(p, f"api.urls[{i}]", u, "http://10.0.0.5:8000") for i, u in enumerate(urls)]
    return tuple(u for u in out if u is not None)


def _vars(p: _Problems, where: str, v: object) -> dict[str, str]:
    if not isinstance(v, Mapping):
        p.add(where, f'must be a table like {{ pod = "kafka-0" }}, not {v!r}')
        return {}
    if len(v) > MAX_VARS:
        p.add(where, f"has {len(v)} variables; keep at most {MAX_VARS}")
    out: dict[str, str] = {}
    for k, x in v.items():
        if not _VAR.fullmatch(str(k)) or k in BUILTIN_FIELDS or k in ("grace", "spec"):
            p.add(
                f"{where}.{k}",
                "a variable name is lower-case letters, digits and '_' and not one of "
                f"{', '.join(BUILTIN_FIELDS)}, grace, spec; rename it",
            )
            continue
        if isinstance(x, bool) or not isinstance(x, str | int):
            p.add(f"{where}.{k}", f"must be a string or an integer, not {x!r}")
            continue
        s = str(x)
        if len(s) > MAX_VALUE:
            p.add(f"{where}.{k}", f"is {len(s)} characters; keep it under {MAX_VALUE}")
            continue
        out[str(k)] = s
    return out


def _failpoints(p: _Problems, where: str, v: object, base: Path) -> FailpointDriver | None:
    if not isinstance(v, Mapping) or len(v) != 1 or next(iter(v)) not in ("file", "url", "command"):
        p.add(
            where,
            'must be one of { file = "PATH" }, { url = "http://HOST/debug/failpoints" } or '
            f'{{ command = "... {{spec}}" }}, not {v!r}',
        )
        return None
    ((kind, x),) = v.items()
    if kind == "file":
        s = _text(p, f"{where}.file", x, "/shared/consumer-1.failpoints")
        return None if s is None else FailpointDriver("file", file=(base / s).resolve())
    if kind == "url":
        u = _url(p, f"{where}.url", x, "http://10.0.0.5:8000/debug/failpoints")
        return None if u is None else FailpointDriver("url", url=u)
    t = _template(p, f"{where}.command", x)
    if t is not None and "spec" not in t.fields():
        p.add(f"{where}.command", "must use {spec} (the failpoint spec to arm); add it")
        return None
    return None if t is None else FailpointDriver("command", command=t)


def _commands(p: _Problems, raw: Mapping[str, Any]) -> tuple[dict[str, Template], float, float]:
    t = _table(p, raw, "commands")
    p.unknown("commands.", t, TABLE_KEYS["commands"])
    out: dict[str, Template] = {}
    for verb in VERBS:
        if verb in t:
            tpl = _template(p, f"commands.{verb}", t[verb])
            if tpl is not None:
                out[verb] = tpl
    timeout = _number(p, "commands.timeout_s", t.get("timeout_s", 60), 1, 3600, 60.0)
    observe = _number(p, "commands.observe_s", t.get("observe_s", 10), 0.5, 600, 10.0)
    return out, timeout, observe


def _role_of(name: str) -> tuple[Role, int]:
    if name == "store":
        return "store", 1
    role, _, n = name.rpartition("-")
    assert role in ("kafka", "api", "consumer")
    return role, int(n)  # type: ignore[return-value]


def _node(
    p: _Problems,
    name: str,
    raw: Mapping[str, Any],
    defaults: Mapping[str, Template],
    base: Path,
) -> NodeDecl:
    where = f"nodes.{name}"
    role, index = _role_of(name)
    p.unknown(f"{where}.", raw, NODE_KEYS)
    vars_ = _vars(p, f"{where}.vars", raw["vars"]) if "vars" in raw else {}
    known = set(BUILTIN_FIELDS) | set(vars_)
    commands: dict[str, Template] = {}
    lacking: dict[str, str] = {}
    for verb in VERBS:
        allowed = known | set(VERB_FIELDS.get(verb, ()))
        if verb in raw:
            tpl = _template(p, f"{where}.{verb}", raw[verb])
            if tpl is None:
                continue
            bad = sorted(tpl.fields() - allowed)
            if bad:
                p.add(
                    f"{where}.{verb}",
                    f"uses {{{bad[0]}}}, which this node does not define; "
                    f"{_suggest(bad[0], sorted(allowed))}add it to {where}.vars",
                )
                continue
            commands[verb] = tpl
        elif verb in defaults:
            bad = sorted(defaults[verb].fields() - allowed)
            if bad:
                lacking[verb] = f"commands.{verb} uses {{{bad[0]}}}, which {where}.vars lacks"
            else:
                commands[verb] = defaults[verb]
    broker_id = raw.get("broker_id")
    if broker_id is not None and (
        role != "kafka" or isinstance(broker_id, bool) or not isinstance(broker_id, int)
    ):
        p.add(f"{where}.broker_id", "is a whole number, and only Kafka nodes have one")
        broker_id = None
    address = None
    if "address" in raw:
        if role != "kafka":
            p.add(f"{where}.address", "only Kafka nodes have one (their direct listener)")
        elif (a := _text(p, f"{where}.address", raw["address"], "10.0.0.7:9092")) is not None:
            if _HOSTPORT.fullmatch(a):
                address = a
            else:
                p.add(f"{where}.address", f"'{a}' must be host:port, like '10.0.0.7:9092'")
    health = None
    if "health" in raw:
        h = _text(p, f"{where}.health", raw["health"], "http://10.0.0.11:9100/metrics")
        if h is not None and not (
            h.startswith(("http://", "https://"))
            or (h.startswith("tcp://") and _HOSTPORT.fullmatch(h[6:]))
        ):
            p.add(f"{where}.health", f"'{h}' must be an http(s) URL or tcp://host:port")
        else:
            health = h
    fp = (
        _failpoints(p, f"{where}.failpoints", raw["failpoints"], base)
        if "failpoints" in raw
        else None
    )
    if fp is not None and fp.command is not None:
        bad = sorted(fp.command.fields() - known - {"spec"})
        if bad:
            p.add(f"{where}.failpoints.command", f"uses {{{bad[0]}}}; add it to {where}.vars")
    dlog = None
    if "delivery_log" in raw:
        if role != "consumer":
            p.add(f"{where}.delivery_log", "only consumers have a delivery log; remove it")
        elif (s := _text(p, f"{where}.delivery_log", raw["delivery_log"], "/x.jsonl")) is not None:
            dlog = (base / s).resolve()
    return NodeDecl(
        name,
        role,
        index,
        vars_,
        commands,
        lacking,
        (index if broker_id is None else broker_id) if role == "kafka" else None,
        address,
        health,
        fp,
        dlog,
    )


def _nodes(
    p: _Problems,
    raw: Mapping[str, Any],
    urls: tuple[str, ...],
    defaults: Mapping[str, Template],
    base: Path,
) -> dict[str, NodeDecl]:
    t = _table(p, raw, "nodes")
    if len(t) > MAX_NODES:
        p.add("nodes", f"declares {len(t)} nodes; keep at most {MAX_NODES}")
        return {}
    wanted: dict[str, Mapping[str, Any]] = {}
    for name, body in t.items():
        if not _NODE.fullmatch(name):
            p.add(
                f"nodes.{name}",
                f"'{name}' is not a node name; {_suggest(name, ['store', 'kafka-1', 'api-1'])}"
                "use kafka-N, api-N, consumer-N (N from 1) or store",
            )
        elif not isinstance(body, Mapping):
            p.add(f"nodes.{name}", f"must be a table ([nodes.{name}]), not {body!r}")
        else:
            wanted[name] = body
    for i in range(1, len(urls) + 1):
        wanted.setdefault(f"api-{i}", {})
    wanted.setdefault("store", {})
    for name in list(wanted):
        role, index = _role_of(name)
        if role == "api" and index > len(urls):
            p.add(
                f"nodes.{name}",
                f"there are {len(urls)} API URLs, so there is no {name}; add its URL to api.urls",
            )
            del wanted[name]
    for role in ("kafka", "consumer"):
        have = sorted(_role_of(n)[1] for n in wanted if _role_of(n)[0] == role)
        if have and have != list(range(1, len(have) + 1)):
            p.add(
                "nodes",
                f"{role} nodes must be numbered 1..N without gaps (targets say {role}.2 for "
                f"the second); found {', '.join(f'{role}-{i}' for i in have)}",
            )
    order = sorted(wanted, key=lambda n: (_ROLE_ORDER[_role_of(n)[0]], _role_of(n)[1]))
    nodes = {n: _node(p, n, wanted[n], defaults, base) for n in order}
    ids = [d.broker_id for d in nodes.values() if d.role == "kafka"]
    if len(set(ids)) != len(ids):
        p.add("nodes", f"two Kafka nodes share a broker_id ({ids}); give each its own")
    for verb, tpl in defaults.items():
        for f in sorted(tpl.fields() - set(BUILTIN_FIELDS) - set(VERB_FIELDS.get(verb, ()))):
            if not any(f in d.vars for d in nodes.values()):
                every = sorted({v for d in nodes.values() for v in d.vars})
                p.add(
                    f"commands.{verb}",
                    f"uses {{{f}}}, which no node defines; {_suggest(f, every)}"
                    f"set it in the vars of the nodes it acts on",
                )
    return nodes


def _toxiproxy(
    p: _Problems, raw: Mapping[str, Any], nodes: Mapping[str, NodeDecl]
) -> tuple[str | None, dict[str, str]]:
    if "toxiproxy" not in raw:
        return None, {}
    t = _table(p, raw, "toxiproxy")
    p.unknown("toxiproxy.", t, TABLE_KEYS["toxiproxy"])
    url = _url(p, "toxiproxy.url", t.get("url"), "http://10.0.0.6:8474")
    links = t.get("links")
    if not isinstance(links, Mapping) or not links:
        p.add("toxiproxy.links", "list the proxies: a table of harness link = proxy name")
        return url, {}
    if len(links) > MAX_LINKS:
        p.add("toxiproxy.links", f"lists {len(links)} proxies; keep at most {MAX_LINKS}")
        return url, {}
    kafka = [d.index for d in nodes.values() if d.role == "kafka"]
    valid = [f"{c}-kafka-{i}" for c in ("api", "consumer") for i in kafka]
    valid += ["api-store"] + [f"{n}-store" for n, d in nodes.items() if d.role == "consumer"]
    out: dict[str, str] = {}
    for link, proxy in links.items():
        if link not in valid:
            p.add(
                f"toxiproxy.links.{link}",
                f"'{link}' is not a link of the declared nodes; {_suggest(link, valid)}"
                "links are api-kafka-N, consumer-kafka-N, api-store and consumer-N-store "
                "for declared nodes",
            )
            continue
        s = _text(p, f"toxiproxy.links.{link}", proxy, "kafka1_from_api")
        if s is not None and not _LABEL.fullmatch(s):
            p.add(f"toxiproxy.links.{link}", f"'{s}' is not a Toxiproxy proxy name")
        elif s is not None:
            out[link] = s
    return url, out


def _settings(p: _Problems, raw: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in _table(p, raw, "settings").items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, str | int | float):
            out[k] = str(v)
        else:
            p.add(f"settings.{k}", f"must be a string, number or boolean, not {v!r}")
    return out


def deployment_from_dict(
    data: Mapping[str, Any], source: str = "<target>", base: Path | None = None
) -> Deployment:
    """Validate a parsed target file; every problem is one sentence, all raised together."""
    from wiber_harness.scenario.profile import load_profile

    p = _Problems(source)
    here = (base or Path(".")).resolve()
    p.unknown("", data, TOP_KEYS)
    name = data.get("name", "deployment")
    if not isinstance(name, str) or not _LABEL.fullmatch(name):
        p.add("name", f"{name!r} is not a label; use letters, digits, '.', '_' and '-'")
        name = "deployment"
    urls = _api(p, data)
    kafka = _table(p, data, "kafka")
    p.unknown("kafka.", kafka, TABLE_KEYS["kafka"])
    bootstrap = None
    if "bootstrap" not in kafka:
        p.add("kafka.bootstrap", 'required key is missing; add bootstrap = "HOST:PORT,..."')
    else:
        bootstrap = _bootstrap(p, "kafka.bootstrap", kafka["bootstrap"])
    pipeline = (
        _bootstrap(p, "kafka.pipeline_bootstrap", kafka["pipeline_bootstrap"])
        if "pipeline_bootstrap" in kafka
        else None
    )
    controller = (
        _template(p, "kafka.controller", kafka["controller"]) if "controller" in kafka else None
    )
    if controller is not None and not controller.fields() <= {"bootstrap"}:
        p.add("kafka.controller", "may use only {bootstrap}; remove the other fields")
    store = _table(p, data, "store")
    p.unknown("store.", store, TABLE_KEYS["store"])
    uri = None
    if "uri" not in store:
        p.add("store.uri", 'required key is missing; add uri = "mongodb://HOST:PORT/"')
    else:
        uri = _text(p, "store.uri", store["uri"], "mongodb://10.0.0.8:27017/")
        if uri is not None and not uri.startswith(("mongodb://", "mongodb+srv://")):
            p.add("store.uri", f"'{uri}' is not a MongoDB URI; write mongodb://HOST:PORT/")
    defaults, timeout, observe = _commands(p, data)
    nodes = _nodes(p, data, urls, defaults, here)
    tp_url, links = _toxiproxy(p, data, nodes)
    settings = _settings(p, data)
    system = None
    system_source = None
    if "system" in data:
        s = _text(p, "system", data["system"], "profiles/wiber.toml")
        if s is not None:
            system_source = str((here / s).resolve())
            try:
                system = load_profile(here / s)
            except InvalidScenario as e:
                p.add("system", str(e))
    if p.lines:
        raise InvalidScenario("\n".join(p.lines))
    assert bootstrap is not None and uri is not None
    return Deployment(
        source=source,
        name=str(name),
        api_urls=urls,
        kafka_bootstrap=bootstrap,
        store_uri=uri,
        nodes=nodes,
        pipeline_bootstrap=pipeline,
        controller=controller,
        system=system,
        system_source=system_source,
        settings=settings,
        toxiproxy_url=tp_url,
        links=links,
        timeout_s=timeout,
        observe_s=observe,
    )


def load_deployment(path: str | Path) -> Deployment:
    """Read and validate a target file; InvalidScenario with one sentence per problem."""
    f = Path(path)
    try:
        size = f.stat().st_size
        if size > MAX_FILE:
            raise InvalidScenario(
                f"{f}: the target file is {size} bytes; keep it under {MAX_FILE // 1024} KiB"
            )
        raw = f.read_bytes()
    except FileNotFoundError:
        raise InvalidScenario(
            f"{f}: no such target file; pass the TOML file that describes the deployment "
            "(see docs/scaling.md)"
        ) from None
    except OSError as e:
        raise InvalidScenario(f"{f}: cannot read the target file ({e}); check the path") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidScenario(f"{f}: the target file is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise InvalidScenario(
            f"{f}: TOML syntax error ({e}); fix the TOML there "
            "(strings need quotes, tables are written [name])"
        ) from None
    return deployment_from_dict(data, str(f), f.resolve().parent)


__all__ = [
    "BUILTIN_FIELDS",
    "VERBS",
    "Deployment",
    "FailpointDriver",
    "NodeDecl",
    "deployment_from_dict",
    "load_deployment",
]
