"""CPU of the batch route's preparation, without Kafka: the per-item path against the one pass.

Run: ``python -m wiber_harness.bench.batch_cpu [--items 1000] [--rounds 30]``.

Promise: ``measure`` times, on the same body, in alternating rounds (so
a busy machine slows both alike), the two ways ``POST /messages/batch``
turns a raw body into Kafka records (partition key and value bytes):

* ``per_item``: the route before the one-pass path, kept here verbatim
  as the reference (``parse_batch``, then ``validate_item``,
  ``Message.new``, ``partition_key`` and ``encode_record`` per item);
* ``one_pass``: ``wiber.api.batch.prepare_batch``.

It reports the median and the spread (min..max) of each, in µs per
batch and per item, and their ratio. ``tests/unit/test_wiber_api_batch.py``
checks that both give the same answers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from wiber.api.batch import prepare_batch
from wiber.api.bodies import check_header_key, parse_batch, validate_item
from wiber.api.errors import Detail, invalid
from wiber.api.limits import RouteLimits
from wiber.model import Message, encode_record
from wiber.settings import Settings


def per_item(raw: bytes, header_key: str | None, s: Settings) -> list[Message]:
    """The batch route's messages before the one-pass path (``_batch_messages``)."""
    body = parse_batch(raw, RouteLimits.of(s), s.max_batch)
    check_header_key(header_key, s)
    msgs: list[Message] = []
    problems: list[Detail] = []
    for i, item in enumerate(body.messages):
        hk = f"{header_key}:{i}" if header_key is not None else None
        if item.clientMessageId is not None:
            hk = None  # the item's own key wins over the derived one
        key, p = validate_item(item, hk, s, f"body.messages[{i}].")
        problems.extend(p)
        if not p:
            msgs.append(Message.new(item.fromUser, item.toUser, item.content, key))
    if problems:
        raise invalid(problems)
    return msgs


def per_item_records(raw: bytes, header_key: str | None, s: Settings) -> list[tuple[bytes, bytes]]:
    """``per_item`` up to the records ``produce`` handed the bridge."""
    return [
        (m.partition_key(s.partition_key), encode_record(m)) for m in per_item(raw, header_key, s)
    ]


def one_pass_records(raw: bytes, header_key: str | None, s: Settings) -> list[tuple[bytes, bytes]]:
    b = prepare_batch(raw, RouteLimits.of(s), s, header_key)
    return list(zip(b.partition_keys, b.values, strict=True))


def sample_body(items: int, content_bytes: int = 64) -> bytes:
    """A batch like the bench's: distinct senders and conversations, half with a clientMessageId."""
    msgs = []
    for i in range(items):
        m = {"fromUser": f"user{i % 97}", "toUser": f"peer{i % 89}", "content": "x" * content_bytes}
        if i % 2:
            m["clientMessageId"] = f"c-{i}"
        msgs.append(m)
    return orjson.dumps({"messages": msgs})


@dataclass(frozen=True)
class Timing:
    median_us: float
    min_us: float
    max_us: float


def measure(items: int = 1000, rounds: int = 30) -> dict[str, Timing]:
    """µs per batch of ``items`` for each path (see the module promise)."""
    s = Settings(max_batch=max(items, 1))
    raw = sample_body(items)
    paths: dict[str, Callable[[bytes, str | None, Settings], list[tuple[bytes, bytes]]]] = {
        "per_item": per_item_records,
        "one_pass": one_pass_records,
    }
    assert [k for k, _ in paths["per_item"](raw, "h", s)] == [
        k for k, _ in paths["one_pass"](raw, "h", s)
    ]
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, f in paths.items():
            t0 = time.perf_counter()
            f(raw, "h", s)
            samples[name].append((time.perf_counter() - t0) * 1e6)
    return {name: Timing(statistics.median(v), min(v), max(v)) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args(argv)
    res = measure(a.items, a.rounds)
    for name, t in res.items():
        print(
            f"{name:9s} {t.median_us / 1000:8.2f} ms per {a.items}-item batch "
            f"({t.min_us / 1000:.2f}..{t.max_us / 1000:.2f}), "
            f"{t.median_us / a.items:6.2f} µs per item"
        )
    print(f"one_pass / per_item: {res['one_pass'].median_us / res['per_item'].median_us:.3f}")


if __name__ == "__main__":
    main()
