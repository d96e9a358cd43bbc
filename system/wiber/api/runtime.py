"""What one API process holds between requests, and the lifespan that builds it.

Promises:

* ``lifespan`` loads the settings (or takes the ones ``create_app`` was
  given), sets up logging and failpoints, starts the Kafka bridge and opens
  the store, and puts the ``Runtime`` on ``app.state.rt``; at shutdown it
  closes what it opened itself (never a part it was given) and drops the
  store thread pool. Bad settings or a bad failpoint spec end the process
  with one sentence on stderr and exit code 2.
* The Runtime also holds the per-route body caps (``RouteLimits``) and the
  process's ``BodyBudget``, both derived from the settings.
* The routes depend only on the ``ProducerBridge`` and ``ConversationStore``
  protocols, which ``wiber.producer.KafkaBridge`` and ``wiber.store.Store``
  satisfy, and so do the unit tests' fakes. A bridge that is also a
  ``BatchSender`` (``KafkaBridge``) is ``Runtime.batch_sender``; the batch
  route sends item by item through ``send`` when there is none.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol, runtime_checkable

from fastapi import FastAPI, Request

from wiber import failpoints
from wiber.api.limits import BodyBudget, RouteLimits
from wiber.logs import setup_logging
from wiber.producer import Delivered, KafkaBridge, NotSent, OutcomeUnknown
from wiber.settings import Settings, SettingsError, load_settings
from wiber.store import Store

log = logging.getLogger("wiber.api")


class ProducerBridge(Protocol):
    """The producer side the routes use (``wiber.producer.KafkaBridge``)."""

    @property
    def ready(self) -> bool:
        """False while the producer is not running (readiness skips Kafka then)."""
        ...

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float, /) -> Delivered:
        """Delivered after the broker's acknowledgement; raises NotSent or OutcomeUnknown."""
        ...

    def check_metadata(self, topic: str, timeout_s: float, /) -> str | None:
        """Blocking: None when every partition of ``topic`` has a leader, else why not."""
        ...


@runtime_checkable
class BatchSender(Protocol):
    """A bridge that sends a batch in one call (``KafkaBridge.send_batch``); optional."""

    async def send_batch(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], timeout_s: float, /
    ) -> list[Delivered | NotSent | OutcomeUnknown]:
        """Each record's outcome, in order, as ``send`` has it (never raises them)."""
        ...


class ConversationStore(Protocol):
    """The store side the routes use (``wiber.store.Store``); both calls block."""

    def read_conversation(
        self, conversation: str, after: tuple[int, int] | None, limit: int, timeout_s: float, /
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` documents of one conversation after ``after``, in log order."""
        ...

    def ping(self, timeout_s: float, /) -> str | None:
        """None when the store answers in time, else why not."""
        ...


@dataclass
class Runtime:
    """What one API process holds between requests."""

    settings: Settings
    bridge: ProducerBridge
    store: ConversationStore
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="store")
    )
    limits: RouteLimits = field(init=False)
    budget: BodyBudget = field(init=False)
    batch_sender: BatchSender | None = field(init=False)

    def __post_init__(self) -> None:
        self.limits = RouteLimits.of(self.settings)
        self.budget = BodyBudget(self.settings.api_body_budget_bytes)
        b = self.bridge
        self.batch_sender = b if isinstance(b, BatchSender) else None


@dataclass(frozen=True)
class Given:
    """What ``create_app`` was given instead of the real parts (unit tests only)."""

    settings: Settings | None = None
    bridge: ProducerBridge | None = None
    store: ConversationStore | None = None


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the Runtime (see the module promises), serve, then close what was opened."""
    given: Given = app.state.given
    s = _settings(given)
    _configure_process(s)
    bridge: ProducerBridge
    own_bridge: KafkaBridge | None = None
    if given.bridge is None:
        bridge = own_bridge = KafkaBridge(s)
        own_bridge.start()
    else:
        bridge = given.bridge
    store: ConversationStore
    own_store: Store | None = None
    if given.store is None:
        store = own_store = Store(s, app_name="wiber-api")
    else:
        store = given.store
    rt = Runtime(s, bridge, store)
    app.state.rt = rt
    log.info("API ready: topic=%s bootstrap=%s", s.topic, s.kafka_bootstrap)
    try:
        yield
    finally:
        if own_bridge is not None:
            await own_bridge.close()
        if own_store is not None:
            own_store.close()
        rt.pool.shutdown(wait=False, cancel_futures=True)


def _settings(given: Given) -> Settings:
    try:
        return given.settings if given.settings is not None else load_settings()
    except SettingsError as e:
        _die(f"wiber.api: {e}")


def _configure_process(s: Settings) -> None:
    """Logging, the access log switch, unsafe-setting warnings and failpoints."""
    setup_logging(s.log_format, s.log_level, "api")
    logging.getLogger("uvicorn.access").disabled = not s.api_access_log
    for w in s.unsafe_warnings():
        log.warning(w)
    try:
        failpoints.configure(s.failpoints, s.failpoints_file)
    except failpoints.FailpointSpecError as e:
        _die(f"wiber.api: WIBER_FAILPOINTS: {e}")


def _die(sentence: str) -> NoReturn:
    # Under uvicorn a startup exception becomes a traceback and exit 3; one
    # sentence and exit 2 is what an operator needs, and nothing is running yet.
    print(sentence, file=sys.stderr, flush=True)
    os._exit(2)


__all__ = [
    "BatchSender",
    "ConversationStore",
    "Given",
    "ProducerBridge",
    "Runtime",
    "lifespan",
    "runtime_of",
]
