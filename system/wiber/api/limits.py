"""How large a request body may be, per route, and how many body bytes the process holds.

Promises:

* ``RouteLimits.of(settings)``: the byte cap of each route's body and the
  number of JSON keys and values it may hold. One message's bound
  (``item_bytes``) fits the largest valid message written the most verbose
  way JSON allows: every content byte escaped as ``\\uXXXX`` (6 bytes;
  ``\\u0001`` is one UTF-8 byte), every user-name character too, every key
  character as a surrogate pair (12 bytes), plus 1 KiB for keys,
  punctuation, whitespace and a few small unknown fields. ``POST
  /messages`` takes one message plus 4 KiB; ``POST /messages/batch``
  ``max_batch`` of them plus 4 KiB; ``PUT /debug/failpoints`` and every
  other route 64 KiB. No cap exceeds ``WIBER_API_BODY_BUDGET_BYTES``.
  Values: ``VALUES_PER_MESSAGE`` per message (a valid one has 9).
* ``BodyBudget``: the request-body bytes held at once, over all requests,
  never exceed its total. A request reserves its ``Content-Length`` (or
  its route's cap when it sends none) before its body is read (``take``),
  keeps the reservation until its answer is sent (``release``), and waits
  (first fit, in arrival order) while it does not fit; ``BudgetTimeout``
  after ``timeout_s``. A reservation larger than the total is cut to it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from wiber.settings import Settings

SMALL_CAP = 64 << 10  # PUT /debug/failpoints and any route that reads no body
ITEM_SLACK = 1024
ROUTE_SLACK = 4096
VALUES_PER_MESSAGE = 16  # {, 4 x ":", 3 x ",", 1 "," between items = 9 for a valid one
SINGLE, BATCH, FAILPOINTS = "POST /messages", "POST /messages/batch", "PUT /debug/failpoints"


@dataclass(frozen=True)
class RouteLimits:
    """Byte caps and value bounds of the routes' bodies (see the module promises)."""

    item_bytes: int
    single_bytes: int
    batch_bytes: int
    single_values: int
    batch_values: int
    budget_bytes: int

    @classmethod
    def of(cls, s: Settings) -> RouteLimits:
        item = 6 * s.max_content_bytes + 6 * 2 * s.max_user_len + 12 * s.max_key_len
        item += ITEM_SLACK
        budget = s.api_body_budget_bytes
        return cls(
            item_bytes=item,
            single_bytes=min(item + ROUTE_SLACK, budget),
            batch_bytes=min(s.max_batch * item + ROUTE_SLACK, budget),
            single_values=VALUES_PER_MESSAGE,
            batch_values=VALUES_PER_MESSAGE * s.max_batch + VALUES_PER_MESSAGE,
            budget_bytes=budget,
        )

    def cap(self, route: str) -> int:
        """The byte cap of ``route`` (``"METHOD /path"``)."""
        if route == SINGLE:
            return self.single_bytes
        if route == BATCH:
            return self.batch_bytes
        return SMALL_CAP


READS_BODY = frozenset({SINGLE, BATCH, FAILPOINTS})


class BudgetTimeout(Exception):
    """The reservation did not fit within its timeout."""


class BodyBudget:
    """Bytes of request bodies held at once, bounded by ``total`` (see the module promises)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def take_now(self, n: int) -> int | None:
        """Reserve ``n`` bytes (at most ``total``) if they fit now: the amount held, or None."""
        n = min(max(n, 0), self.total)
        if self.used + n <= self.total:
            self.used += n
            return n
        return None

    async def take(self, n: int, timeout_s: float) -> int:
        """Reserve ``n`` bytes (at most ``total``), waiting up to ``timeout_s``: the amount held."""
        held = self.take_now(n)
        if held is not None:
            return held
        n = min(max(n, 0), self.total)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (n, fut)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await fut
        except BaseException as e:
            if fut.done() and not fut.cancelled():
                self.release(n)  # granted, but this request leaves anyway
            else:
                self._waiting.remove(entry)
                self._wake()
            if isinstance(e, TimeoutError):
                raise BudgetTimeout() from None
            raise
        return n

    def release(self, n: int) -> None:
        """Give back what ``take``/``take_now`` returned."""
        self.used -= n
        self._wake()

    def _wake(self) -> None:
        # First fit in arrival order: a large body that does not fit yet does
        # not hold back the small ones behind it.
        for entry in list(self._waiting):
            n, fut = entry
            if self.used + n <= self.total:
                self._waiting.remove(entry)
                if not fut.done():
                    self.used += n
                    fut.set_result(None)


__all__ = [
    "BATCH",
    "FAILPOINTS",
    "READS_BODY",
    "SINGLE",
    "SMALL_CAP",
    "VALUES_PER_MESSAGE",
    "BodyBudget",
    "BudgetTimeout",
    "RouteLimits",
]
