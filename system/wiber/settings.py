"""Settings of the Wiber pipeline, read from ``WIBER_*`` environment variables.

Every knob is a field below; its env name is ``WIBER_`` + the field name in
upper case (``kafka_bootstrap`` -> ``WIBER_KAFKA_BOOTSTRAP``). The harness
depends on these exact names.

Promises:

* ``load_settings()`` either returns a consistent ``Settings`` or raises
  ``SettingsError`` whose message is one sentence naming the variable and
  the fix (``python -m wiber.api`` / ``python -m wiber.consumer`` print it
  and exit 2).
* Unsafe values (each breaks one of the pipeline's promises) are allowed,
  because the harness runs them on purpose to prove its checkers catch the
  breakage; ``unsafe_warnings()`` lists them and both processes log each as
  ``UNSAFE setting ...`` at start. :data:`UNSAFE_VALUES` names them as data.
* The producer's delivery timeout is bounded below the request timeout, so
  an API request never outlives the Kafka write it waits for.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "WIBER_"

# The settings a test harness may change per run to exercise the pipeline
# (field names, in field order). The others are deployment plumbing
# (addresses, ports, names, read buckets, logs, failpoints) that whoever
# starts the processes sets.
TUNABLE: tuple[str, ...] = (
    "producer_acks",
    "producer_idempotence",
    "producer_linger_ms",
    "producer_batch_messages",
    "producer_compression",
    "producer_delivery_timeout_ms",
    "producer_queue_max_messages",
    "request_timeout_s",
    "consumer_batch_size",
    "consumer_batch_timeout_ms",
    "consumer_commit_mode",
    "consumer_commit_interval_ms",
    "consumer_on_store_error",
    "consumer_session_timeout_ms",
    "consumer_max_poll_interval_ms",
    "consumer_retry_max_backoff_ms",
    "store_unique_index",
    "store_timeout_ms",
    "partition_key",
    "max_batch",
    "max_content_bytes",
)

# The values that break one of the pipeline's promises on purpose, by field,
# written as in the environment (lower case): exactly the values for which
# Settings.unsafe_warnings() warns.
UNSAFE_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "producer_acks": ("1", "0"),
        "producer_idempotence": ("false",),
        "consumer_commit_mode": ("auto",),
        "consumer_on_store_error": ("skip",),
        "store_unique_index": ("false",),
        "partition_key": ("direction",),
    }
)


class SettingsError(ValueError):
    """A setting is invalid or conflicts with another; the message says which and the fix."""


def _default_consumer_id() -> str:
    return f"consumer-{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """All knobs of the API and the consumer (one model: both read the same env)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore", frozen=True
    )

    # --- Kafka -----------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated (host:port)."
    )
    topic: str = Field("wiber.messages", description="Topic the API writes and consumers read.")
    dlq_topic: str = Field(
        "wiber.messages.dlq", description="Dead-letter topic for records the consumer cannot parse."
    )
    group: str = Field("wiber-consumers", description="Consumer group id.")
    topic_partitions: int = Field(
        6, ge=1, description="Partitions used when the consumer has to create a missing topic."
    )
    topic_replication: int = Field(
        3, ge=1, description="Replication factor used when the consumer creates a missing topic."
    )
    topic_min_insync_replicas: int = Field(
        2, ge=1, description="min.insync.replicas set on topics the consumer creates."
    )

    # --- producer (API) ----------------------------------------------------
    producer_acks: Literal["all", "1", "0"] = Field(
        "all", description="Producer acks. 'all' is safe; '1' and '0' lose acknowledged writes."
    )
    producer_idempotence: bool = Field(
        True, description="enable.idempotence; must be false when acks is not 'all'."
    )
    producer_linger_ms: int = Field(
        20,
        ge=0,
        le=1000,
        description="linger.ms: how long the producer waits to fill a batch. 20 ms, not "
        "librdkafka's 5: with 5, batch requests of 50 made a produce request per broker "
        "every few ms, and librdkafka's broker threads and the three brokers spent 0.4 and "
        "0.8 cores on them at 5,000 msgs/s (0.03 and 0.6 with 20); a lone message waits "
        "up to the linger for its acknowledgement.",
    )
    producer_batch_messages: int = Field(
        10000, ge=1, description="batch.num.messages: most records in one produce request."
    )
    producer_compression: Literal["none", "lz4", "snappy", "zstd", "gzip"] = Field(
        "lz4", description="compression.type for produce batches."
    )
    producer_delivery_timeout_ms: int = Field(
        9000,
        ge=1000,
        description="delivery.timeout.ms: how long librdkafka tries to deliver a record; "
        "must be below WIBER_REQUEST_TIMEOUT_S so an answer is always given in time. "
        "9 s outlasts a leader failover (6 s broker session timeout plus the election), "
        "so a request sent as its leader dies is answered 201, not 504.",
    )
    producer_queue_max_messages: int = Field(
        100_000, ge=1, description="queue.buffering.max.messages; a full queue answers 503."
    )
    request_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Upper bound on the time any API request takes."
    )

    # --- consumer ----------------------------------------------------------
    consumer_batch_size: int = Field(500, ge=1, le=100_000, description="Most records per batch.")
    consumer_batch_timeout_ms: int = Field(
        100,
        ge=1,
        le=60_000,
        description="Longest wait for the first record of a batch; a batch is stored as soon "
        "as records are there, with whatever the client already fetched (up to the batch size).",
    )
    consumer_commit_mode: Literal["after_store", "auto"] = Field(
        "after_store",
        description="after_store: commit synchronously after the batch is stored (safe); "
        "auto: librdkafka auto-commit (unsafe: commits records not yet stored).",
    )
    consumer_commit_interval_ms: int = Field(
        1000,
        ge=0,
        le=60_000,
        description="after_store mode: commit the stored offsets after a batch only when this "
        "long has passed since the last commit (0: after every batch). The stored offsets are "
        "also committed whenever a poll finds nothing, before a partition is revoked and at "
        "shutdown. Safe at any value: only stored records are committed; a crash redelivers "
        "up to this long of stored records, which the unique messageId index absorbs.",
    )
    consumer_on_store_error: Literal["retry", "skip"] = Field(
        "retry",
        description="retry: retry the store write with backoff, never commit past it (safe); "
        "skip: log and commit past a failed write (unsafe: loses messages).",
    )
    consumer_session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description="session.timeout.ms: how fast a dead consumer's partitions move.",
    )
    consumer_max_poll_interval_ms: int = Field(
        300_000, ge=1000, description="max.poll.interval.ms of the consumer."
    )
    consumer_retry_max_backoff_ms: int = Field(
        2000, ge=10, description="Cap of the exponential backoff between store retries."
    )
    consumer_id: str = Field(
        default_factory=_default_consumer_id,
        description="Name of this consumer in logs, metrics and the delivery log.",
    )
    metrics_port: int = Field(
        9108, ge=0, le=65535, description="Consumer's Prometheus port (0: no metrics server)."
    )
    metrics_host: str = Field("127.0.0.1", description="Address the consumer's metrics bind to.")
    delivery_log: Path | None = Field(
        None, description="Path of the consumer's JSON-lines delivery log; off when unset."
    )

    # --- store ---------------------------------------------------------------
    store_uri: str = Field("mongodb://127.0.0.1:27017/", description="MongoDB URI of the store.")
    store_db: str = Field("wiber", description="Database of the store.")
    store_collection: str = Field("messages", description="Collection messages are stored in.")
    store_unique_index: bool = Field(
        True, description="Unique index on messageId (false is unsafe: duplicates get stored)."
    )
    store_read_buckets: int | Literal["auto"] = Field(
        "auto",
        description="Store layout (one write per message). 0: every message goes into the "
        "messages collection, read by its (conversationId, partition, offset) index (right for "
        "mongod); N > 0: each message goes only into one of N bucket collections "
        "('<collection>_read_NNN', by a hash of its conversation), each with the same unique "
        "and order indexes, and a read scans only that bucket (FerretDB's SQLite backend "
        "cannot use secondary indexes, so a read of one collection would scan every message); "
        "auto: 8 on FerretDB, 0 otherwise.",
    )
    store_timeout_ms: int = Field(
        5000, ge=100, description="Server selection and socket timeout of store operations."
    )

    # --- partitioning ----------------------------------------------------------
    partition_key: Literal["conversation", "direction"] = Field(
        "conversation",
        description="conversation: key = canonical conversation id (safe); direction: key = "
        "fromUser->toUser (unsafe: one conversation spans partitions, order breaks).",
    )

    # --- API -----------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Bind address of `python -m wiber.api`.")
    api_port: int = Field(8080, ge=0, le=65535, description="Port of `python -m wiber.api`.")
    api_access_log: bool = Field(False, description="Keep uvicorn's per-request access log.")
    debug_endpoints: bool = Field(False, description="Serve PUT/GET /debug/failpoints.")
    api_docs: bool = Field(
        False, description="Serve /openapi.json, /docs and /redoc (off: they answer 404)."
    )
    api_body_budget_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        le=1 << 34,
        description="Most request-body bytes the API holds at once, over all requests; a body "
        "that does not fit waits (up to WIBER_REQUEST_TIMEOUT_S, then 503). No route accepts "
        "a body larger than this.",
    )
    max_batch: int = Field(100, ge=1, le=10_000, description="Most messages in one batch POST.")
    max_content_bytes: int = Field(
        65_536, ge=1, le=900_000, description="Largest message content, in UTF-8 bytes."
    )
    max_user_len: int = Field(64, ge=1, le=1024, description="Longest user name, in characters.")
    max_key_len: int = Field(200, ge=1, le=4096, description="Longest idempotency key.")
    read_max_limit: int = Field(1000, ge=1, description="Largest `limit` of a conversation read.")
    read_default_limit: int = Field(100, ge=1, description="`limit` of a read that names none.")

    # --- failpoints and logs -------------------------------------------------------
    failpoints: str = Field("", description="Failpoint spec, e.g. 'consumer.before_store=crash@3'.")
    failpoints_file: Path | None = Field(
        None, description="File holding a failpoint spec; re-read when its mtime changes."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.producer_acks != "all" and self.producer_idempotence:
            raise ValueError(
                f"WIBER_PRODUCER_ACKS={self.producer_acks} needs WIBER_PRODUCER_IDEMPOTENCE=false, "
                "because librdkafka's idempotent producer only works with acks=all"
            )
        if self.producer_delivery_timeout_ms >= self.request_timeout_s * 1000:
            raise ValueError(
                f"WIBER_PRODUCER_DELIVERY_TIMEOUT_MS={self.producer_delivery_timeout_ms} must be "
                f"below WIBER_REQUEST_TIMEOUT_S={self.request_timeout_s} (in ms), or requests "
                "would time out before Kafka answers"
            )
        if self.producer_linger_ms >= self.producer_delivery_timeout_ms:
            raise ValueError(
                "WIBER_PRODUCER_LINGER_MS must be below WIBER_PRODUCER_DELIVERY_TIMEOUT_MS"
            )
        if self.read_default_limit > self.read_max_limit:
            raise ValueError("WIBER_READ_DEFAULT_LIMIT must not exceed WIBER_READ_MAX_LIMIT")
        if isinstance(self.store_read_buckets, int) and not 0 <= self.store_read_buckets <= 4096:
            raise ValueError("WIBER_STORE_READ_BUCKETS must be auto or 0 to 4096")
        if self.dlq_topic == self.topic:
            raise ValueError("WIBER_DLQ_TOPIC must differ from WIBER_TOPIC")
        return self

    def unsafe_warnings(self) -> list[str]:
        """One line per setting that breaks a promise (logged as ``UNSAFE setting ...``)."""
        out: list[str] = []
        if self.producer_acks != "all":
            out.append(
                f"UNSAFE setting WIBER_PRODUCER_ACKS={self.producer_acks}: "
                "an acknowledged message can be lost when a broker fails"
            )
        if not self.producer_idempotence:
            out.append(
                "UNSAFE setting WIBER_PRODUCER_IDEMPOTENCE=false: "
                "producer retries can write a record twice or out of order"
            )
        if self.consumer_commit_mode == "auto":
            out.append(
                "UNSAFE setting WIBER_CONSUMER_COMMIT_MODE=auto: "
                "offsets are committed before records are stored; a crash loses them"
            )
        if self.consumer_on_store_error == "skip":
            out.append(
                "UNSAFE setting WIBER_CONSUMER_ON_STORE_ERROR=skip: "
                "records whose store write failed are committed past and lost"
            )
        if not self.store_unique_index:
            out.append(
                "UNSAFE setting WIBER_STORE_UNIQUE_INDEX=false: "
                "redelivered records are stored twice"
            )
        if self.partition_key == "direction":
            out.append(
                "UNSAFE setting WIBER_PARTITION_KEY=direction: "
                "a conversation spans two partitions and loses its order"
            )
        return out


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (``overrides`` win); SettingsError on bad input."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        raise SettingsError(describe_validation_error(e)) from None


def describe_validation_error(e: ValidationError) -> str:
    """One sentence per problem, naming the WIBER_ variable."""
    parts: list[str] = []
    for err in e.errors():
        loc = [str(x) for x in err.get("loc", ()) if x != "__root__"]
        msg = str(err.get("msg", "invalid value"))
        msg = msg.removeprefix("Value error, ")
        if loc:
            name = ENV_PREFIX + loc[0].upper()
            got = err.get("input")
            parts.append(f"{name}={got!s}: {msg}")
        else:
            parts.append(msg)
    return "invalid Wiber settings: " + "; ".join(parts)


__all__ = [
    "ENV_PREFIX",
    "TUNABLE",
    "UNSAFE_VALUES",
    "Settings",
    "SettingsError",
    "describe_validation_error",
    "load_settings",
]
