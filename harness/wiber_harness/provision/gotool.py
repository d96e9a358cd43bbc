"""The Go command for a build: the ``go`` on PATH, switched to a newer toolchain when it is too old.

Promise: :func:`go_for` returns the ``go`` on PATH and the environment to
build with, such that the build runs on a Go at least as new as the one it
needs (``need``, a ``"1.N"`` language version from the module's ``go`` line):

* the ``go`` on PATH is new enough: it builds as it is;
* it is Go 1.21 or newer but too old: ``GOTOOLCHAIN`` is set to
  :data:`GO_TOOLCHAIN`, which the go command downloads once through the Go
  module proxy (checked against the checksum database) and runs instead.
  This is how a Debian 12 machine builds: bookworm's own ``golang-go`` is Go
  1.19 and bookworm-backports' newest is ``golang-1.23-go``, while FerretDB
  v1.24 needs Go 1.24 (``scripts/setup.sh`` installs the backports one);
* older than 1.21 (no toolchain switching), or no ``go`` at all: one
  :class:`~wiber_harness.errors.ProvisionError` sentence naming the fix.

A ``GOTOOLCHAIN`` already set in the environment is the user's choice and is
left alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from wiber_harness.errors import ProvisionError
from wiber_harness.provision.base import require_tool

GO_TOOLCHAIN = "go1.24.13"
"""The toolchain a too-old (>= 1.21) go switches to; it covers every build here."""

GO_SWITCH_MIN = (1, 21)
"""The oldest go that can switch toolchains (``GOTOOLCHAIN``)."""

_VERSION = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?")


def parse_go_version(text: str) -> tuple[int, int, int] | None:
    """``go1.23.5`` (or ``go1.24``, ``devel go1.25-abc``) -> (1, 23, 5); None if unreadable."""
    m = _VERSION.search(text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def go_version(go: Path) -> tuple[int, int, int] | None:
    """The version of the go binary itself (``GOTOOLCHAIN=local``: no switch while asking)."""
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    try:
        r = subprocess.run(
            [str(go), "env", "GOVERSION"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_go_version(r.stdout) if r.returncode == 0 else None


def _fix(env_var: str) -> str:
    return (
        "run scripts/setup.sh (it installs a Go toolchain from Debian's packages), "
        f"put Go 1.21+ on PATH, or set {env_var} to a prebuilt binary"
    )


def go_for(need: str, component: str, env_var: str) -> tuple[Path, dict[str, str]]:
    """The go on PATH and the extra environment that makes it build with Go >= ``need``."""
    go = require_tool("go", component, _fix(env_var))
    have = go_version(go)
    want = tuple(int(p) for p in need.split("."))
    if have is None:
        raise ProvisionError(
            f"{component}: could not read the version of {go} ('go env GOVERSION' failed); "
            + _fix(env_var)
        )
    if have[: len(want)] >= want or "GOTOOLCHAIN" in os.environ:
        return go, {}
    if have[:2] < GO_SWITCH_MIN:
        shown = ".".join(map(str, have))
        raise ProvisionError(
            f"{component}: {go} is Go {shown}, too old to build it (needs {need}) or to fetch a "
            f"newer toolchain (needs 1.21); " + _fix(env_var)
        )
    return go, {"GOTOOLCHAIN": GO_TOOLCHAIN}


__all__ = ["GO_SWITCH_MIN", "GO_TOOLCHAIN", "go_for", "go_version", "parse_go_version"]
