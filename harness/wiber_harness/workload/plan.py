"""What the workload sends, when, and what each answer means (pure data, no I/O).

* **Plan.** Users, conversations and each message's direction come from the
  seed alone. Conversation ``i`` is the pair (``u{2i}``, ``u{2i+1}``) (the
  prefix is ``WorkloadConfig.user_prefix``); each scheduled message picks a
  conversation uniformly and a direction by a coin flip from
  ``random.Random(seed)``. The same seed gives the same plan whatever the
  server answers.
* **Schedule.** Message ``n`` is *intended* at offset ``n / rate`` from the
  workload's start (uniform spacing, the default: the same load every run
  and easy to read in plots), or at Poisson arrival times
  (``arrivals="poisson"``, drawn from a second seeded stream so the messages
  themselves stay the same). The plan holds every message with ``offset <
  duration``: ``ceil(rate * duration)`` of them when uniform.
* **Identity.** Each sender numbers its sends 1, 2, 3 ... (``seq``) in the
  order they are sent; the idempotency key is ``f"{run_id}-{sender}-{seq}"``,
  sent as the ``Idempotency-Key`` header and as ``clientMessageId`` (names
  from :class:`ApiProfile`). The content carries sender and seq (``"u3#17
  "``) padded with ``.`` to ``payload_size`` bytes (ASCII; longer only when
  sender and seq need more), and the message's unique *tag*
  (:mod:`wiber_harness.workload.tag`) where ``ApiProfile.tag`` puts it, so
  a stored message can be matched to its send without any key the
  pipeline would have to keep.
* **Conversation id.** ``value.conversation`` is
  :func:`wiber.model.conversation_id` of the two users (``"u2:u3"``: sorted,
  joined by ``:``), exactly what Wiber stores as ``conversationId``. The
  checkers use it only as an opaque grouping key that must equal the
  store's conversation field; for another pipeline the runner normalises
  the store's value.
* **Classification** (:func:`classify_status`): a status in
  ``ok_statuses`` (201) is ``ok``; any 4xx or a status in
  ``not_sent_statuses`` (503) is ``fail`` (surely did not happen);
  everything else (504, other 5xx, unexpected 2xx/3xx) is ``info``.
* **Profile.** :class:`ApiProfile` holds every route, field and header name
  and the status meanings, so another team's pipeline can be driven by
  changing data, not code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from wiber_harness.errors import WorkloadError
from wiber_harness.history import OpType

NS = 1_000_000_000


@dataclass(frozen=True)
class WorkloadConfig:
    """Knobs of one run's load (mirrors the scenario's ``workload`` block)."""

    rate: float  # messages/s (open loop)
    duration: float  # seconds
    conversations: int = 50
    payload_size: int = 64  # bytes of content
    concurrency: int = 256  # max requests in flight; a send due beyond it is skipped (counted)
    seed: int = 1
    batch: int = 0  # 0: one POST per message; N: POST /messages/batch with N messages
    request_timeout: float = 10.0
    run_id: str = "run"  # prefix of idempotency keys, unique per run
    arrivals: Literal["uniform", "poisson"] = "uniform"
    user_prefix: str = "u"

    def __post_init__(self) -> None:
        problems = []
        if not (self.rate > 0 and math.isfinite(self.rate)):
            problems.append(f"rate must be > 0 (got {self.rate})")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            problems.append(f"duration must be > 0 (got {self.duration})")
        for name in ("conversations", "payload_size", "concurrency"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.batch < 0:
            problems.append(f"batch must be >= 0 (got {self.batch})")
        if not self.request_timeout > 0:
            problems.append(f"request_timeout must be > 0 (got {self.request_timeout})")
        if not self.run_id or not self.run_id.isprintable():
            problems.append(f"run_id must be non-empty printable text (got {self.run_id!r})")
        if self.arrivals not in ("uniform", "poisson"):
            problems.append(f"arrivals must be 'uniform' or 'poisson' (got {self.arrivals!r})")
        if problems:
            raise WorkloadError("workload config: " + "; ".join(problems))


@dataclass(frozen=True)
class ApiProfile:
    """Routes, field names and status meanings of the API under test (defaults: Wiber)."""

    send_route: str = "/messages"
    batch_route: str = "/messages/batch"
    from_field: str = "fromUser"
    to_field: str = "toUser"
    content_field: str = "content"
    key_field: str | None = "clientMessageId"  # None: the key goes only in the header
    key_header: str | None = "Idempotency-Key"  # None: the key goes only in the body
    message_id_field: str = "messageId"
    conversation_field: str | None = "conversationId"  # None: not checked in answers
    # the Kafka position an ok answer names (recorded in the completion; the
    # delivery checker compares it with the stored message's); None: not given
    partition_field: str | None = "partition"
    offset_field: str | None = "offset"
    batch_field: str = "messages"  # request body field holding the items
    results_field: str = "results"  # response body field holding per-item results
    result_index_field: str = "index"  # absent in a result: results are in item order
    result_status_field: str = "status"
    ok_statuses: frozenset[int] = frozenset({201})
    not_sent_statuses: frozenset[int] = frozenset({503})  # 5xx that promise nothing happened
    multi_status: int = 207  # batch answer with per-item results that are not all ok
    max_key_len: int = 200  # longest idempotency key the API accepts (WIBER_MAX_KEY_LEN)
    # where each message's unique tag goes (wiber_harness.workload.tag): "prefix" or
    # "suffix" of the content, "field" (its own body field, tag_field), None: nowhere
    tag: str | None = "prefix"
    tag_field: str = "tag"


@dataclass(frozen=True, slots=True)
class Planned:
    """One scheduled message: its index, intended offset from the workload start, direction."""

    n: int
    offset_ns: int
    sender: str
    recipient: str


def conversation_pairs(cfg: WorkloadConfig) -> list[tuple[str, str]]:
    """Conversation ``i`` is (``{prefix}{2i}``, ``{prefix}{2i+1}``)."""
    p = cfg.user_prefix
    return [(f"{p}{2 * i}", f"{p}{2 * i + 1}") for i in range(cfg.conversations)]


def plan(cfg: WorkloadConfig) -> Iterator[Planned]:
    """The schedule: every message with ``offset < duration``, lazily, from the seed alone."""
    pairs = conversation_pairs(cfg)
    pick = random.Random(cfg.seed)
    # a second stream, so Poisson and uniform runs send the same messages
    gaps = random.Random(f"{cfg.seed}/arrivals")
    end = int(cfg.duration * NS)
    t = 0.0
    n = 0
    while True:
        off = int(n * NS / cfg.rate) if cfg.arrivals == "uniform" else int(t)
        if off >= end:
            return
        a, b = pairs[pick.randrange(len(pairs))]
        yield Planned(n, off, *((a, b) if pick.random() < 0.5 else (b, a)))
        n += 1
        if cfg.arrivals == "poisson":
            t += gaps.expovariate(cfg.rate) * NS


def content_for(sender: str, seq: int, size: int) -> str:
    """Sender and seq, padded with ``.`` to ``size`` ASCII bytes."""
    head = f"{sender}#{seq} "
    return head + "." * (size - len(head)) if len(head) < size else head


def classify_status(status: int, profile: ApiProfile = ApiProfile()) -> OpType:
    """``ok``, ``fail`` (surely did not happen) or ``info`` (unknown) for an HTTP status."""
    if status in profile.ok_statuses:
        return "ok"
    if 400 <= status < 500 or status in profile.not_sent_statuses:
        return "fail"
    return "info"


@dataclass(frozen=True)
class WorkloadStats:
    """What one run of the generator did (the ops themselves are in the history).

    ``scheduled`` (reached by the schedule) ``== sent + skipped``;
    ``skipped_late``: of ``skipped``, those the generator reached more than
    ``request_timeout`` after their intended time (the rest hit the
    concurrency bound); ``ok``,
    ``fail``, ``info`` count completions of sends and resends; ``resent``:
    duplicate-injection resends; ``requests``: scheduled HTTP requests (one
    per batch). ``launch_lag_*``: how late requests left against their
    intended time (a batch's: its last message's, when the request was due;
    the generator's own health: a big lag means the client,
    not the system, fell behind). ``achieved_rate``: sends per second over
    the schedule's real span (``duration``, or longer when the last send left
    late, or shorter when stopped). ``skipped_by_second``: run-clock second
    of the intended time -> sends skipped at the concurrency bound.
    ``client_errors``: send tasks that died of a harness bug (each of their
    ops completed ``info``); ``conversation_mismatches``: ``ok`` answers
    naming another conversation than ``value.conversation``.
    """

    scheduled: int
    sent: int
    skipped: int
    skipped_late: int
    ok: int
    fail: int
    info: int
    resent: int
    requests: int
    client_errors: int
    conversation_mismatches: int
    stopped_early: bool
    elapsed_s: float
    achieved_rate: float
    launch_lag_p99_ms: float
    launch_lag_max_ms: float
    skipped_by_second: dict[int, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = [
    "ApiProfile",
    "Planned",
    "WorkloadConfig",
    "WorkloadStats",
    "classify_status",
    "content_for",
    "conversation_pairs",
    "plan",
]
