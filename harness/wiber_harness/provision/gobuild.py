"""Go-built binaries (Toxiproxy, FerretDB): found on the machine or built once into the cache.

Strategies for each binary, in order: an explicit env var (``TOXIPROXY_BIN``,
``FERRETDB_BIN``), a binary on PATH, the cache entry, then a build from the
Go module proxy into the cache with the ``go`` on PATH, switched to a newer
toolchain when it is older than the module needs (:mod:`.gotool`).

FerretDB is built from a small main shipped in this package
(``ferretdb_runner/``) over FerretDB's embeddable package, because a
``go install .../cmd/ferretdb@v1.24.2`` binary panics at start: the module
download lacks its generated ``build/version/version.txt``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from wiber_harness.errors import ProvisionError
from wiber_harness.provision.base import (
    Found,
    cache_root,
    check_marker,
    log_dir,
    manifest_of,
    run_logged,
    swap_into_place,
    which,
)
from wiber_harness.provision.gotool import go_for

TOXIPROXY_VERSION = "2.12.0"
FERRETDB_VERSION = "1.24.2"
# the `go` line of each module's go.mod: the oldest Go that builds it
TOXIPROXY_GO = "1.23"
FERRETDB_GO = "1.24"


def _go_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.setdefault("GOFLAGS", "-mod=mod")
    env["GOBIN"] = str(tmp)
    env.setdefault("CGO_ENABLED", "0")
    return env


def _install_entry(entry: Path, binary: str, build: Callable[[Path], None]) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=cache_root()))
    try:
        build(tmp)
        if not (tmp / binary).exists():
            raise ProvisionError(
                f"{entry.name}: the build finished without producing {binary}; see {log_dir()}"
            )
        swap_into_place(tmp, entry, manifest_of(tmp))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return entry / binary


def _cached(entry: Path, binary: str, component: str) -> Path | None:
    if entry.exists() and check_marker(entry, manifest_of(entry), component):
        return entry / binary
    return None


def _from_env(comp: str, var: str) -> Found | None:
    """The binary the environment variable ``var`` names (it must be executable), or None."""
    env = os.environ.get(var)
    if not env:
        return None
    if not os.access(env, os.X_OK):
        raise ProvisionError(
            f"{comp}: {var}={env} is not an executable file; fix the path or unset it"
        )
    return Found(comp, Path(env), var)


def _existing(
    comp: str,
    var: str,
    name: str,
    entry: Path,
    version: str,
    install: bool,
    *,
    cached_as: str | None = None,
    usable: Callable[[Path], bool] = lambda p: True,
) -> Found | None:
    """A Go-built tool found where it already is, in this order: the variable ``var``,
    ``name`` on the PATH (if ``usable``), the cache ``entry`` (binary ``cached_as``, by
    default ``name``). None: it must be built; without ``install`` that is one sentence."""
    named = _from_env(comp, var)
    if named:
        return named
    on_path = which(name)
    if on_path and usable(on_path):
        return Found(comp, on_path, "PATH")
    hit = _cached(entry, cached_as or name, comp)
    if hit:
        return Found(comp, hit, "cache", version)
    if not install:
        raise ProvisionError(
            f"{comp}: not found ({var}, PATH, {entry}); run 'wiber-harness doctor --fix'"
        )
    return None


def find_toxiproxy(*, install: bool = True) -> Found:
    """toxiproxy-server v2.12.0."""
    comp = "Toxiproxy"
    entry = cache_root() / f"toxiproxy-{TOXIPROXY_VERSION}"
    found = _existing(comp, "TOXIPROXY_BIN", "toxiproxy-server", entry, TOXIPROXY_VERSION, install)
    if found:
        return found
    go, go_extra = go_for(TOXIPROXY_GO, comp, "TOXIPROXY_BIN")
    log = log_dir() / f"toxiproxy-{TOXIPROXY_VERSION}-build.log"

    def build(tmp: Path) -> None:
        run_logged(
            [
                str(go),
                "install",
                f"github.com/Shopify/toxiproxy/v2/cmd/server@v{TOXIPROXY_VERSION}",
            ],
            component=comp,
            log=log,
            timeout=900,
            env=_go_env(tmp, go_extra),
            fix="check that the Go module proxy is reachable (go env GOPROXY)",
        )
        (tmp / "server").rename(tmp / "toxiproxy-server")

    return Found(
        comp,
        _install_entry(entry, "toxiproxy-server", build),
        "go install (just built)",
        TOXIPROXY_VERSION,
    )


def _ferretdb_ok(path: Path) -> bool:
    """A go-installed ferretdb may panic at start; only use one that prints its version."""
    try:
        r = subprocess.run(
            [str(path), "--version"], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def find_ferretdb(*, install: bool = True) -> Found:
    """FerretDB v1.24.2 (SQLite handler)."""
    comp = "FerretDB"
    entry = cache_root() / f"ferretdb-{FERRETDB_VERSION}"
    found = _existing(
        comp,
        "FERRETDB_BIN",
        "ferretdb",
        entry,
        FERRETDB_VERSION,
        install,
        cached_as="ferretdb-runner",
        usable=_ferretdb_ok,
    )
    if found:
        return found
    go, go_extra = go_for(FERRETDB_GO, comp, "FERRETDB_BIN")
    log = log_dir() / f"ferretdb-{FERRETDB_VERSION}-build.log"
    src = resources.files("wiber_harness.provision") / "ferretdb_runner"

    def build(tmp: Path) -> None:
        work = tmp / "src"
        work.mkdir()
        for name in ("main.go", "go.mod", "go.sum"):
            (work / name).write_bytes((src / name).read_bytes())
        genv = _go_env(tmp, go_extra)
        run_logged(
            [str(go), "build", "-o", str(tmp / "ferretdb-runner"), "."],
            component=comp,
            log=log,
            timeout=1200,
            env=genv,
            cwd=work,
            fix="check that the Go module proxy is reachable (go env GOPROXY)",
        )
        shutil.rmtree(work)

    return Found(
        comp,
        _install_entry(entry, "ferretdb-runner", build),
        "go build (just built)",
        FERRETDB_VERSION,
    )


def find_mongod() -> Found | None:
    """A real mongod (MONGOD_BIN or PATH), or None."""
    named = _from_env("MongoDB", "MONGOD_BIN")
    if named:
        return named
    p = which("mongod")
    return Found("MongoDB", p, "PATH") if p else None


def find_store(*, install: bool = True) -> Found:
    """The MongoDB-wire store: a real mongod when there is one, else FerretDB."""
    return find_mongod() or find_ferretdb(install=install)


__all__ = [
    "FERRETDB_GO",
    "FERRETDB_VERSION",
    "TOXIPROXY_GO",
    "TOXIPROXY_VERSION",
    "find_ferretdb",
    "find_mongod",
    "find_store",
    "find_toxiproxy",
]
