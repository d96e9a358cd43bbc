"""Kafka 4.4.0 broker and tools: found or provisioned, with a working logger.

Strategies, in order:

1. ``KAFKA_HOME`` (an extracted Kafka distribution: its ``libs/``);
2. the cache entry ``kafka-<version>/libs`` made by strategy 3;
3. resolve ``org.apache.kafka:kafka_2.13`` and ``kafka-tools`` with their
   runtime dependencies from Maven Central with ``mvn
   dependency:copy-dependencies`` over the pom shipped in this package. The
   pom adds the log4j2 slf4j binding and log4j-core (Kafka 4.x brings only
   slf4j-api, and a broker without a binding logs nothing).

Java is required at run time (``JAVA_HOME/bin/java`` or ``java`` on PATH).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wiber_harness.errors import ProvisionError
from wiber_harness.provision.base import (
    cache_root,
    check_marker,
    log_dir,
    manifest_of,
    require_tool,
    run_logged,
    swap_into_place,
    which,
)

KAFKA_VERSION = "4.4.0"
COMPONENT = "Kafka"
BROKER_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
JAVA_FIX = "install a JDK 17+ (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"
MAVEN_FIX = (
    "install Maven (apt-get install -y maven) or set KAFKA_HOME to an extracted Kafka distribution"
)


@dataclass(frozen=True)
class KafkaDist:
    """A usable Kafka: a classpath of jars and the java to run them with."""

    libs: Path
    java: Path
    strategy: str
    version: str = KAFKA_VERSION

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")

    def log4j_config(self) -> Path:
        """The log4j2 properties file shipped with the harness."""
        return Path(str(resources.files("wiber_harness.provision") / "log4j2.properties"))


def find_java() -> Path:
    """The java binary: JAVA_HOME first, then PATH; one sentence if neither."""
    home = os.environ.get("JAVA_HOME")
    if home:
        j = Path(home) / "bin" / "java"
        if j.exists():
            return j
        raise ProvisionError(f"Java: JAVA_HOME={home} has no bin/java; {JAVA_FIX}")
    j2 = which("java")
    if j2 is None:
        raise ProvisionError(
            f"Java: no 'java' on PATH and JAVA_HOME is unset; Kafka needs it; {JAVA_FIX}"
        )
    return j2


def cache_entry(version: str = KAFKA_VERSION) -> Path:
    return cache_root() / f"kafka-{version}"


def _jars_ok(libs: Path) -> bool:
    names = {p.name for p in libs.glob("*.jar")}
    return any(n.startswith("kafka_2.13-") for n in names) and any(
        n.startswith("log4j-core-") for n in names
    )


def find_kafka(*, install: bool = True, version: str = KAFKA_VERSION) -> KafkaDist:
    """Find or provision Kafka; raise ProvisionError with the fix when impossible."""
    java = find_java()
    home = os.environ.get("KAFKA_HOME")
    if home:
        libs = Path(home) / "libs"
        if not libs.is_dir() or not any(libs.glob("kafka_2.13-*.jar")):
            raise ProvisionError(
                f"Kafka: KAFKA_HOME={home} has no libs/kafka_2.13-*.jar; point it at an extracted "
                f"Kafka {version} distribution or unset it to use the Maven-provisioned jars"
            )
        return KafkaDist(libs=libs, java=java, strategy="KAFKA_HOME")
    entry = cache_entry(version)
    libs = entry / "libs"
    if entry.exists() and check_marker(entry, manifest_of(libs, "*.jar"), COMPONENT):
        return KafkaDist(libs=libs, java=java, strategy="cache")
    if not install:
        raise ProvisionError(
            f"Kafka: {version} is not in the cache ({entry}); run 'wiber-harness doctor --fix' "
            f"to resolve it from Maven Central, or set KAFKA_HOME"
        )
    provision_kafka(version)
    return KafkaDist(libs=libs, java=java, strategy="maven (just provisioned)")


def provision_kafka(version: str = KAFKA_VERSION) -> Path:
    """Resolve the jars with Maven into a temporary folder, then move it into place."""
    mvn = require_tool("mvn", COMPONENT, MAVEN_FIX)
    entry = cache_entry(version)
    log = log_dir() / f"kafka-{version}-maven.log"
    pom = Path(str(resources.files("wiber_harness.provision") / "kafka-pom.xml"))
    tmp = Path(tempfile.mkdtemp(prefix=f".kafka-{version}-", dir=cache_root()))
    try:
        libs = tmp / "libs"
        run_logged(
            [
                str(mvn),
                "-B",
                "-q",
                "-f",
                str(pom),
                f"-Dkafka.version={version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
            ],
            component=COMPONENT,
            log=log,
            timeout=900,
            fix="check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml)",
        )
        if not _jars_ok(libs):
            raise ProvisionError(
                f"Kafka: Maven finished but the broker or log4j jars are missing; see {log}"
            )
        swap_into_place(tmp, entry, manifest_of(libs, "*.jar"))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return entry


__all__ = [
    "BROKER_CLASS",
    "KAFKA_VERSION",
    "STORAGE_TOOL_CLASS",
    "KafkaDist",
    "find_java",
    "find_kafka",
    "provision_kafka",
]
