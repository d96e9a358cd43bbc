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

The nemesis knows no kind by name: it asks :mod:`~wiber_harness.faults.registry`
for the step's :class:`~wiber_harness.faults.kind.Kind` and calls its
``inject`` and ``heal`` (a :class:`~wiber_harness.faults.kind.WorkloadKind`
runs on the event loop through the workload instead, unresolved and
unlocked). What the evidence of each kind holds is documented in its module
under :mod:`wiber_harness.faults.kinds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from wiber_harness.clock import Clock
from wiber_harness.cluster.base import Cluster
from wiber_harness.errors import FaultError
from wiber_harness.faults.kind import ActiveFault, FaultContext, WorkloadClient, WorkloadKind
from wiber_harness.faults.registry import implementation
from wiber_harness.history import NEMESIS, HistoryWriter, Op
from wiber_harness.scenario import FaultStep
from wiber_harness.scenario.targets import resolve


class Nemesis:
    """Injects and heals a scenario's faults against a cluster."""

    def __init__(
        self,
        cluster: Cluster,
        history: HistoryWriter,
        clock: Clock,
        *,
        seed: int,
        workload: WorkloadClient | None = None,
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
    def _context(self) -> FaultContext:
        return FaultContext(self.cluster, self.rng)

    async def _inject(self, step: FaultStep) -> tuple[list[str], dict[str, Any]]:
        kind = implementation(step.fault)
        if isinstance(kind, WorkloadKind):
            if self.workload is None:
                raise FaultError(f"{step.fault} needs the workload, and this run has none")
            return ["workload"], await kind.inject_workload(self.workload, step.params)
        resolved = await asyncio.to_thread(resolve, step.target, self.cluster, self.rng)
        if not resolved:
            raise FaultError(f"target {step.target} matched nothing")
        af = ActiveFault(step, resolved)
        async with self._exclusive(resolved):
            ev = await asyncio.to_thread(kind.inject, self._context(), af)
        af.evidence = ev
        if step.kind.heal is not None:
            self.active[af.fid] = af
        return resolved, ev

    async def _heal(self, af: ActiveFault) -> tuple[list[str], dict[str, Any]]:
        kind = implementation(af.step.fault)
        async with self._exclusive(af.resolved):
            return af.resolved, await asyncio.to_thread(kind.heal, self._context(), af)


__all__ = ["ActiveFault", "Nemesis"]
