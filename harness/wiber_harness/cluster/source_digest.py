"""The content digest of the pipeline's source, stamped on the app image.

``docker/offline/build.sh`` runs this file as a script (stdlib only, so it
needs no install) and passes the digest to ``docker build`` as the
``org.wiber.source-digest`` label; the compose backend computes the same
digest of the source next to the compose files and refuses to run an image
whose label differs, since it would test old code. A content digest, not a
timestamp: a fresh clone has new mtimes but the same code, and Docker's
layer cache then hands back the old (identical) image with its old
creation time.

Promise: two trees give the same digest exactly when they hold the same
files (relative path and bytes) outside ``__pycache__`` and ``*.pyc``, the
set the app image's build context keeps (``.dockerignore``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Literal

LABEL = "org.wiber.source-digest"


def _kept(rel: Path) -> bool:
    return "__pycache__" not in rel.parts and rel.suffix != ".pyc"


def source_digest(root: Path) -> str:
    """sha256 over the sorted (relative path, sha256 of bytes) of every kept file under root."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: no such directory; pass the pipeline's package (system/wiber)"
        )
    h = hashlib.sha256()
    files = sorted((p.relative_to(root), p) for p in root.rglob("*") if p.is_file())
    for rel, p in files:
        if _kept(rel):
            h.update(rel.as_posix().encode())
            h.update(b"\0")
            h.update(hashlib.sha256(p.read_bytes()).hexdigest().encode())
            h.update(b"\n")
    return h.hexdigest()


Verdict = Literal["current", "stale", "unknown"]


def app_image_verdict(label: str | None, current: str) -> Verdict:
    """'current', 'stale' (the image's label names other source) or 'unknown' (no label)."""
    if not label:
        return "unknown"
    return "current" if label == current else "stale"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: source_digest.py DIR (the pipeline's package, system/wiber)", file=sys.stderr)
        return 2
    try:
        print(source_digest(Path(argv[0])))
    except OSError as e:
        print(f"source_digest: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
