"""Final reads: what the harness observed of the system after the run.

Taken after every fault is healed and the pipeline drained, over direct
(never proxied) connections. Together with the history they are everything
the checkers see, so a run can be re-checked offline from the run folder
(``final_reads.json``).

Field names are normalised here from the system profile's own names, so
checkers never depend on how a pipeline names its documents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from wiber_harness.errors import CheckerError

SCHEMA = "wiber-final-reads/1"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One document found in the store.

    ``key`` is the idempotency key the workload sent (None if the document
    carries none: then it was never sent by this harness). ``stored_at`` is
    run-relative ns (may be negative or None when unknown).
    """

    message_id: str
    key: str | None
    conversation: str | None
    sender: str | None
    partition: int | None
    offset: int | None
    stored_at: int | None


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One line of a consumer's delivery log (one record handled)."""

    consumer: str
    partition: int
    offset: int
    message_id: str | None
    time: int | None
    outcome: str  # stored | duplicate | dlq | failed


@dataclass(slots=True)
class FinalReads:
    """Everything read at the end of a run.

    * ``store``: every document of the messages collection;
    * ``api``: per conversation id, the messageIds in the order the API's
      GET returned them (all pages); ``api_errors`` per conversation whose
      read failed;
    * ``delivery``: the consumers' delivery logs;
    * ``end_offsets``: the topic's end offset per partition;
    * ``drained``: whether lag reached 0 and every acknowledged message was
      readable within the bound; ``drain_s`` how long that took (from the
      start of the end phase);
    * ``healed_at``: run-relative ns when the last fault was healed (None if
      the scenario had none).
    """

    store: list[StoredRecord] = field(default_factory=list)
    api: dict[str, list[str]] = field(default_factory=dict)
    api_errors: dict[str, str] = field(default_factory=dict)
    delivery: list[DeliveryEvent] = field(default_factory=list)
    end_offsets: dict[int, int] = field(default_factory=dict)
    drained: bool = True
    drain_s: float | None = None
    healed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["end_offsets"] = {str(k): v for k, v in self.end_offsets.items()}
        return orjson.dumps(d, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FinalReads:
        return cls(
            store=[StoredRecord(**r) for r in d.get("store", [])],
            api={k: list(v) for k, v in d.get("api", {}).items()},
            api_errors=dict(d.get("api_errors", {})),
            delivery=[DeliveryEvent(**e) for e in d.get("delivery", [])],
            end_offsets={int(k): int(v) for k, v in d.get("end_offsets", {}).items()},
            drained=bool(d.get("drained", True)),
            drain_s=d.get("drain_s"),
            healed_at=d.get("healed_at"),
            extra=dict(d.get("extra", {})),
        )

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_json())

    @classmethod
    def load(cls, path: Path) -> FinalReads:
        try:
            d = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            raise CheckerError(
                f"{path}: cannot read the final reads ({e}); re-run the scenario"
            ) from e
        if d.get("schema") != SCHEMA:
            raise CheckerError(f"{path}: schema {d.get('schema')!r} is not {SCHEMA!r}")
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError, KeyError) as e:
            raise CheckerError(f"{path}: malformed final reads ({e})") from e


__all__ = ["SCHEMA", "DeliveryEvent", "FinalReads", "StoredRecord"]
