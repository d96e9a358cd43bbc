"""The workload generator against the real Wiber API on the real local stack.

What only the real pipeline can show: the API accepts exactly what the
workload sends (no 4xx), the ``messageId`` it returns is the one derived from
sender and key, the store's ``conversationId`` equals the workload's
``value.conversation`` (the checkers group by it), and a duplicate-injection
resend gets the same ``messageId`` and leaves one stored copy. Each test uses
its own user names, so it shares the session's stack with other tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from wiber.model import derive_message_id
from wiber_harness.clock import Clock
from wiber_harness.cluster.local import LocalCluster
from wiber_harness.history import HistoryWriter, Op, pairs
from wiber_harness.workload import Workload, WorkloadConfig, conversation_pairs

pytestmark = pytest.mark.integration

READ_TIMEOUT_S = 120.0


def read_conversation(api: str, a: str, b: str) -> dict[str, Any]:
    docs: list[dict[str, Any]] = []
    after: str | None = None
    with httpx.Client(timeout=30) as c:
        while True:
            params: dict[str, Any] = {"limit": 500, **({"after": after} if after else {})}
            r = c.get(f"{api}/messages/{a}/{b}", params=params)
            assert r.status_code == 200, r.text
            j = r.json()
            docs.extend(j["messages"])
            after = j["nextCursor"]
            if not after:
                return {"conversationId": j["conversationId"], "messages": docs}


def run_workload(
    tmp: Path, cluster: LocalCluster, cfg: WorkloadConfig, resend: int
) -> tuple[Any, dict[str, Any], list[Op], Workload]:
    hist = HistoryWriter(tmp / "history.jsonl")
    wl = Workload(cfg, list(cluster.endpoints().apis), hist, Clock())

    async def go() -> tuple[Any, dict[str, Any]]:
        stats = await wl.run()
        return stats, await wl.retry_acknowledged(resend)

    stats, ev = asyncio.run(go())
    hist.close()
    return stats, ev, list(hist.ops), wl


def check_answers(stats: Any, ops: list[Op]) -> None:
    """The API accepted what the workload sent and answered with the ids the workload expects.

    Throughput is not asserted: the stack is shared and the machine small, so
    some sends may be skipped or time out; each one is still an op.
    """
    assert stats.sent + stats.skipped == stats.scheduled
    assert stats.ok > 0.5 * stats.sent, stats
    assert stats.client_errors == 0 and stats.conversation_mismatches == 0
    for inv, done in pairs(ops):
        assert done is not None
        status = done.value["status"]
        assert status is None or not 400 <= status < 500, done  # never a rejected request
        if done.type == "ok":
            assert done.value["messageId"] == derive_message_id(inv.value["from"], inv.value["key"])


def check_stored(cluster: LocalCluster, cfg: WorkloadConfig, ops: list[Op]) -> None:
    """Every acknowledged key readable once, in the conversation the workload named."""
    want: dict[str, dict[str, str]] = defaultdict(dict)  # conversation -> key -> messageId
    for inv, done in pairs(ops):
        assert done is not None
        if done.type == "ok":
            want[inv.value["conversation"]][inv.value["key"]] = done.value["messageId"]
    api = cluster.endpoints().api
    deadline = time.monotonic() + READ_TIMEOUT_S
    for a, b in conversation_pairs(cfg):
        while True:
            got = read_conversation(api, a, b)
            conv = got["conversationId"]
            keys = [d["clientMessageId"] for d in got["messages"]]
            if set(want[conv]) <= set(keys) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert set(want[conv]) <= set(keys), f"{conv}: acknowledged keys not readable"
        assert len(keys) == len(set(keys)), f"{conv}: a key stored twice"
        for d in got["messages"]:
            assert d["conversationId"] == conv
            assert d["messageId"] == want[conv][d["clientMessageId"]]


def test_single_sends_and_resends_on_the_real_api(cluster: LocalCluster, tmp_path: Path) -> None:
    p = f"w{uuid.uuid4().hex[:6]}-u"
    cfg = WorkloadConfig(rate=50.0, duration=4.0, conversations=10, run_id=f"{p}run", user_prefix=p)
    stats, ev, ops, _ = run_workload(tmp_path, cluster, cfg, resend=20)
    check_answers(stats, ops)
    assert ev["sent"] == 20 and ev["same_message_id"] == ev["acked"] > 0
    assert ev["different_message_id"] == 0
    check_stored(cluster, cfg, ops)


def test_batches_on_the_real_api(cluster: LocalCluster, tmp_path: Path) -> None:
    p = f"w{uuid.uuid4().hex[:6]}-u"
    cfg = WorkloadConfig(
        rate=100.0, duration=2.0, conversations=10, batch=10, run_id=f"{p}run", user_prefix=p
    )
    stats, ev, ops, _ = run_workload(tmp_path, cluster, cfg, resend=5)
    check_answers(stats, ops)
    assert stats.sent == stats.requests * 10
    assert ev["same_message_id"] == ev["acked"] > 0 and ev["different_message_id"] == 0
    check_stored(cluster, cfg, ops)
