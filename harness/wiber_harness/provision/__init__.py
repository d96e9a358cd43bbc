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
from wiber_harness.provision.gobuild import FERRETDB_GO, find_store, find_toxiproxy
from wiber_harness.provision.gotool import GO_TOOLCHAIN, go_version
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


def _tool_line(tool: str, needed: bool, remedy: str) -> DoctorLine:
    """A build tool: found, missing and needed (with the fix), or missing and not needed."""
    p = which(tool)
    if p is not None:
        how = "PATH"
        if tool == "go":
            v = go_version(p)
            how += f", Go {'.'.join(map(str, v))}" if v else ", version unreadable"
            if v and v[:2] < tuple(int(x) for x in FERRETDB_GO.split(".")):
                how += f"; builds switch to {GO_TOOLCHAIN} (GOTOOLCHAIN)"
        return DoctorLine(tool, True, str(p), how)
    if not needed:
        return DoctorLine(tool, True, "-", "not needed: what it builds is provisioned")
    return DoctorLine(
        tool, False, "-", "missing", f"needed to provision into an empty cache: {remedy}"
    )


def doctor(*, fix: bool = False) -> list[DoctorLine]:
    """One line per component: found (where, how) or missing (with the fix).

    ``mvn`` and ``go`` only build into the cache: their absence is a problem
    only while a component they build is missing.
    """
    lines: list[DoctorLine] = [
        DoctorLine("cache", True, str(cache_root()), "WIBER_HARNESS_CACHE or ~/.cache")
    ]
    probes: list[DoctorLine] = []

    def probe(name: str, fn: Callable[[], tuple[str, str]], remedy: str) -> None:
        try:
            where, how = fn()
            probes.append(DoctorLine(name, True, where, how))
        except ProvisionError as e:
            probes.append(DoctorLine(name, False, "-", "missing", f"{e} {remedy}".strip()))

    def kafka() -> tuple[str, str]:
        k = find_kafka(install=fix)
        return str(k.libs), k.strategy

    def tox() -> tuple[str, str]:
        t = find_toxiproxy(install=fix)
        return str(t.path), t.strategy

    def store() -> tuple[str, str]:
        s = find_store(install=fix)
        return str(s.path), f"{s.component} via {s.strategy}"

    probe("java", lambda: (str(find_java()), "JAVA_HOME or PATH"), "")
    probe("kafka", kafka, "")
    probe("toxiproxy", tox, "")
    probe("store", store, "")
    ok = {ln.component: ln.ok for ln in probes}
    lines.append(probes[0])
    lines.append(_tool_line("mvn", not ok["kafka"], "apt-get install -y maven"))
    lines.append(
        _tool_line(
            "go",
            not (ok["toxiproxy"] and ok["store"]),
            "run scripts/setup.sh (Go from Debian's packages) or put Go 1.21+ on PATH",
        )
    )
    lines.extend(probes[1:])
    return lines


__all__ = ["DoctorLine", "Provisioned", "doctor", "provision_all"]
