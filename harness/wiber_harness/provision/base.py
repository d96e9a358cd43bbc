"""Shared pieces of provisioning: the cache folder, tool lookup, logged commands.

Every provisioned artifact lives in one cache folder (default
``~/.cache/wiber-harness``, overridden by ``WIBER_HARNESS_CACHE``). An entry
is complete only when its marker file (``.complete``, holding a manifest)
exists and matches what is on disk; a half-written or damaged entry is
reported as corrupt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wiber_harness.errors import ProvisionError

MARKER = ".complete"


def cache_root() -> Path:
    """The cache folder (created on demand)."""
    env = os.environ.get("WIBER_HARNESS_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "wiber-harness"
    root.mkdir(parents=True, exist_ok=True)
    return root


def log_dir() -> Path:
    d = cache_root() / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass(frozen=True)
class Found:
    """Where a component was found, and how (``strategy``)."""

    component: str
    path: Path
    strategy: str
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def which(name: str) -> Path | None:
    p = shutil.which(name)
    return Path(p) if p else None


def require_tool(tool: str, component: str, fix: str) -> Path:
    """Return a tool on PATH, or raise one sentence saying what needs it and how to get it."""
    p = which(tool)
    if p is None:
        raise ProvisionError(
            f"{component}: '{tool}' is not on PATH, "
            f"and it is needed to provision {component}; {fix}"
        )
    return p


def run_logged(
    cmd: Sequence[str],
    *,
    component: str,
    log: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    fix: str = "",
) -> None:
    """Run a provisioning command with its output in ``log``; raise one sentence on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(("\n$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        try:
            rc = subprocess.run(
                list(cmd),
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            ).returncode
        except subprocess.TimeoutExpired as e:
            raise ProvisionError(
                f"{component}: '{' '.join(cmd[:3])} ...' did not finish within {timeout:.0f} s; "
                f"see {log}{'; ' + fix if fix else ''}"
            ) from e
    if rc != 0:
        raise ProvisionError(
            f"{component}: '{' '.join(cmd[:3])} ...' failed with exit code {rc}; see {log}"
            f"{'; ' + fix if fix else ''}"
        )


def manifest_of(directory: Path, pattern: str = "*") -> dict[str, int]:
    """File name -> size for the files of an entry (what the marker records)."""
    return {
        p.name: p.stat().st_size
        for p in sorted(directory.glob(pattern))
        if p.is_file() and p.name != MARKER
    }


def write_marker(entry: Path, manifest: dict[str, int]) -> None:
    (entry / MARKER).write_text(json.dumps({"files": manifest}, indent=1, sort_keys=True))


def swap_into_place(tmp: Path, entry: Path, manifest: dict[str, int]) -> None:
    """Mark the finished build in ``tmp`` complete and make it the cache ``entry``,
    replacing an old one (a half-built entry never carries the marker)."""
    write_marker(tmp, manifest)
    if entry.exists():
        shutil.rmtree(entry)
    tmp.rename(entry)


def check_marker(entry: Path, manifest: dict[str, int], component: str) -> bool:
    """True if the entry is complete; False if absent; raise if present but damaged."""
    marker = entry / MARKER
    if not entry.exists():
        return False
    if not marker.exists():
        raise ProvisionError(
            f"{component}: the cache entry {entry} is incomplete or corrupt (no {MARKER} marker); "
            f"delete it (rm -rf {entry}) or run 'wiber-harness doctor --fix' to provision it again"
        )
    try:
        recorded = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError, OSError) as e:
        raise ProvisionError(
            f"{component}: the cache entry {entry} has an unreadable marker; "
            f"delete it (rm -rf {entry}) or run 'wiber-harness doctor --fix'"
        ) from e
    if recorded != manifest:
        missing = sorted(set(recorded) - set(manifest))
        changed = sorted(k for k in recorded if k in manifest and recorded[k] != manifest[k])
        what = f"missing {missing[:3]}" if missing else f"changed {changed[:3]}"
        raise ProvisionError(
            f"{component}: the cache entry {entry} is corrupt ({what}); delete it (rm -rf {entry}) "
            f"or run 'wiber-harness doctor --fix' to provision it again"
        )
    return True


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = [
    "MARKER",
    "Found",
    "cache_root",
    "check_marker",
    "file_digest",
    "log_dir",
    "manifest_of",
    "require_tool",
    "run_logged",
    "swap_into_place",
    "which",
    "write_marker",
]
