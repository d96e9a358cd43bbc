"""The nemesis: carries out a scenario's fault timeline and records it.

Each timeline step becomes an ``inject`` op of process ``nemesis`` at its
``at`` time and, when the kind heals, a ``heal`` op at its heal time (or in
the end phase, :meth:`Nemesis.heal_all`). Steps run as concurrent tasks so
overlapping faults overlap for real; blocking cluster calls run in worker
threads, never on the event loop that drives the workload. Operations on
the same node or link never run at once: each holds the locks of what it
resolved to, so a fault whose operation is still under way (a rewind
stopping and restarting consumers takes ~8 s on compose) delays the next
operation on those nodes instead of racing it (the history shows the delay).

Every completion carries ``resolved`` (the nodes or links hit) and
``evidence``: what the harness saw that proves the fault took effect (the
process's exit status or state, the proxy's state and toxics, offsets
before and after a rewind, a failpoint's crash). A completion is ``ok``
only when the evidence shows the effect; otherwise it is ``info`` with
``effective: false`` and the reason, and the run's verdict becomes
"unknown" (see :func:`fault_evidence`): a fault that did not happen proves
nothing about the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wiber_harness.clock import Clock
from wiber_harness.errors import FaultError
from wiber_harness.history import NEMESIS, HistoryWriter, Op
from wiber_harness.scenario import FaultStep
from wiber_harness.scenario.targets import resolve

TOXIC_KINDS = {
    "latency": lambda p: {"latency": int(p["latency_ms"]), "jitter": int(p["jitter_ms"])},
    "bandwidth": lambda p: {"rate": int(p["rate_kbps"])},
    "timeout": lambda p: {"timeout": int(p["timeout_ms"])},
    "reset_peer": lambda p: {"timeout": int(p["timeout_ms"])},
    "slow_close": lambda p: {"delay": int(p["delay_ms"])},
    "slicer": lambda p: {
        "average_size": int(p["average_size"]),
        "size_variation": int(p["size_variation"]),
        "delay": int(p["delay_us"]),
    },
    "limit_data": lambda p: {"bytes": int(p["bytes"])},
}


@dataclass
class ActiveFault:
    step: FaultStep
    resolved: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    healed: bool = False


class Nemesis:
    """Injects and heals a scenario's faults against a cluster."""

    def __init__(
        self,
        cluster: Any,
        history: HistoryWriter,
        clock: Clock,
        *,
        seed: int,
        workload: Any = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.clock = clock
        self.workload = workload
        self.rng = random.Random(seed)
        self.active: dict[str, ActiveFault] = {}
        self.on_event = on_event or (lambda s: None)
        self.current: set[str] = set()
        self._busy: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def _exclusive(self, names: Sequence[str]) -> AsyncIterator[None]:
        """Hold the lock of every named node or link, taken in sorted order (no deadlock)."""
        async with contextlib.AsyncExitStack() as stack:
            for name in sorted(set(names)):
                await stack.enter_async_context(self._busy.setdefault(name, asyncio.Lock()))
            yield

    # ---------------------------------------------------------------- timeline
    async def run(self, steps: Sequence[FaultStep], start_ns: int) -> None:
        """Run every step at its time (seconds after ``start_ns``); returns when all are done."""
        await asyncio.gather(*(self._step(s, start_ns) for s in steps))

    async def _step(self, step: FaultStep, start_ns: int) -> None:
        await self._sleep_until(start_ns + int(step.at * 1e9))
        await self.inject(step)
        heal = step.heal_time
        if heal is not None and step.kind.heal is not None:
            await self._sleep_until(start_ns + int(heal * 1e9))
            await self.heal(step.id or step.fault)

    async def _sleep_until(self, t_ns: int) -> None:
        delay = (t_ns - self.clock.now()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ verbs
    async def inject(self, step: FaultStep) -> Op:
        fid = step.id or step.fault
        value = {
            "fault": fid,
            "kind": step.fault,
            "target": str(step.target),
            "params": dict(step.params),
        }
        return await self._record("inject", value, lambda: self._inject(step))

    async def heal(self, fid: str) -> Op | None:
        af = self.active.get(fid)
        if af is None or af.healed:
            return None
        af.healed = True
        value = {"fault": fid, "kind": af.step.fault, "target": str(af.step.target)}
        return await self._record("heal", value, lambda: self._heal(af))

    async def heal_all(self) -> list[Op]:
        """End phase: heal every fault still active, in reverse order of injection."""
        out = []
        for fid in reversed(list(self.active)):
            op = await self.heal(fid)
            if op is not None:
                out.append(op)
        return out

    async def _record(
        self,
        f: str,
        value: dict[str, Any],
        action: Callable[[], Awaitable[tuple[list[str], dict[str, Any]]]],
    ) -> Op:
        op_id = self.history.next_id()
        self.history.append(Op(op_id, "invoke", f, NEMESIS, self.clock.now(), dict(value)))
        label = f"{f} {value['kind']} {value['target']}"
        self.on_event(label)
        if f == "inject":
            self.current.add(f"{value['kind']}({value['target']})")
        else:
            self.current.discard(f"{value['kind']}({value['target']})")
        try:
            resolved, evidence = await action()
            effective = bool(evidence.get("effective", True))
            done = {**value, "resolved": resolved, "evidence": evidence, "effective": effective}
            if not effective:
                done["error"] = (
                    evidence.get("reason") or "the evidence does not show the fault took effect"
                )
            op = Op(op_id, "ok" if effective else "info", f, NEMESIS, self.clock.now(), done)
        except Exception as e:  # a fault that may or may not have happened
            op = Op(
                op_id,
                "info",
                f,
                NEMESIS,
                self.clock.now(),
                {**value, "effective": False, "error": f"{type(e).__name__}: {e}"},
            )
        self.history.append(op)
        return op

    # ----------------------------------------------------------- inject/heal
    async def _inject(self, step: FaultStep) -> tuple[list[str], dict[str, Any]]:
        kind = step.fault
        fid = step.id or step.fault
        if kind == "duplicate_retry":
            if self.workload is None:
                raise FaultError("duplicate_retry needs the workload, and this run has none")
            ev = await self.workload.retry_acknowledged(int(step.params.get("count", 100)))
            ev = dict(ev)
            ev["effective"] = int(ev.get("sent", 0)) > 0
            return ["workload"], ev
        resolved = await asyncio.to_thread(resolve, step.target, self.cluster, self.rng)
        if not resolved:
            raise FaultError(f"target {step.target} matched nothing")
        af = ActiveFault(step, resolved)
        async with self._exclusive(resolved):
            ev = await asyncio.to_thread(self._inject_sync, step, fid, resolved)
        af.evidence = ev
        if step.kind.heal is not None:
            self.active[fid] = af
        return resolved, ev

    def _inject_sync(self, step: FaultStep, fid: str, resolved: list[str]) -> dict[str, Any]:
        c = self.cluster
        kind, p = step.fault, step.params
        if kind in ("kill", "stop", "pause", "restart"):
            verb = {"kill": c.kill, "stop": c.stop_node, "pause": c.pause, "restart": c.restart}[
                kind
            ]
            return _all({n: verb(n) for n in resolved})
        if kind == "rolling_restart":
            evs: dict[str, Any] = {}
            for n in resolved:
                evs[n] = c.restart(n)
                if n.startswith("kafka-"):
                    evs[n]["isr_s"] = round(c.wait_topic_healthy(120), 3)
                time.sleep(float(p.get("interval_s", 5.0)))
            return _all(evs)
        if kind == "partition":
            return _all({ln: c.set_link_enabled(ln, False) for ln in resolved})
        if kind == "isolate":
            return _all({n: c.isolate(n) for n in resolved})
        if kind in TOXIC_KINDS:
            return _all({ln: self._add_toxics(ln, fid, kind, p) for ln in resolved})
        if kind == "failpoint":
            spec = _failpoint_spec(p)
            evs = {n: c.set_failpoints(n, spec) for n in resolved}
            return _all(evs)
        if kind == "duplicate_replay":
            from wiber_harness.faults.duplicates import replay_records

            return replay_records(c, int(p.get("count", 100)), self.rng)
        if kind == "offset_rewind":
            from wiber_harness.faults.duplicates import rewind_offsets

            return rewind_offsets(c, resolved, by=p.get("by"), to=p.get("to"))
        raise FaultError(f"the nemesis does not know how to inject {kind!r}")

    def _add_toxics(self, link: str, fid: str, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        tp = self.cluster.toxiproxy
        stream = p.get("stream", "both")
        streams = ("upstream", "downstream") if stream == "both" else (stream,)
        names = []
        for s in streams:
            name = f"{fid}-{s}-{uuid.uuid4().hex[:4]}"
            tp.add_toxic(
                link,
                name,
                kind,
                TOXIC_KINDS[kind](p),
                stream=s,
                toxicity=float(p.get("toxicity", 1.0)),
            )
            names.append(name)
        present = {t["name"] for t in tp.get(link).toxics}
        return {"link": link, "toxics": names, "effective": set(names) <= present}

    async def _heal(self, af: ActiveFault) -> tuple[list[str], dict[str, Any]]:
        async with self._exclusive(af.resolved):
            return af.resolved, await asyncio.to_thread(self._heal_sync, af)

    def _heal_sync(self, af: ActiveFault) -> dict[str, Any]:
        c = self.cluster
        kind = af.step.fault
        if kind in ("kill", "stop"):
            # Start it and move on: waiting here for a broker's 15-20 s start-up
            # would push the heal past the end of a short workload. The end
            # phase waits until every node is ready before it drains.
            return _all({n: c.start_node(n, wait=False) for n in af.resolved})
        if kind == "pause":
            return _all({n: c.resume(n) for n in af.resolved})
        if kind == "partition":
            return _all({ln: c.set_link_enabled(ln, True) for ln in af.resolved})
        if kind == "isolate":
            return _all({n: c.rejoin(n) for n in af.resolved})
        if kind in TOXIC_KINDS:
            evs = {}
            for ln, ev in af.evidence.get("nodes", {}).items():
                for name in ev.get("toxics", []):
                    c.toxiproxy.remove_toxic(ln, name)
                left = {t["name"] for t in c.toxiproxy.get(ln).toxics}
                evs[ln] = {
                    "removed": ev.get("toxics", []),
                    "effective": not (left & set(ev.get("toxics", []))),
                }
            return _all(evs)
        if kind == "failpoint":
            name = af.step.params["name"]
            evs = {}
            for n in af.resolved:
                node = c.node(n)
                crashed = not node.alive()
                fp: dict[str, Any] = {
                    "disarm": c.set_failpoints(n, f"{name}=off"),
                    "crashed": crashed,
                    "returncode": node.returncode(),
                }
                if crashed:
                    fp["restart"] = c.start_node(n)
                # A crash failpoint that never fired did not inject anything.
                fp["effective"] = crashed if af.step.params.get("action") == "crash" else True
                if not fp["effective"]:
                    fp["reason"] = f"failpoint {name} never crashed {n} before the heal"
                evs[n] = fp
            return _all(evs)
        raise FaultError(f"the nemesis does not know how to heal {kind!r}")


def _failpoint_spec(p: dict[str, Any]) -> str:
    action = str(p.get("action", "crash"))
    if action == "delay":
        action = f"delay:{int(p.get('delay_ms', 1000))}"
    spec = f"{p['name']}={action}"
    if p.get("hit") is not None:
        spec += f"@{int(p['hit'])}"
    elif p.get("probability") is not None:
        spec += f"%{float(p['probability'])}"
    return spec


def _all(evs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per-target evidence; effective only if every target shows the effect."""
    bad = [k for k, v in evs.items() if not v.get("effective", True)]
    out: dict[str, Any] = {"nodes": evs, "effective": not bad}
    if bad:
        reasons = "; ".join(f"{k}: {evs[k].get('reason', 'no effect seen')}" for k in bad)
        out["reason"] = reasons
    return out


def fault_evidence(ops: Sequence[Op]) -> tuple[bool, list[str]]:
    """Did every fault take effect? (all effective, one sentence per fault that did not)."""
    problems = []
    for op in ops:
        if op.process != NEMESIS or op.type == "invoke":
            continue
        if op.type != "ok" or not op.value.get("effective", False):
            problems.append(
                f"{op.f} {op.value.get('kind')} {op.value.get('target')}: "
                f"{op.value.get('error') or 'no evidence that it took effect'}"
            )
    return not problems, problems


__all__ = ["ActiveFault", "Nemesis", "fault_evidence"]
