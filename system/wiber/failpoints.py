"""Failpoints: named places in the pipeline where a fault can be injected on purpose.

They let a test hit the narrowest windows (say, "after the store write and
before the offset commit") deterministically instead of by luck.

Spec syntax (``WIBER_FAILPOINTS``, the ``WIBER_FAILPOINTS_FILE`` contents,
and the body of ``PUT /debug/failpoints``)::

    spec   := entry (";" | newline) entry ...       blank entries and "#..." ignored
    entry  := name "=" action [ "@" N | "%" P ]
    action := crash | hang | raise | delay:MS | off

* ``crash``: run the crash hooks (the consumer flushes its delivery log),
  then ``os._exit(137)``: no cleanup, no commit, like ``kill -9``.
* ``hang``: never return (sleeps for a day; in the API only the request
  that hit it hangs, the event loop keeps serving others).
* ``raise``: raise ``FailpointError`` at that point.
* ``delay:MS``: sleep MS milliseconds (0 to ``MAX_DELAY_MS``, a day), then continue.
* ``off``: remove the point (useful in the file or at run time).
* ``@N``: act only on the N-th hit (1-based) counted from when the rule
  was set; ``%P``: act on each hit with probability P (0..1); neither: act
  on every hit.

Sources, later wins per name: ``WIBER_FAILPOINTS`` (read at start), the
file (re-read when its mtime, size or inode changes, checked at most every 200 ms, on a
hit), and the API's run-time spec. A rule whose definition changes restarts
its hit count.

Points: ``consumer.after_poll``, ``consumer.before_store`` (inside the
store attempt, so ``raise`` there is a simulated store error that gets
retried), ``consumer.after_store_before_commit``, ``consumer.after_commit``
(after the batch's commit step, which ``WIBER_CONSUMER_COMMIT_INTERVAL_MS``
may have deferred: the batch is then stored and not yet committed),
``api.before_produce``, ``api.after_ack_before_response``.

Cost when off: ``hit()`` is one attribute test and a return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("wiber.failpoints")

POINTS = (
    "consumer.after_poll",
    "consumer.before_store",
    "consumer.after_store_before_commit",
    "consumer.after_commit",
    "api.before_produce",
    "api.after_ack_before_response",
)
ACTIONS = ("crash", "hang", "raise", "delay", "off")
HANG_S = 86_400.0
MAX_DELAY_MS = 86_400_000  # a day, like hang; a longer delay is a typo
CRASH_EXIT_CODE = 137
FILE_CHECK_INTERVAL_S = 0.2


class FailpointError(RuntimeError):
    """Raised by a failpoint whose action is ``raise``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"failpoint {name} raised")
        self.name = name


class FailpointSpecError(ValueError):
    """A failpoint spec that cannot be parsed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: str
    delay_ms: int = 0
    nth: int | None = None
    probability: float | None = None

    def describe(self) -> str:
        a = f"delay:{self.delay_ms}" if self.action == "delay" else self.action
        if self.nth is not None:
            a += f"@{self.nth}"
        elif self.probability is not None:
            a += f"%{self.probability}"
        return f"{self.name}={a}"


def parse_spec(spec: str) -> dict[str, Rule]:
    """Parse a spec into rules by name (``off`` entries map to action ``off``)."""
    rules: dict[str, Rule] = {}
    for raw in spec.replace("\n", ";").split(";"):
        entry = raw.split("#", 1)[0].strip()
        if entry:
            rule = _parse_entry(entry)
            rules[rule.name] = rule
    return rules


def check_points(rules: dict[str, Rule]) -> None:
    """Raise FailpointSpecError when a rule names no point of :data:`POINTS`.

    ``parse_spec`` takes any name (the tests arm made-up points); a spec
    that comes from outside (``PUT /debug/failpoints``) is checked with this
    too, so a typo is refused instead of silently never firing.
    """
    unknown = sorted(n for n in rules if n not in POINTS)
    if unknown:
        raise FailpointSpecError(
            f"unknown failpoint {', '.join(unknown)} (the points are {', '.join(POINTS)})"
        )


def _parse_entry(entry: str) -> Rule:
    """One ``name=action[@N|%P]`` entry (comments and blanks already gone)."""
    name, sep, act = entry.partition("=")
    name, act = name.strip(), act.strip()
    if not sep or not name or not act:
        raise FailpointSpecError(f"failpoint entry {entry!r} is not name=action")
    act, nth, prob = _parse_when(name, act)
    delay_ms = 0
    if act.startswith("delay:"):
        ms = act.split(":", 1)[1]
        # ASCII digits only: int() also takes "-5", "1_000", " 7" and non-ASCII digits.
        if not (ms.isascii() and ms.isdigit()):
            raise FailpointSpecError(
                f"failpoint {name}: {act!r} needs delay:MS with MS a whole number of "
                f"milliseconds, 0 to {MAX_DELAY_MS}"
            )
        delay_ms = int(ms) if len(ms) <= 12 else MAX_DELAY_MS + 1
        if delay_ms > MAX_DELAY_MS:
            raise FailpointSpecError(
                f"failpoint {name}: delay:MS is over {MAX_DELAY_MS} ms (a day; use hang)"
            )
        act = "delay"
    if act not in ACTIONS:
        raise FailpointSpecError(
            f"failpoint {name}: unknown action {act!r} (use one of crash, hang, raise, "
            "delay:MS, off)"
        )
    return Rule(name, act, delay_ms, nth, prob)


def _parse_when(name: str, act: str) -> tuple[str, int | None, float | None]:
    """Split ``act@N`` / ``act%P`` into the action, the nth hit and the probability."""
    if "@" in act:
        act, n = act.split("@", 1)
        try:
            nth = int(n)
        except ValueError:
            raise FailpointSpecError(f"failpoint {name}: @{n} is not a whole number") from None
        if nth < 1:
            raise FailpointSpecError(f"failpoint {name}: @N needs N >= 1")
        return act, nth, None
    if "%" in act:
        act, p = act.split("%", 1)
        try:
            prob = float(p)
        except ValueError:
            raise FailpointSpecError(f"failpoint {name}: %{p} is not a number") from None
        if not 0.0 <= prob <= 1.0:
            raise FailpointSpecError(f"failpoint {name}: %P needs 0 <= P <= 1")
        return act, None, prob
    return act, None, None


class Registry:
    """The active rules of this process, their hit counts, and the crash hooks."""

    def __init__(self) -> None:
        self.active = False  # read unlocked by hit(): the only cost when off
        self._lock = threading.Lock()
        self._layers: dict[str, dict[str, Rule]] = {"env": {}, "file": {}, "runtime": {}}
        self._rules: dict[str, Rule] = {}
        self._hits: dict[str, int] = {}
        self._file: Path | None = None
        self._file_sig: tuple[int, int, int] | None = None
        self._next_check = 0.0
        self._crash_hooks: list[Callable[[], None]] = []

    # --- configuration ----------------------------------------------------
    def configure(self, env_spec: str = "", file: Path | None = None) -> None:
        with self._lock:
            self._layers = {"env": parse_spec(env_spec), "file": {}, "runtime": {}}
            self._file = file
            self._file_sig = None
            self._next_check = 0.0
            self._rebuild()
        if file is not None:
            self._check_file(force=True)

    def set_runtime(self, spec: str) -> dict[str, str]:
        rules = parse_spec(spec)
        with self._lock:
            self._layers["runtime"] = rules
            self._rebuild()
        return self.status()

    def on_crash(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (best effort) before a ``crash`` action exits the process."""
        self._crash_hooks.append(hook)

    def status(self) -> dict[str, str]:
        with self._lock:
            return {n: r.describe() for n, r in self._rules.items()}

    def hits(self) -> dict[str, int]:
        with self._lock:
            return dict(self._hits)

    def _rebuild(self) -> None:
        merged: dict[str, Rule] = {}
        for layer in ("env", "file", "runtime"):
            merged.update(self._layers[layer])
        merged = {n: r for n, r in merged.items() if r.action != "off"}
        for n, r in merged.items():
            if self._rules.get(n) != r:
                self._hits[n] = 0
                log.warning("failpoint armed: %s", r.describe())
        for n in set(self._rules) - set(merged):
            log.warning("failpoint disarmed: %s", n)
        self._rules = merged
        self.active = bool(merged) or self._file is not None

    def _check_file(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._file is None or (not force and now < self._next_check):
            return
        self._next_check = now + FILE_CHECK_INTERVAL_S
        # mtime alone misses a truncate+write within one coarse clock tick
        # (a non-atomic rewrite read half-way); size and inode catch that.
        try:
            st = self._file.stat()
            sig: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            sig = None
        if sig == self._file_sig:
            return
        self._file_sig = sig
        try:
            text = self._file.read_text() if sig is not None else ""
            rules = parse_spec(text)
        except (OSError, FailpointSpecError) as e:
            log.error("failpoints file %s ignored: %s", self._file, e)
            return
        with self._lock:
            self._layers["file"] = rules
            self._rebuild()

    # --- hitting ----------------------------------------------------------------
    def armed(self, name: str) -> bool:
        """Whether a rule for ``name`` is set now (counts no hit; a hit may still not act)."""
        self._check_file()
        with self._lock:
            return name in self._rules

    def decide(self, name: str) -> Rule | None:
        """Count a hit of ``name``; the rule to act on now, or None."""
        self._check_file()
        with self._lock:
            rule = self._rules.get(name)
            if rule is None:
                return None
            n = self._hits.get(name, 0) + 1
            self._hits[name] = n
        if rule.nth is not None:
            return rule if n == rule.nth else None
        if rule.probability is not None:
            return rule if random.random() < rule.probability else None
        return rule

    def crash(self, name: str) -> None:
        log.error("failpoint %s: crash (exit %d)", name, CRASH_EXIT_CODE)
        for hook in self._crash_hooks:
            with contextlib.suppress(Exception):
                hook()
        for h in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                h.flush()
        os._exit(CRASH_EXIT_CODE)


REGISTRY = Registry()


def _act_sync(rule: Rule) -> None:
    if rule.action == "crash":
        REGISTRY.crash(rule.name)
    elif rule.action == "raise":
        raise FailpointError(rule.name)
    elif rule.action == "delay":
        time.sleep(rule.delay_ms / 1000)
    elif rule.action == "hang":
        log.error("failpoint %s: hang", rule.name)
        while True:
            time.sleep(HANG_S)


def hit(name: str) -> None:
    """Pass the failpoint ``name`` in synchronous code."""
    if not REGISTRY.active:
        return
    rule = REGISTRY.decide(name)
    if rule is not None:
        _act_sync(rule)


async def ahit(name: str) -> None:
    """Pass the failpoint ``name`` in async code (hang/delay block only this task)."""
    if not REGISTRY.active:
        return
    rule = REGISTRY.decide(name)
    if rule is None:
        return
    if rule.action == "delay":
        await asyncio.sleep(rule.delay_ms / 1000)
    elif rule.action == "hang":
        log.error("failpoint %s: hang", rule.name)
        await asyncio.sleep(HANG_S)
    else:
        _act_sync(rule)


def armed(name: str) -> bool:
    """Whether ``hit(name)`` could act now; False means every hit would pass untouched."""
    return REGISTRY.active and REGISTRY.armed(name)


def configure(env_spec: str = "", file: Path | None = None) -> None:
    REGISTRY.configure(env_spec, file)


def status() -> dict[str, Any]:
    return {"rules": REGISTRY.status(), "hits": REGISTRY.hits()}


__all__ = [
    "ACTIONS",
    "CRASH_EXIT_CODE",
    "MAX_DELAY_MS",
    "POINTS",
    "REGISTRY",
    "FailpointError",
    "FailpointSpecError",
    "Registry",
    "Rule",
    "ahit",
    "check_points",
    "configure",
    "hit",
    "parse_spec",
    "status",
]
