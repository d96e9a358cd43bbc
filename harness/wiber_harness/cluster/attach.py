"""AttachCluster: the Cluster protocol over a deployment the harness did not start.

``--backend attach --target DEPLOY.toml`` runs scenarios against whatever a
target file (:mod:`wiber_harness.cluster.deployment`) describes: a
Kubernetes namespace, a compose project, machines reached over ssh, or a
stack started with ``wiber-harness up --detach``. It promises:

* **It starts and stops nothing.** :meth:`AttachCluster.start` only checks
  that everything answers (each API's readiness route, every declared
  broker, a healthy topic, the store, the declared Toxiproxy proxies
  enabled and without toxics, each node's ``status`` command if it has one)
  and snapshots what the deployment already holds
  (:class:`~wiber_harness.cluster.attach_scope.RunScope`).
  :meth:`AttachCluster.close` heals what the harness did and left behind
  (removes its toxics, re-enables the proxies it disabled, rejoins what it
  isolated, disarms its failpoints, resumes what it paused, starts what it
  killed or stopped) and stops nothing else; what it healed is written to
  ``attach-close.json`` in the run folder.
* **It runs only declared commands**, through
  :mod:`wiber_harness.cluster.templates` (no shell unless the template asks
  for one; values quoted there).
* **Every verb has evidence**: the command (argv, exit status, output
  tails, seconds) and the node's observed state after it: its ``status``
  command (``running`` / ``paused`` / ``down``) when it has one, else its
  health check (the API's readiness route, a broker answering on its own
  listener, a consumer's declared health URL or port, the store's ping),
  polled for up to ``[commands].observe_s``. A verb is effective only when
  the command succeeded and the observation agrees (kill and stop: seen
  down; pause: seen paused, or not answering; resume: seen running). A
  start without waiting is effective when its command succeeded and, with a
  ``status`` command, the node is seen running; without one the end phase's
  readiness wait (every node healthy before the drain) is the check. A
  start that finds the node already running (the deployment restarted it
  itself, as Kubernetes does) runs nothing and is effective.
* Scenarios that need a driver the target lacks never get here: they are
  refused before the run (:mod:`wiber_harness.faults.needs`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from wiber_harness.cluster.attach_kafka import DeploymentKafka, parse_controller
from wiber_harness.cluster.attach_links import MappedToxiproxy
from wiber_harness.cluster.attach_node import AttachNode, tcp_open
from wiber_harness.cluster.attach_scope import RunScope
from wiber_harness.cluster.backend import ClusterBackend
from wiber_harness.cluster.base import ClusterConfig, Endpoints, read_delivery_logs
from wiber_harness.cluster.common import http_ok, safe, store_pings
from wiber_harness.cluster.deployment import Deployment
from wiber_harness.cluster.toxiproxy import ToxiproxyClient
from wiber_harness.errors import ClusterError, FaultError

CLOSE_FILE = "attach-close.json"


class AttachCluster(ClusterBackend[AttachNode]):
    """A deployment described by a target file; see the module docstring."""

    backend = "attach"
    default_start_timeout = 60.0

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        if config.deployment is None:
            raise ClusterError(
                "the attach backend needs a target file (--target DEPLOY.toml) that says "
                "where the deployment answers; 'up' cannot attach, it starts a stack"
            )
        self.deployment: Deployment = config.deployment
        d = self.deployment
        self._dk: DeploymentKafka | None = None
        self._links = list(d.links)
        for name, decl in d.nodes.items():
            self._nodes[name] = AttachNode(decl, d, functools.partial(self._probe, name))
            self._roles[name] = decl.role
        self.run_scope: RunScope | None = None
        self._proxies: dict[str, dict[str, Any]] = {}
        self._paused: set[str] = set()
        self._down: set[str] = set()
        self._isolated: set[str] = set()
        self._armed: dict[str, set[str]] = {}

    # ---------------------------------------------------------------- start
    @property
    def dk(self) -> DeploymentKafka:
        if self._dk is None:
            raise ClusterError("the attach cluster is not started")
        return self._dk

    def _bring_up(self) -> None:
        d = self.deployment
        self._dk = DeploymentKafka(d.kafka_bootstrap, self.spec, self.run_dir)
        if d.toxiproxy_url is not None:
            tp = MappedToxiproxy(ToxiproxyClient(d.toxiproxy_url), d.links)
            self._tp = tp
            try:
                tp.version()
            except FaultError as e:
                raise ClusterError(f"{d.source}: toxiproxy.url: {e}") from None
            self._proxies = tp.check_clean()
        checks = {n: self._ready_check(n) for n in self._nodes}
        checks["topic"] = self.dk.topic_healthy
        self._wait(checks, self.start_timeout)
        for name, node in self._nodes.items():
            if node.has("status"):
                ob = node.observe()
                if ob.state != "running":
                    raise ClusterError(
                        f"{name}: its status command says {ob.said!r} before the run, not "
                        f"'running'; start it, or fix nodes.{name}.status in {d.source}"
                    )
        self.run_scope = RunScope.take(d.store_uri, self.spec, self.dk)

    def _start_failure(self, name: str) -> str | None:
        return None  # nothing here was started by the harness, so nothing can have exited

    def _not_ready_hint(self, names: list[str]) -> str:
        where = "; ".join(f"{n} at {self._address(n)}" for n in names if n in self._nodes)
        return (
            f"the deployment of {self.deployment.source} does not answer ({where or 'topic'}); "
            "check that it runs and that the target file's addresses are reachable from here"
        )

    # ------------------------------------------------------------- probes
    def _ready_check(self, name: str) -> Callable[[], bool]:
        decl = self.deployment.nodes[name]
        if decl.role == "kafka":
            bid = int(decl.broker_id if decl.broker_id is not None else decl.index)
            if decl.address is not None:
                addr = decl.address
                return lambda: self.dk.node_serving(addr, bid)
            return lambda: self.dk.in_metadata(bid)
        if decl.role == "store":
            return self._store_ready
        if decl.role == "api" and decl.health is None:
            url = self.deployment.api_urls[decl.index - 1] + self.spec.api_ready_path
            return lambda: http_ok(url)
        health = decl.health
        if health is None:
            return lambda: True  # nothing to look at; the status command (if any) decides
        if health.startswith("tcp://"):
            return lambda: tcp_open(health[6:])
        return lambda: http_ok(health)

    def _probe(self, name: str) -> bool:
        return self._ready_check(name)()

    def _store_ready(self) -> bool:
        return store_pings(self.store_uri, 1000)

    def _healthy(self, name: str) -> bool:
        return safe(self._ready_check(name))

    def wait_all_ready(self, timeout: float = 120) -> float:
        """Wait until every node runs and answers, and the topic is healthy (after the heals).

        Unlike a backend that starts its own processes, a node may still be
        coming back when the heals are done (a pod being rescheduled), so
        "not running yet" is waited for too, within the same bound.
        """
        t0 = time.monotonic()
        checks = {n: functools.partial(self._running_and_ready, n) for n in self._nodes}
        self._wait(checks, timeout)
        self.wait_topic_healthy(max(1.0, timeout - (time.monotonic() - t0)))
        return time.monotonic() - t0

    def _running_and_ready(self, name: str) -> bool:
        return self.node(name).running() and self._probe(name)

    def wait_topic_healthy(self, timeout: float = 90) -> float:
        t0 = time.monotonic()
        self._wait({"topic": self.dk.topic_healthy}, timeout)
        return time.monotonic() - t0

    # ------------------------------------------------------------ queries
    @property
    def kafka_direct(self) -> str:
        return self.deployment.kafka_bootstrap

    @property
    def store_uri(self) -> str:
        return self.deployment.store_uri

    def endpoints(self) -> Endpoints:
        d = self.deployment
        return Endpoints(
            api=d.api_urls[0],
            apis=d.api_urls,
            kafka=d.pipeline_bootstrap or d.kafka_bootstrap,
            kafka_direct=d.kafka_bootstrap,
            store=d.store_uri,
            toxiproxy=d.toxiproxy_url or "",
        )

    def _address(self, name: str) -> str:
        decl = self.deployment.nodes[name]
        if decl.role == "kafka":
            return decl.address or f"broker {decl.broker_id} via {self.kafka_direct}"
        if decl.role == "store":
            return self.store_uri
        if decl.role == "api":
            return decl.health or self.deployment.api_urls[decl.index - 1]
        return decl.health or "-"

    def _broker_node(self, broker_id: int) -> str:
        for name, decl in self.deployment.nodes.items():
            if decl.role == "kafka" and decl.broker_id == broker_id:
                return name
        raise FaultError(
            f"broker {broker_id} is not declared in {self.deployment.source}; "
            "declare it as a [nodes.kafka-N] with its broker_id"
        )

    def kafka_leader(self, partition: int, topic: str | None = None) -> str:
        return self._broker_node(self.dk.leader(partition, topic))

    def kafka_controller(self) -> str:
        tpl = self.deployment.controller
        if tpl is None:
            raise FaultError(
                f"{self.deployment.source} declares no [kafka].controller command, so "
                "kafka.controller cannot be found"
            )
        r = tpl.run({"bootstrap": self.kafka_direct}, self.deployment.timeout_s)
        node_id = parse_controller(r.stdout) if r.ok else None
        if node_id is None:
            said = r.why_not() if not r.ok else r.stdout[-200:]
            raise FaultError(f"the controller command did not name a node id ({said})")
        return self._broker_node(node_id)

    def delivery_logs(self) -> list[dict[str, Any]]:
        return read_delivery_logs(
            (n, d.delivery_log)
            for n, d in self.deployment.nodes.items()
            if d.role == "consumer" and d.delivery_log is not None
        )

    def _backend_state(self) -> dict[str, Any]:
        d = self.deployment
        return {
            "target": d.source,
            "deployment": d.name,
            "system_profile": d.system_source,
            "settings": dict(d.settings),
            "proxies": self._proxies,
            "scope": None if self.run_scope is None else self.run_scope.summary(),
        }

    # --------------------------------------------------------------- verbs
    def kill(self, name: str) -> dict[str, Any]:
        ev = self.node(name).kill()
        if ev["command"].get("returncode") == 0:
            self._down.add(name)
        return ev

    def stop_node(self, name: str, grace: float = 15.0) -> dict[str, Any]:
        ev = self.node(name).stop(grace)
        if ev["command"].get("returncode") == 0:
            self._down.add(name)
        return ev

    def pause(self, name: str) -> dict[str, Any]:
        ev = self.node(name).pause()
        if ev["command"].get("returncode") == 0:
            self._paused.add(name)
        return ev

    def resume(self, name: str) -> dict[str, Any]:
        ev = self.node(name).resume()
        if ev.get("effective"):
            self._paused.discard(name)
        return ev

    def _start_stopped(self, name: str) -> dict[str, Any]:
        return self.node(name).start()

    def start_node(self, name: str, wait: bool = True, timeout: float = 90) -> dict[str, Any]:
        node = self.node(name)
        if node.has("status"):
            ob = node.observe()
            if ob.state == "running":
                self._down.discard(name)
                return {
                    "action": "start",
                    "node": name,
                    "observed": {"via": "status", **ob.to_dict()},
                    "effective": True,
                    "note": "already running (the deployment restarted it); nothing was run",
                }
        ev = node.start()
        if ev["effective"] and wait:
            ev["ready_s"] = round(self.wait_ready(name, timeout), 3)
        if ev["effective"]:
            self._down.discard(name)
        return ev

    def _client_links(self, name: str) -> list[str]:
        """The declared proxies in front of a node (a broker's or the store's client hops)."""
        role, _, n = name.rpartition("-")
        if role == "kafka":
            wanted = [f"api-kafka-{n}", f"consumer-kafka-{n}"]
        elif name == "store":
            wanted = [ln for ln in self._links if ln.endswith("-store")]
        else:
            wanted = []
        return [ln for ln in wanted if ln in self._links]

    def isolate(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        if node.has("isolate"):
            r = node.run("isolate")
            ev = {"action": "isolate", "node": name, "command": r.to_dict(), "effective": r.ok}
            if not r.ok:
                ev["reason"] = f"the isolate command failed: {r.why_not()}"
        else:
            links = self._client_links(name)
            evs = [self.set_link_enabled(ln, False) for ln in links]
            ev = {
                "action": "isolate",
                "links": evs,
                "effective": bool(evs) and all(e["effective"] for e in evs),
                "scope": "client links only (through the declared proxies)",
            }
        if ev["effective"]:
            self._isolated.add(name)
        return ev

    def rejoin(self, name: str) -> dict[str, Any]:
        node = self.node(name)
        if node.has("rejoin"):
            r = node.run("rejoin")
            ev: dict[str, Any] = {"action": "rejoin", "node": name, "command": r.to_dict()}
            ev["effective"] = r.ok
            if not r.ok:
                ev["reason"] = f"the rejoin command failed: {r.why_not()}"
        else:
            links = self._client_links(name)
            evs = [self.set_link_enabled(ln, True) for ln in links]
            ev = {"action": "rejoin", "links": evs, "effective": all(e["effective"] for e in evs)}
        if ev["effective"]:
            self._isolated.discard(name)
        return ev

    def set_failpoints(self, name: str, spec: str) -> dict[str, Any]:
        """Arm or disarm failpoints through the node's declared driver (file, URL or command)."""
        fp = self.deployment.nodes[self.node(name).name].failpoints
        if fp is None:
            raise FaultError(f"{name} has no failpoints driver in {self.deployment.source}")
        ev: dict[str, Any] = {"action": "failpoints", "node": name, "spec": spec}
        if fp.kind == "file" and fp.file is not None:
            fp.file.write_text(spec + "\n")
            ev.update(file=str(fp.file), effective=fp.file.read_text().strip() == spec)
        elif fp.kind == "url" and fp.url is not None:
            try:
                r = httpx.put(fp.url, content=spec.encode(), timeout=10)
                ev.update(status=r.status_code, answer=r.text[:500], effective=r.status_code == 200)
            except httpx.HTTPError as e:
                ev.update(effective=False, reason=f"PUT {fp.url} failed ({e})")
        else:
            assert fp.command is not None
            res = fp.command.run(
                self.deployment.nodes[name].values(self.kafka_direct, spec=spec),
                self.deployment.timeout_s,
            )
            ev.update(command=res.to_dict(), effective=res.ok)
        for entry in spec.replace("\n", ";").split(";"):
            point, _, action = entry.strip().partition("=")
            if not point:
                continue
            armed = self._armed.setdefault(name, set())
            (armed.discard if action.strip().startswith("off") else armed.add)(point.strip())
        return ev

    # ---------------------------------------------------------------- close
    def close(self) -> None:
        """Heal what the harness did and left behind; stop nothing. Idempotent."""
        done: dict[str, Any] = {}
        if isinstance(self._tp, MappedToxiproxy):
            with contextlib.suppress(Exception):
                links = self._tp.undo()
                if links["toxics_removed"] or links["enabled"] or links["errors"]:
                    done["links"] = links
        for name in sorted(self._isolated):
            done.setdefault("rejoined", {})[name] = _safely(self.rejoin, name)
        for name, points in sorted(self._armed.items()):
            if points:
                spec = ";".join(f"{p}=off" for p in sorted(points))
                done.setdefault("disarmed", {})[name] = _safely(self.set_failpoints, name, spec)
        for name in sorted(self._paused):
            done.setdefault("resumed", {})[name] = _safely(self.resume, name)
        for name in sorted(self._down):
            done.setdefault("started", {})[name] = _safely(self.start_node, name, False)
        self._isolated.clear()
        self._armed.clear()
        self._paused.clear()
        self._down.clear()
        if done:
            with contextlib.suppress(OSError):
                self.run_dir.mkdir(parents=True, exist_ok=True)
                (self.run_dir / CLOSE_FILE).write_text(json.dumps(done, indent=2, default=str))
        if self._tp is not None:
            self._tp.close()
            self._tp = None
        if self._dk is not None:
            self._dk.close()
            self._dk = None
        self.started = False


def _safely(fn: Callable[..., dict[str, Any]], *args: object) -> dict[str, Any]:
    try:
        return fn(*args)
    except Exception as e:  # close() must try every heal, whatever one of them does
        return {"effective": False, "error": f"{type(e).__name__}: {e}"}


__all__ = ["CLOSE_FILE", "AttachCluster"]
