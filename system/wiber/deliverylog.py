"""The consumer's delivery log: one JSON line per record handled (off unless configured).

Line shape::

    {"consumer": "consumer-1", "partition": 3, "offset": 1042,
     "messageId": "..." | null, "time": 1764195600123456789, "outcome": "stored"}

``time`` is epoch ns when the outcome was known. ``outcome``:

* ``stored``: this consumer inserted the document;
* ``duplicate``: the store already held the ``messageId`` (a redelivery, or
  a resend of the same idempotency key) — success, nothing written;
* ``dlq``: the record was not a valid message and went to the dead-letter
  topic (``messageId`` null unless the record carried one);
* ``failed``: the store write failed and the record was committed past
  anyway (only with the unsafe ``WIBER_CONSUMER_ON_STORE_ERROR=skip``).

A record whose batch is abandoned (store down at shutdown, partition
revoked mid-retry) gets no line: it was neither stored nor committed, and
will be delivered again. Lines are written and flushed once per batch,
after the store write and before the offset commit, and on a failpoint
crash; a redelivered record therefore shows up again with ``duplicate``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO

import orjson


class DeliveryLog:
    """Buffered JSON-lines writer; every method is a no-op when ``path`` is None."""

    def __init__(self, path: Path | None, consumer: str) -> None:
        self.consumer = consumer
        self._lines: list[bytes] = []
        self._fh: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "ab")  # noqa: SIM115 - lives as long as the consumer

    @property
    def enabled(self) -> bool:
        return self._fh is not None

    def add(self, partition: int, offset: int, message_id: str | None, outcome: str) -> None:
        if self._fh is None:
            return
        self._lines.append(
            orjson.dumps(
                {
                    "consumer": self.consumer,
                    "partition": partition,
                    "offset": offset,
                    "messageId": message_id,
                    "time": time.time_ns(),
                    "outcome": outcome,
                }
            )
        )

    def flush(self) -> None:
        if self._fh is None or not self._lines:
            return
        lines, self._lines = self._lines, []
        self._fh.write(b"\n".join(lines) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        self.flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None


__all__ = ["DeliveryLog"]
