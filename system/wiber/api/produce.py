"""One message into Kafka, and the (status, body) its outcome is answered with.

Promise (the statuses of ``wiber.api``): 201 with the stored shape and the
Kafka position only after the broker's acknowledgement; 503 when the
record surely did not reach Kafka (a failpoint ``raise`` before the
produce, or the bridge's ``NotSent``); 504 when the outcome is unknown.
Each outcome is counted in ``wiber_api_produce_outcomes_total``, each
produce timed in ``wiber_api_produce_seconds`` and counted in flight.
"""

from __future__ import annotations

import time
from typing import Any

from wiber import failpoints
from wiber.api.runtime import Runtime
from wiber.metrics import API_INFLIGHT, API_PRODUCE_OUTCOMES, API_PRODUCE_SECONDS
from wiber.model import Message, encode_record
from wiber.producer import NotSent, OutcomeUnknown

RETRY_AFTER_S = "1"


async def produce(rt: Runtime, msg: Message, deadline: float) -> tuple[int, dict[str, Any]]:
    """Send one message; (status, body) as the module docstring defines them."""
    s = rt.settings
    try:
        await failpoints.ahit("api.before_produce")
    except failpoints.FailpointError as e:
        API_PRODUCE_OUTCOMES.labels("not_sent").inc()
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
        API_PRODUCE_OUTCOMES.labels("not_sent").inc()
        return 503, _not_sent_body(msg, str(e))
    except OutcomeUnknown as e:
        API_PRODUCE_OUTCOMES.labels("unknown").inc()
        return 504, {
            "error": "outcome_unknown",
            "message": f"{e}; the message may or may not be stored: retry with the same "
            "Idempotency-Key (or clientMessageId) to get the same messageId and one stored copy",
            "messageId": msg.messageId,
        }
    finally:
        API_INFLIGHT.dec()
        API_PRODUCE_SECONDS.observe(time.perf_counter() - t0)
    API_PRODUCE_OUTCOMES.labels("acked").inc()
    await failpoints.ahit("api.after_ack_before_response")
    body = msg.to_dict()
    del body["producedAtNs"]
    body["partition"] = d.partition
    body["offset"] = d.offset
    return 201, body


def _not_sent_body(msg: Message, why: str) -> dict[str, Any]:
    return {
        "error": "not_sent",
        "message": f"{why}; nothing was written, retry later",
        "messageId": msg.messageId,
    }


__all__ = ["RETRY_AFTER_S", "produce"]
