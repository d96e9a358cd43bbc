"""Kafka's own benchmark tools as references: argv builders, output parsers, a runner.

Both tools come from the ``kafka-tools`` jar of the provisioned Kafka
(:class:`~wiber_harness.provision.kafka.KafkaDist`) and are run as
``java -cp 'libs/*' org.apache.kafka.tools.<Tool> ...`` with a log4j2
configuration that keeps their logging on stderr at WARN, so stdout holds
only their results.

* **ProducerPerformance** (``kafka-producer-perf-test``): sends
  ``num_records`` records as fast as it can (``--throughput -1``) and prints
  a summary line per phase::

      100000 records sent, 4323.015736 records/sec (1.23 MB/sec), 8494.79 ms avg latency,
      12049.00 ms max latency, 9349 ms 50th, 11661 ms 95th, 11911 ms 99th, 12049 ms 99.9th.

  With ``--warmup-records W`` a second summary follows, for the records
  after the warm-up, whose count is followed by ``steady state``;
  :func:`parse_producer_performance` prefers it (the JVM's JIT and the
  producer's first metadata round trips are not the pipeline's business).
  Payloads come from a file of real Wiber records (:func:`write_payload_file`),
  so the record size and its compressibility match the API's records.
* **EndToEndLatency**: one record at a time, produced synchronously
  (``linger.ms=0``) and polled back by a consumer assigned to every
  partition at their end (``fetch.max.wait.ms=0``); prints ``Avg latency:
  X ms`` and ``Percentiles: 50th = a, 99th = b, 99.9th = c`` (whole
  milliseconds: the tool truncates each latency to ms). It fails when
  another record arrives on the topic meanwhile, so nothing else may write
  the topic while it runs.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wiber.model import Message, encode_record
from wiber.producer import producer_config
from wiber.settings import Settings
from wiber_harness.errors import HarnessError
from wiber_harness.workload.plan import content_for

PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
END_TO_END_LATENCY = "org.apache.kafka.tools.EndToEndLatency"
TOOL_HEAP = "-Xmx512m"

# the same records the API produces: these keys of wiber.producer.producer_config with
# the default settings (no environment), as Java producer properties
_API_CONF = producer_config(Settings.model_construct(), "bench")
API_PRODUCER_PROPS: Mapping[str, str] = {
    k: str(_API_CONF[k]).lower() if isinstance(_API_CONF[k], bool) else str(_API_CONF[k])
    for k in ("acks", "enable.idempotence", "compression.type", "linger.ms")
}

TOOLS_LOG4J2 = """\
# Kafka tools run by the benchmark: warnings only, on stderr; stdout holds the results.
status = warn
name = wiber-bench-tools
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"""

_PP_LINE = re.compile(
    r"^(?P<records>\d+)(?P<steady> steady state)? records sent, (?P<rps>[\d.]+) records/sec "
    r"\((?P<mbps>[\d.]+) MB/sec\), (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, "
    r"(?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, "
    r"(?P<p999>\d+) ms 99\.9th\.?\s*$",
    re.M,
)
_E2E_AVG = re.compile(r"^Avg latency: (?P<avg>[\d.]+) ms\s*$", re.M)
_E2E_PCT = re.compile(
    r"^Percentiles: 50th = (?P<p50>\d+), 99th = (?P<p99>\d+), 99\.9th = (?P<p999>\d+)\s*$", re.M
)


class ToolError(HarnessError):
    """A Kafka tool failed, timed out or printed no result."""


@dataclass(frozen=True)
class _ToolResult:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProducerPerfResult(_ToolResult):
    """One ProducerPerformance summary (the steady-state one when there is one)."""

    records: int
    records_per_s: float
    mb_per_s: float
    avg_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    steady_state: bool


@dataclass(frozen=True)
class EndToEndResult(_ToolResult):
    """EndToEndLatency's result: whole milliseconds, as the tool prints them."""

    avg_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


def parse_producer_performance(stdout: str) -> ProducerPerfResult:
    """The steady-state summary of ProducerPerformance's output, else its last summary."""
    found = list(_PP_LINE.finditer(stdout))
    if not found:
        raise ToolError(
            f"ProducerPerformance printed no summary line; its output ended: {stdout[-400:]!r}"
        )
    steady = [m for m in found if m.group("steady")]
    m = (steady or found)[-1]
    return ProducerPerfResult(
        records=int(m.group("records")),
        records_per_s=float(m.group("rps")),
        mb_per_s=float(m.group("mbps")),
        avg_ms=float(m.group("avg")),
        max_ms=float(m.group("max")),
        p50_ms=float(m.group("p50")),
        p95_ms=float(m.group("p95")),
        p99_ms=float(m.group("p99")),
        p999_ms=float(m.group("p999")),
        steady_state=bool(m.group("steady")),
    )


def parse_end_to_end_latency(stdout: str) -> EndToEndResult:
    """EndToEndLatency's average and percentiles (ms)."""
    avg, pct = _E2E_AVG.search(stdout), _E2E_PCT.search(stdout)
    if avg is None or pct is None:
        raise ToolError(f"EndToEndLatency printed no result; its output ended: {stdout[-400:]!r}")
    return EndToEndResult(
        avg_ms=float(avg.group("avg")),
        p50_ms=float(pct.group("p50")),
        p99_ms=float(pct.group("p99")),
        p999_ms=float(pct.group("p999")),
    )


def _tool(
    java: Path, classpath: str, log4j: Path, main: str, bootstrap: str, topic: str, records: int
) -> list[str]:
    """``java ... <main>`` and the flags both tools take: bootstrap, topic, record count."""
    return [
        str(java),
        TOOL_HEAP,
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
        main,
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--num-records",
        str(records),
    ]


def producer_performance_argv(
    java: Path,
    classpath: str,
    log4j: Path,
    *,
    bootstrap: str,
    topic: str,
    records: int,
    payload_file: Path,
    props: Mapping[str, str] = API_PRODUCER_PROPS,
    warmup_records: int = 0,
) -> list[str]:
    """ProducerPerformance at full speed with the given producer properties."""
    argv = [
        *_tool(java, classpath, log4j, PRODUCER_PERFORMANCE, bootstrap, topic, records),
        "--throughput",
        "-1",
        "--payload-file",
        str(payload_file),
        "--reporting-interval",
        "1000",
    ]
    if warmup_records > 0:
        argv += ["--warmup-records", str(warmup_records)]
    if props:
        argv += ["--command-property", *[f"{k}={v}" for k, v in props.items()]]
    return argv


def end_to_end_latency_argv(
    java: Path,
    classpath: str,
    log4j: Path,
    *,
    bootstrap: str,
    topic: str,
    records: int,
    record_size: int,
    acks: str = "all",
) -> list[str]:
    """EndToEndLatency (named flags, Kafka 4.x)."""
    return [
        *_tool(java, classpath, log4j, END_TO_END_LATENCY, bootstrap, topic, records),
        "--producer-acks",
        acks,
        "--record-size",
        str(record_size),
    ]


def run_tool(argv: Sequence[str], log: Path, timeout: float) -> tuple[str, float]:
    """Run a tool; (stdout, seconds). Its stdout and stderr are also written to ``log``."""
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        log.write_text(f"$ {' '.join(argv)}\n# timed out after {timeout:.0f} s\n{out}")
        raise ToolError(
            f"{argv[-1] if argv else 'tool'}: no result within {timeout:.0f} s; see {log}"
        ) from None
    took = time.monotonic() - t0
    log.write_text(
        f"$ {' '.join(argv)}\n# exit {r.returncode} after {took:.1f} s\n"
        f"--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    )
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise ToolError(
            f"{_tool_name(argv)} exited {r.returncode}: {' | '.join(tail)[:400]}; see {log}"
        )
    return r.stdout, took


def _tool_name(argv: Sequence[str]) -> str:
    for a in argv:
        if a.startswith("org.apache.kafka.tools."):
            return a.rsplit(".", 1)[-1]
    return "tool"


def wiber_record(i: int, payload_size: int, run_id: str = "kafka-ref", users: int = 100) -> bytes:
    """A Wiber record exactly as the API would produce it (conversation ``i % users``)."""
    a, b = f"u{2 * (i % users)}", f"u{2 * (i % users) + 1}"
    sender, to = (a, b) if i % 2 == 0 else (b, a)
    return encode_record(
        Message.new(
            sender, to, content_for(sender, i + 1, payload_size), f"{run_id}-{sender}-{i + 1}"
        )
    )


def write_payload_file(path: Path, n: int, payload_size: int) -> float:
    """``n`` distinct Wiber records, one per line; returns their mean size in bytes."""
    lines = [wiber_record(i, payload_size) for i in range(n)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return sum(len(x) for x in lines) / max(len(lines), 1)


def write_tools_log4j(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / "tools-log4j2.properties"
    p.write_text(TOOLS_LOG4J2)
    return p


__all__ = [
    "API_PRODUCER_PROPS",
    "END_TO_END_LATENCY",
    "PRODUCER_PERFORMANCE",
    "EndToEndResult",
    "ProducerPerfResult",
    "ToolError",
    "end_to_end_latency_argv",
    "parse_end_to_end_latency",
    "parse_producer_performance",
    "producer_performance_argv",
    "run_tool",
    "wiber_record",
    "write_payload_file",
    "write_tools_log4j",
]
