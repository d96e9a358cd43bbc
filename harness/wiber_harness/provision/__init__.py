"""Provisioning: find or build every component the local stack needs.

``provision_all()`` returns where each component is; ``doctor()`` reports
what was found, where, and the exact command that fixes what is missing,
without installing anything unless asked to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wiber_harness.errors import ProvisionError
from wiber_harness.provision.base import Found, cache_root, which
from wiber_harness.provision.gobuild import find_store, find_toxiproxy
from wiber_harness.provision.kafka import KafkaDist, find_java, find_kafka


@dataclass(frozen=True)
class Provisioned:
    kafka: KafkaDist
    toxiproxy: Found
    store: Found


def provision_all(*, install: bool = True) -> Provisioned:
    """Find (or, with ``install``, provision) Kafka, Toxiproxy and the store."""
    return Provisioned(
        kafka=find_kafka(install=install),
        toxiproxy=find_toxiproxy(install=install),
        store=find_store(install=install),
    )


@dataclass(frozen=True)
class DoctorLine:
    component: str
    ok: bool
    where: str
    how: str
    fix: str = ""


def doctor(*, fix: bool = False) -> list[DoctorLine]:
    """One line per component: found (where, how) or missing (with the fix)."""
    lines: list[DoctorLine] = [
        DoctorLine("cache", True, str(cache_root()), "WIBER_HARNESS_CACHE or ~/.cache")
    ]

    def probe(name: str, fn: Callable[[], tuple[str, str]], remedy: str) -> None:
        try:
            where, how = fn()
            lines.append(DoctorLine(name, True, where, how))
        except ProvisionError as e:
            lines.append(DoctorLine(name, False, "-", "missing", f"{e} {remedy}".strip()))

    probe("java", lambda: (str(find_java()), "JAVA_HOME or PATH"), "")
    for tool, remedy in (
        ("mvn", "apt-get install -y maven"),
        ("go", "apt-get install -y golang-go"),
    ):
        p = which(tool)
        lines.append(
            DoctorLine(
                tool,
                p is not None,
                str(p or "-"),
                "PATH" if p else "missing",
                "" if p else f"needed only to provision into an empty cache: {remedy}",
            )
        )

    def kafka() -> tuple[str, str]:
        k = find_kafka(install=fix)
        return str(k.libs), k.strategy

    def tox() -> tuple[str, str]:
        t = find_toxiproxy(install=fix)
        return str(t.path), t.strategy

    def store() -> tuple[str, str]:
        s = find_store(install=fix)
        return str(s.path), f"{s.component} via {s.strategy}"

    probe("kafka", kafka, "")
    probe("toxiproxy", tox, "")
    probe("store", store, "")
    return lines


__all__ = ["DoctorLine", "Provisioned", "doctor", "provision_all"]
