"""The open-loop workload: sends messages on a fixed schedule and records every send as ops.
Over 500 lines because it is one class whose send paths (single, batch,
duplicate-injection resend) share the in-flight bookkeeping that makes
"exactly one completion per invoke" hold.

::

    wl = Workload(WorkloadConfig(rate=2000, duration=60), api_urls, history, clock)
    stats = await wl.run(stop)            # while the nemesis may call
    evidence = await wl.retry_acknowledged(100)

What is sent and what answers mean (plan, schedule offsets, keys, content,
conversation ids, status classification, :class:`ApiProfile`) is specified
in :mod:`wiber_harness.workload.plan`; this module sends it. Its promises
(what the runner, the checkers and the metrics rely on):

* **Open loop.** A send is launched at its intended time (``start`` of
  :meth:`Workload.run` plus the plan's offset), or as soon after as the
  event loop can, whatever happened to earlier ones: the generator never
  waits for an answer to decide when to send. ``stop`` ends the schedule
  early.
* **Conversation check.** A 201 answer whose conversation field differs
  from ``value.conversation`` is counted (``conversation_mismatches``) and
  logged once: the checkers would otherwise group the store wrongly.
* **Ops.** Every send is an ``invoke`` op (``f="send"``, process
  ``client-<sender>``, time = when the request actually left, ``value`` with
  ``key, conversation, from, to, sender, seq, intended`` and the message's
  ``tag`` unless the profile puts none) followed by
  exactly one completion: ``ok`` (status in ``ok_statuses``, 201), ``fail``
  (any 4xx, or a status in ``not_sent_statuses``, 503; or the TCP connect
  failed, so no byte of the request left: that one is certain too) or
  ``info`` (504, any other status, timeout, reset, disconnect, cancelled).
  Completions carry ``status`` (null without an answer), ``messageId`` when
  the body had one (503/504 bodies too), ``partition`` and ``offset`` when an
  ``ok`` answer named its Kafka position (both integers; the profile's
  ``partition_field``/``offset_field``) and ``error`` on fail/info. Latency
  counts from ``intended`` (no coordinated omission); ``invoke.time -
  intended`` is the generator's own lag.
* **Concurrency bound.** At most ``concurrency`` scheduled requests are in
  flight. A send due while the bound is reached is **skipped**: not sent, no
  op, no seq consumed (so seq stays gap-free), counted in ``skipped`` and in
  ``skipped_by_second`` of :class:`WorkloadStats`, and logged (once per
  overload episode). It is not a ``fail`` op, because the system did not
  refuse it: the client chose not to send, and a fake ``fail`` would charge
  the client's limit to the system's availability. The schedule never
  blocks on the bound.
* **Late sends.** A send the generator reaches more than
  ``request_timeout`` after its intended time (the harness process was
  starved of CPU or stalled) is skipped the same way and also counted in
  ``skipped_late``: its latency from ``intended`` would already exceed what
  the client waits for, and catching up on a long backlog would stretch
  the run far past ``duration``. So :meth:`Workload.run` takes at most
  about ``duration + 2 * request_timeout + 5 s``.
* **Batches** (``batch=N``): the per-message schedule is unchanged; messages
  are collected and a request of N items is sent when the N-th is due (a
  partial one at the end). Each item has its own invoke (all at the request's
  send time, each with its own ``intended``, so latency includes the wait
  for the batch to fill, as a batching client would see it) and its own
  completion from its result's ``status`` (same classification). A request
  that fails as a whole (4xx, 5xx other than 207, timeout ...) gives every
  item the request's classification; a missing or malformed result is
  ``info``. ``concurrency`` bounds requests, not items.
* **End.** :meth:`Workload.run` stops scheduling at ``duration`` or when
  ``stop`` is set, then waits for requests in flight (each bounded by
  ``request_timeout``; a request still open ``request_timeout + 5 s`` later,
  or at cancellation, is cancelled and completed ``info``). A send task that
  dies of a bug completes its ops ``info`` with ``client-error: ...``, is
  counted in ``client_errors`` and logged: no send vanishes.
* **Duplicate injection.** :meth:`Workload.retry_acknowledged` re-sends
  acknowledged messages (those in ``acknowledged``: ``ok`` with a
  ``messageId``; picked by a seeded RNG) through the single route with the
  original key and body: invoke value as the original plus ``retry_of`` (=
  ``key``) and ``intended`` = send time. Evidence: ``requested``, ``sent``,
  ``acked``, ``failed``, ``indeterminate``, ``same_message_id``,
  ``different_message_id`` (an ``ok`` resend answered with another id: the
  API's dedup is broken) and up to 10 ``keys``. Callable during :meth:`run`
  (shares its session; at most 32 resends in flight) or after it.

Spread: requests go round-robin over ``api_urls`` through one
``aiohttp.ClientSession`` (keep-alive; its connector holds ``concurrency``
connections plus room for resends, so a request never queues for a
connection and skipping is the only back-pressure). aiohttp, not httpx:
httpx's pool collapses under thousands of waiting tasks in open loop (the
measurement is in ``docs/architecture.md``, "Decisions worth knowing").
Measure with ``python -m wiber_harness.bench.generator_selftest
--selftest-url URL`` (see :mod:`wiber_harness.bench.generator_selftest`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
import yarl
from hdrh.histogram import HdrHistogram

from wiber.model import conversation_id
from wiber_harness.clock import Clock
from wiber_harness.errors import WorkloadError
from wiber_harness.history import HistoryWriter, Op, OpType
from wiber_harness.workload.plan import (
    NS,
    ApiProfile,
    Planned,
    WorkloadConfig,
    WorkloadStats,
    classify_status,
    content_for,
    conversation_pairs,
    plan,
)
from wiber_harness.workload.tag import make_tag, nonce_for, tagged_content

log = logging.getLogger("wiber_harness.workload")
T = TypeVar("T")

# resends of duplicate injection run this many at a time, beside the schedule
RESEND_PARALLELISM = 32
# idle keep-alive connections are dropped after this (see _new_session)
KEEPALIVE_S = 4.0
# how long after request_timeout a request may still be open before it is cancelled
END_GRACE_S = 5.0
# the skipping warning is repeated at most this often
SKIP_LOG_EVERY_S = 5
# while catching up, yield to the event loop after this many launches so
# responses keep being read
LAUNCH_BURST = 32


@dataclass(slots=True)
class _Msg:
    key: str
    sender: str
    recipient: str
    seq: int
    conversation: str
    intended: int
    body: dict[str, Any]
    retry_of: str | None = None
    tag: str | None = None

    def invoke_value(self) -> dict[str, Any]:
        v: dict[str, Any] = {
            "key": self.key,
            "conversation": self.conversation,
            "from": self.sender,
            "to": self.recipient,
            "sender": self.sender,
            "seq": self.seq,
            "intended": self.intended,
        }
        if self.tag is not None:
            v["tag"] = self.tag
        if self.retry_of is not None:
            v["retry_of"] = self.retry_of
        return v


@dataclass(frozen=True, slots=True)
class _NoAnswer:
    """A request that got no HTTP answer: ``fail`` if it surely never left, else ``info``."""

    kind: OpType
    reason: str

    def outcome(self) -> tuple[OpType, dict[str, Any]]:
        return self.kind, {"status": None, "error": self.reason}


class _LagHistogram:
    """Launch lags (how late each request left against its intended time), in microseconds."""

    def __init__(self) -> None:
        self.h = HdrHistogram(1, 3_600_000_000, 2)

    def add(self, lag_ns: int) -> None:
        self.h.record_value(min(max(lag_ns // 1000, 1), 3_600_000_000))

    def quantile_ms(self, q: float) -> float:
        return self.h.get_value_at_percentile(q * 100) / 1000 if self.h.get_total_count() else 0.0

    def max_ms(self) -> float:
        return self.h.get_max_value() / 1000 if self.h.get_total_count() else 0.0


class Workload:
    """Open-loop clients of one run; see the module docstring for every promise."""

    def __init__(
        self,
        cfg: WorkloadConfig,
        api_urls: Sequence[str],
        history: HistoryWriter,
        clock: Clock,
        api_profile: ApiProfile | None = None,
    ) -> None:
        if not api_urls:
            raise WorkloadError("workload: no API URL to send to; the cluster reported none")
        self.cfg = cfg
        self.api_urls = [u.rstrip("/") for u in api_urls]
        pr = api_profile or ApiProfile()
        # parsed once: yarl parsing is a measurable share of a request's cost
        self._send_urls = [yarl.URL(u + pr.send_route) for u in self.api_urls]
        self._batch_urls = [yarl.URL(u + pr.batch_route) for u in self.api_urls]
        # a key the API rejects would turn every send into a 422 `fail`: refuse up front
        longest = f"{cfg.run_id}-{cfg.user_prefix}{2 * cfg.conversations - 1}-{10**9}"
        if len(longest) > pr.max_key_len:
            raise WorkloadError(
                f"workload: idempotency keys would be up to {len(longest)} characters, over the "
                f"API's {pr.max_key_len}; shorten run_id ({len(cfg.run_id)} characters)"
            )
        self.history = history
        self.clock = clock
        self.profile = pr
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self._rr = 0
        self._seq: dict[str, int] = {}
        self._tags = 0  # messages tagged so far (the number in each tag)
        self._nonce = nonce_for(cfg.run_id)
        self._pending: dict[int, _Msg] = {}  # op id -> message awaiting its completion
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._started = False
        self._requests_inflight = 0
        self._overloaded = False
        self._last_skip_log = -SKIP_LOG_EVERY_S * NS
        self._lag = _LagHistogram()
        self._retry_rng = random.Random(f"{cfg.seed}/retries")
        # shared by every retry_acknowledged call: the connector has room for this many
        self._resend_sem = asyncio.Semaphore(RESEND_PARALLELISM)
        self._c = dict.fromkeys(
            (
                "scheduled",
                "sent",
                "ok",
                "fail",
                "info",
                "skipped",
                "skipped_late",
                "resent",
                "requests",
            ),
            0,
        )
        self._client_errors = 0
        self._mismatches = 0
        self._skipped_by_second: dict[int, int] = {}

    # -- public --------------------------------------------------------------

    def progress(self) -> dict[str, int]:
        """Counters for a live progress line (all sends, resends included)."""
        c = self._c
        return {
            "sent": c["sent"] + c["resent"],
            "ok": c["ok"],
            "fail": c["fail"],
            "info": c["info"],
            "inflight": len(self._pending),
            "skipped": c["skipped"],
            "skipped_late": c["skipped_late"],
            "resent": c["resent"],
            "scheduled": c["scheduled"],
        }

    async def run(self, stop: asyncio.Event | None = None) -> WorkloadStats:
        """Send on schedule until ``duration`` or ``stop``, then drain; returns the stats."""
        if self._started:
            raise WorkloadError("workload: run() was already called; make a new Workload per run")
        self._started = True
        stop = stop or asyncio.Event()
        t_start = self.clock.now()
        session = self._new_session(self.cfg.concurrency + RESEND_PARALLELISM)
        self._session = session
        stopped_early = False
        sched_s = 0.0
        try:
            stopped_early = await self._schedule(t_start, stop)
            sched_s = (self.clock.now() - t_start) / NS
            await self._drain()
        except asyncio.CancelledError:
            await self._cancel_all()
            raise
        except Exception as e:
            await self._cancel_all()
            raise WorkloadError(f"workload: the scheduler failed ({type(e).__name__}: {e})") from e
        finally:
            self._session = None
            await session.close()
        elapsed = (self.clock.now() - t_start) / NS
        # a generator that fell behind launched its last send after `duration`
        span = sched_s if stopped_early else max(sched_s, self.cfg.duration)
        c = self._c
        stats = WorkloadStats(
            scheduled=c["scheduled"],
            sent=c["sent"],
            skipped=c["skipped"],
            skipped_late=c["skipped_late"],
            ok=c["ok"],
            fail=c["fail"],
            info=c["info"],
            resent=c["resent"],
            requests=c["requests"],
            client_errors=self._client_errors,
            conversation_mismatches=self._mismatches,
            stopped_early=stopped_early,
            elapsed_s=elapsed,
            achieved_rate=c["sent"] / span if span > 0 else 0.0,
            launch_lag_p99_ms=self._lag.quantile_ms(0.99),
            launch_lag_max_ms=self._lag.max_ms(),
            skipped_by_second=dict(self._skipped_by_second),
        )
        if stats.skipped:
            log.warning(
                "workload: %d of %d scheduled sends were skipped: %d at the concurrency bound "
                "(%d), %d over %.1f s behind schedule",
                stats.skipped,
                stats.scheduled,
                stats.skipped - stats.skipped_late,
                self.cfg.concurrency,
                stats.skipped_late,
                self.cfg.request_timeout,
            )
        return stats

    async def retry_acknowledged(self, count: int) -> dict[str, Any]:
        """Re-send ``count`` acknowledged messages with their key and body; the evidence."""
        keys = list(self.acknowledged)
        chosen = self._retry_rng.sample(keys, min(max(count, 0), len(keys)))
        own = self._session is None or self._session.closed
        session = self._new_session(RESEND_PARALLELISM) if own else self._session
        assert session is not None
        sem = self._resend_sem

        async def one(key: str) -> tuple[str, tuple[OpType, dict[str, Any]] | None]:
            async with sem:
                if session.closed:  # run() ended meanwhile and closed its session
                    return key, None
                return key, await self._resend(session, key)

        try:
            outcomes = await asyncio.gather(*(one(k) for k in chosen))
        finally:
            if own:
                await session.close()
        sent = [(k, o) for k, o in outcomes if o is not None]
        kinds = [o[0] for _, o in sent]
        same = sum(
            1
            for k, (t, v) in sent
            if t == "ok" and v.get("messageId") == self.acknowledged[k]["messageId"]
        )
        acked = kinds.count("ok")
        return {
            "requested": count,
            "sent": len(sent),
            "acked": acked,
            "failed": kinds.count("fail"),
            "indeterminate": kinds.count("info"),
            "same_message_id": same,
            "different_message_id": acked - same,
            "keys": [k for k, _ in sent[:10]],
        }

    # -- scheduling ------------------------------------------------------------

    async def _schedule(self, t_start: int, stop: asyncio.Event) -> bool:
        """Launch every planned message at its time; True if ``stop`` ended it early.

        In batch mode only the message that completes a request is waited
        for (the request leaves when it is due); the ones before it are
        collected without a wait each, which at thousands of messages a
        second was most of the generator's CPU. A ``stop`` sends only the
        collected messages already due; the others were never scheduled.
        """
        size = max(1, self.cfg.batch)
        batch: list[_Msg] = []
        burst = 0
        max_late = int(self.cfg.request_timeout * NS)
        for p in plan(self.cfg):
            due = t_start + p.offset_ns
            if len(batch) + 1 >= size:
                while (rem := due - self.clock.now()) > 0 and not stop.is_set():
                    burst = 0
                    # sliced, so a stop is seen within 50 ms even at low rates
                    await asyncio.sleep(min(rem / NS, 0.05))
                if stop.is_set():
                    self._flush_due(batch)
                    return True
            self._c["scheduled"] += 1
            msg = _Msg("", p.sender, p.recipient, 0, "", due, {})
            if self.clock.now() - due > max_late:
                self._skip([msg], late=True)
                continue
            batch.append(msg)
            if len(batch) >= size:
                self._flush(batch)
                batch = []
            burst += 1
            if burst >= LAUNCH_BURST:
                burst = 0
                await asyncio.sleep(0)
                if stop.is_set():
                    self._flush_due(batch)
                    return True
        # a partial last request leaves when its last message is due
        last = batch[-1].intended if batch else 0
        while (rem := last - self.clock.now()) > 0 and not stop.is_set():
            await asyncio.sleep(min(rem / NS, 0.05))
        self._flush_due(batch)
        return last > self.clock.now()  # only a stop leaves the wait early

    def _flush_due(self, batch: list[_Msg]) -> None:
        """Send the collected messages already due; the rest are unscheduled again."""
        now = self.clock.now()
        due = [m for m in batch if m.intended <= now]
        self._c["scheduled"] -= len(batch) - len(due)
        self._flush(due)

    def _flush(self, msgs: list[_Msg]) -> None:
        """Send ``msgs`` as one request now, or skip them at the concurrency bound."""
        if not msgs:
            return
        if self._requests_inflight >= self.cfg.concurrency:
            self._skip(msgs)
            return
        self._overloaded = False
        for m in msgs:
            self._materialise(m)
        url = self._next_url(batch=bool(self.cfg.batch))
        if self.cfg.batch:
            body = orjson.dumps({self.profile.batch_field: [m.body for m in msgs]})
            headers = {"Content-Type": "application/json"}
        else:
            body, headers = self._single_request(msgs[0])
        ids = self._invoke(msgs)
        self._c["sent"] += len(msgs)
        self._c["requests"] += 1
        self._requests_inflight += 1
        assert self._session is not None
        coro = (
            self._post_batch(self._session, url, body, headers, ids)
            if self.cfg.batch
            else self._post_one(self._session, url, body, headers, ids[0])
        )
        self._spawn(coro, ids, scheduled=True)

    def _skip(self, msgs: list[_Msg], *, late: bool = False) -> None:
        self._c["skipped"] += len(msgs)
        if late:
            self._c["skipped_late"] += len(msgs)
        sec = msgs[0].intended // NS
        self._skipped_by_second[sec] = self._skipped_by_second.get(sec, 0) + len(msgs)
        now = msgs[0].intended
        # once per episode, and at most every few seconds: a server hovering at
        # the bound would otherwise flood the log
        if not self._overloaded and now - self._last_skip_log >= SKIP_LOG_EVERY_S * NS:
            self._last_skip_log = now
            if late:
                log.warning(
                    "workload: the generator is over %.1f s behind its schedule (short of CPU?); "
                    "skipping sends due at %.3f s (counted in skipped_late)",
                    self.cfg.request_timeout,
                    now / NS,
                )
            else:
                log.warning(
                    "workload: %d requests in flight (the concurrency bound); skipping sends "
                    "due at %.3f s until one completes (counted in skipped)",
                    self._requests_inflight,
                    now / NS,
                )
        self._overloaded = True

    def _materialise(self, m: _Msg) -> None:
        """Give a message its seq, key and body now that it is really being sent."""
        seq = self._seq.get(m.sender, 0) + 1
        self._seq[m.sender] = seq
        m.seq = seq
        m.key = f"{self.cfg.run_id}-{m.sender}-{seq}"
        m.conversation = conversation_id(m.sender, m.recipient)
        pr = self.profile
        if pr.tag is not None:
            self._tags += 1
            m.tag = make_tag(self._nonce, self._tags)
        content = tagged_content(m.tag or "", pr.tag, m.sender, seq, self.cfg.payload_size)
        m.body = {pr.from_field: m.sender, pr.to_field: m.recipient, pr.content_field: content}
        if pr.tag == "field":
            m.body[pr.tag_field] = m.tag
        if pr.key_field is not None:
            m.body[pr.key_field] = m.key

    def _single_request(self, m: _Msg) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if self.profile.key_header is not None:
            headers[self.profile.key_header] = m.key
        return orjson.dumps(m.body), headers

    def _next_url(self, batch: bool = False) -> yarl.URL:
        urls = self._batch_urls if batch else self._send_urls
        url = urls[self._rr % len(urls)]
        self._rr += 1
        return url

    def _invoke(self, msgs: list[_Msg]) -> list[int]:
        now = self.clock.now()
        ids = []
        with self.history.grouped():
            for m in msgs:
                op_id = self.history.next_id()
                self._pending[op_id] = m
                self.history.append(
                    Op(op_id, "invoke", "send", f"client-{m.sender}", now, m.invoke_value())
                )
                ids.append(op_id)
        # one launch lag per request, against the time it was due: its last message's
        # (the earlier items of a batch waited for it to fill, on purpose)
        if msgs[-1].retry_of is None:
            self._lag.add(now - msgs[-1].intended)
        return ids

    def _spawn(
        self, coro: Coroutine[Any, Any, T], ids: list[int], *, scheduled: bool
    ) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._request_done(t, ids, scheduled))
        return task

    def _request_done(self, task: asyncio.Task[Any], ids: list[int], scheduled: bool) -> None:
        """Runs for every request task however it ended: completes whatever it left open."""
        self._tasks.discard(task)
        if scheduled:
            self._requests_inflight -= 1
        left = [i for i in ids if i in self._pending]
        if task.cancelled():
            err = "cancelled: the run ended while the request was in flight"
        else:
            exc = task.exception()  # retrieved here, so asyncio never reports it as lost
            if exc is None and not left:
                return
            self._client_errors += 1
            log.error("workload: a send task failed: %r", exc, exc_info=exc)
            err = (
                f"client-error: {type(exc).__name__}: {exc}"[:200]
                if exc is not None
                else "client-error: the request ended without a completion"
            )
        for op_id in left:
            self._complete(op_id, "info", {"status": None, "error": err})

    async def _drain(self) -> None:
        """Wait for open requests (resends may still start meanwhile), bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.request_timeout + END_GRACE_S
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                log.warning(
                    "workload: %d requests still open after the timeout; cancelling",
                    len(self._tasks),
                )
                await self._cancel_all()
                return
            await asyncio.wait(set(self._tasks), timeout=left)

    async def _cancel_all(self) -> None:
        tasks = set(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- requests --------------------------------------------------------------

    def _new_session(self, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limit,
            limit_per_host=0,
            ttl_dns_cache=300,
            # below uvicorn's 5 s keep-alive: the client drops an idle connection
            # before the server does, so a send never races a server-side close
            # (that race would be an `info` the system did not cause)
            keepalive_timeout=KEEPALIVE_S,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.cfg.request_timeout),
            skip_auto_headers=("User-Agent",),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def _exchange(
        self, session: aiohttp.ClientSession, url: yarl.URL, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any] | _NoAnswer:
        """(status, parsed JSON body or None) of one POST, or why no answer came."""
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as r:
                raw = await r.read()
                status = r.status
        except TimeoutError:
            return _NoAnswer("info", f"timeout after {self.cfg.request_timeout}s")
        except aiohttp.ClientConnectorError as e:
            # the connection was never established: no byte of the request left
            return _NoAnswer("fail", f"connect: {e.os_error!r}"[:200])
        except (aiohttp.ClientError, OSError) as e:
            return _NoAnswer("info", f"{type(e).__name__}: {e}"[:200])
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        return status, parsed

    async def _post_one(
        self,
        session: aiohttp.ClientSession,
        url: yarl.URL,
        body: bytes,
        headers: dict[str, str],
        op_id: int,
    ) -> tuple[OpType, dict[str, Any]]:
        got = await self._exchange(session, url, body, headers)
        if isinstance(got, _NoAnswer):
            outcome = got.outcome()
            self._complete(op_id, *outcome)
        else:
            outcome = self._outcome(*got)
            self._complete(op_id, *outcome, answered=got[1])
        return outcome

    async def _post_batch(
        self,
        session: aiohttp.ClientSession,
        url: yarl.URL,
        body: bytes,
        headers: dict[str, str],
        ids: list[int],
    ) -> None:
        got = await self._exchange(session, url, body, headers)
        pr = self.profile
        if isinstance(got, _NoAnswer) or (
            got[0] not in pr.ok_statuses and got[0] != pr.multi_status
        ):
            # the request failed as a whole: every item shares its outcome
            t, v = got.outcome() if isinstance(got, _NoAnswer) else self._outcome(*got)
            with self.history.grouped():
                for op_id in ids:
                    self._complete(op_id, t, dict(v))
            return
        status, parsed = got
        results = parsed.get(pr.results_field) if isinstance(parsed, dict) else None
        by_index: dict[int, dict[str, Any]] = {}
        if isinstance(results, list):
            for pos, item in enumerate(results):
                if isinstance(item, dict):
                    idx = item.get(pr.result_index_field, pos)
                    if isinstance(idx, int):
                        by_index.setdefault(idx, item)
        with self.history.grouped():
            for i, op_id in enumerate(ids):
                item = by_index.get(i)
                st = item.get(pr.result_status_field) if item is not None else None
                if item is None or not isinstance(st, int):
                    why = f"batch answer {status} has no result for item {i}"
                    self._complete(op_id, "info", {"status": status, "error": why})
                else:
                    self._complete(op_id, *self._outcome(st, item), answered=item)

    async def _resend(
        self, session: aiohttp.ClientSession, key: str
    ) -> tuple[OpType, dict[str, Any]]:
        """One duplicate-injection resend of ``key``, recorded as ops; its outcome."""
        ack = self.acknowledged[key]
        m = _Msg(key, ack["from"], ack["to"], ack["seq"], ack["conversation"], 0, ack["body"], key)
        m.tag = ack["tag"]
        m.intended = self.clock.now()
        body, headers = self._single_request(m)
        url = self._next_url()
        ids = self._invoke([m])
        self._c["resent"] += 1
        task = self._spawn(
            self._post_one(session, url, body, headers, ids[0]), ids, scheduled=False
        )
        await asyncio.wait({task})
        if task.cancelled() or task.exception() is not None:
            return "info", {"status": None, "error": "cancelled or client-error"}
        return task.result()

    def _outcome(self, status: int, parsed: Any) -> tuple[OpType, dict[str, Any]]:
        t = classify_status(status, self.profile)
        v: dict[str, Any] = {"status": status}
        if isinstance(parsed, dict):
            mid = parsed.get(self.profile.message_id_field)
            if isinstance(mid, str):
                v["messageId"] = mid
            if t == "ok":
                v.update(_position(parsed, self.profile))
        if t != "ok":
            why = parsed.get("error") if isinstance(parsed, dict) else None
            v["error"] = f"http {status}: {why}" if isinstance(why, str) else f"http {status}"
        return t, v

    def _complete(
        self, op_id: int, type_: OpType, value: dict[str, Any], answered: Any = None
    ) -> None:
        """Write the one completion of ``op_id``; ``answered`` is the body it got, if any."""
        m = self._pending.pop(op_id, None)
        if m is None:
            return  # already completed: exactly one completion per invoke
        self.history.append(Op(op_id, type_, "send", f"client-{m.sender}", self.clock.now(), value))
        self._c[type_] += 1
        if type_ != "ok" or m.retry_of is not None:
            return
        cf = self.profile.conversation_field
        conv = answered.get(cf) if cf is not None and isinstance(answered, dict) else None
        if conv is not None and conv != m.conversation:
            self._mismatches += 1
            if self._mismatches == 1:
                log.warning(
                    "workload: the API answered conversation %r for %r; the store's conversation "
                    "ids differ from the workload's (the runner must normalise them)",
                    conv,
                    m.conversation,
                )
        mid = value.get("messageId")
        if isinstance(mid, str):
            self.acknowledged[m.key] = {
                "messageId": mid,
                "body": m.body,
                "conversation": m.conversation,
                "from": m.sender,
                "to": m.recipient,
                "seq": m.seq,
                "tag": m.tag,
            }


def _position(answer: dict[str, Any], profile: ApiProfile) -> dict[str, int]:
    """The Kafka partition and offset an ok answer names (both integers), else nothing."""
    if profile.partition_field is None or profile.offset_field is None:
        return {}
    part, off = answer.get(profile.partition_field), answer.get(profile.offset_field)
    if type(part) is int and type(off) is int:
        return {"partition": part, "offset": off}
    return {}


__all__ = [
    "ApiProfile",
    "Planned",
    "Workload",
    "WorkloadConfig",
    "WorkloadStats",
    "classify_status",
    "content_for",
    "conversation_pairs",
    "plan",
]
