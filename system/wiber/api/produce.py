"""One message into Kafka, and the (status, body) its outcome is answered with.

Promise (the statuses of ``wiber.api``): 201 with the stored shape and the
Kafka position only after the broker's acknowledgement; 503 when the
record surely did not reach Kafka (a failpoint ``raise`` before the
produce, or the bridge's ``NotSent``); 504 when the outcome is unknown.
Each outcome is counted in ``wiber_api_produce_outcomes_total``, each
produce timed in ``wiber_api_produce_seconds`` and counted in flight.
``produce_batch`` answers each item of a batch the same way, from one
``send_batch`` call (each item timed as the whole batch's produce).
"""

from __future__ import annotations

import time
from typing import Any

from wiber import failpoints
from wiber.api.batch import PreparedBatch
from wiber.api.runtime import BatchSender, Runtime
from wiber.metrics import (
    API_INFLIGHT,
    API_PRODUCE_OUTCOMES,
    API_PRODUCE_SECONDS,
    observe_many,
)
from wiber.model import Message, encode_record
from wiber.producer import Delivered, NotSent, OutcomeUnknown

RETRY_AFTER_S = "1"
# Each outcome's counter, looked up once (labels() takes a lock and a dict per call).
_OUTCOME = {k: API_PRODUCE_OUTCOMES.labels(k) for k in ("acked", "not_sent", "unknown")}


async def produce(rt: Runtime, msg: Message, deadline: float) -> tuple[int, dict[str, Any]]:
    """Send one message; (status, body) as the module docstring defines them."""
    s = rt.settings
    try:
        await failpoints.ahit("api.before_produce")
    except failpoints.FailpointError as e:
        _OUTCOME["not_sent"].inc()
        return 503, _not_sent_body(msg, str(e))
    t0 = time.perf_counter()
    API_INFLIGHT.inc()
    try:
        d = await rt.bridge.send(
            s.topic,
            msg.partition_key(s.partition_key),
            encode_record(msg),
            deadline - time.monotonic(),
        )
    except NotSent as e:
        _OUTCOME["not_sent"].inc()
        return 503, _not_sent_body(msg, str(e))
    except OutcomeUnknown as e:
        _OUTCOME["unknown"].inc()
        return 504, {
            "error": "outcome_unknown",
            "message": f"{e}; the message may or may not be stored: retry with the same "
            "Idempotency-Key (or clientMessageId) to get the same messageId and one stored copy",
            "messageId": msg.messageId,
        }
    finally:
        API_INFLIGHT.dec()
        API_PRODUCE_SECONDS.observe(time.perf_counter() - t0)
    _OUTCOME["acked"].inc()
    await failpoints.ahit("api.after_ack_before_response")
    body = msg.to_dict()
    del body["producedAtNs"]
    body["partition"] = d.partition
    body["offset"] = d.offset
    return 201, body


async def produce_batch(
    rt: Runtime, sender: BatchSender, batch: PreparedBatch, deadline: float
) -> list[tuple[int, dict[str, Any]]]:
    """Send a batch's records in one call; each item's (status, body), as ``produce`` has it.

    For a batch no failpoint of the API is armed for (the route checks): the
    per-item work of ``produce`` is done once per batch (metrics included),
    and each item's outcome comes from its own delivery report.
    """
    s = rt.settings
    n = len(batch)
    t0 = time.perf_counter()
    API_INFLIGHT.inc(n)
    try:
        outcomes = await sender.send_batch(
            s.topic,
            list(zip(batch.partition_keys, batch.values, strict=True)),
            deadline - time.monotonic(),
        )
    finally:
        API_INFLIGHT.dec(n)
        observe_many(API_PRODUCE_SECONDS, time.perf_counter() - t0, n)
    out: list[tuple[int, dict[str, Any]]] = []
    counts = {"acked": 0, "not_sent": 0, "unknown": 0}
    for i, d in enumerate(outcomes):
        mid = batch.message_ids[i]
        if isinstance(d, Delivered):
            counts["acked"] += 1
            body = batch.stored(i)
            body["partition"] = d.partition
            body["offset"] = d.offset
            out.append((201, body))
        elif isinstance(d, NotSent):
            counts["not_sent"] += 1
            out.append((503, _not_sent_body_of(mid, str(d))))
        else:
            counts["unknown"] += 1
            out.append((504, _unknown_body(mid, d)))
    for outcome, k in counts.items():
        if k:
            _OUTCOME[outcome].inc(k)
    return out


def _unknown_body(message_id: str, e: OutcomeUnknown) -> dict[str, Any]:
    return {
        "error": "outcome_unknown",
        "message": f"{e}; the message may or may not be stored: retry with the same "
        "Idempotency-Key (or clientMessageId) to get the same messageId and one stored copy",
        "messageId": message_id,
    }


def _not_sent_body_of(message_id: str, why: str) -> dict[str, Any]:
    return {
        "error": "not_sent",
        "message": f"{why}; nothing was written, retry later",
        "messageId": message_id,
    }


def _not_sent_body(msg: Message, why: str) -> dict[str, Any]:
    return {
        "error": "not_sent",
        "message": f"{why}; nothing was written, retry later",
        "messageId": msg.messageId,
    }


__all__ = ["RETRY_AFTER_S", "produce", "produce_batch"]
