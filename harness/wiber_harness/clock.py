"""One clock for a run: monotonic nanoseconds since the run started.

Every op's ``time`` comes from :meth:`Clock.now`. ``wall0_ns`` ties the
monotonic origin to the wall clock, so times the system writes (for example
the consumer's ``storedAtNs``, epoch ns) can be placed on the same axis with
:meth:`Clock.from_wall`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clock:
    t0_ns: int = field(default_factory=time.monotonic_ns)
    wall0_ns: int = field(default_factory=time.time_ns)

    def now(self) -> int:
        return time.monotonic_ns() - self.t0_ns

    def wall(self, t_ns: int) -> int:
        """Epoch ns of a run time."""
        return self.wall0_ns + t_ns

    def from_wall(self, epoch_ns: int) -> int:
        """Run time of an epoch-ns timestamp (same machine, same clock)."""
        return epoch_ns - self.wall0_ns

    def seconds(self) -> float:
        return self.now() / 1e9


__all__ = ["Clock"]
