"""The app image's source digest: content, not timestamps, decides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wiber_harness.cluster import source_digest as sd


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


FILES = {"__init__.py": b"", "api.py": b"print('a')\n", "store/mongo.py": b"X = 1\n"}


def test_same_content_with_other_mtimes_and_caches_gives_the_same_digest(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", FILES)
    b = _tree(
        tmp_path / "b", {**FILES, "__pycache__/api.cpython-311.pyc": b"junk", "store/x.pyc": b"j"}
    )
    os.utime(b / "api.py", (1, 1))
    assert sd.source_digest(a) == sd.source_digest(b)


@pytest.mark.parametrize(
    "change",
    [
        {"api.py": b"print('b')\n"},  # one byte differs
        {"api2.py": b"print('a')\n"},  # a file added
    ],
)
def test_other_content_gives_another_digest(tmp_path: Path, change: dict[str, bytes]) -> None:
    a = _tree(tmp_path / "a", FILES)
    b = _tree(tmp_path / "b", {**FILES, **change})
    assert sd.source_digest(a) != sd.source_digest(b)


def test_a_renamed_file_gives_another_digest(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", FILES)
    renamed = dict(FILES)
    renamed["store/mongo2.py"] = renamed.pop("store/mongo.py")
    assert sd.source_digest(a) != sd.source_digest(_tree(tmp_path / "b", renamed))


def test_verdicts() -> None:
    assert sd.app_image_verdict(None, "d1") == "unknown"
    assert sd.app_image_verdict("", "d1") == "unknown"
    assert sd.app_image_verdict("d1", "d1") == "current"
    assert sd.app_image_verdict("d0", "d1") == "stale"


def test_the_script_build_sh_runs_prints_the_same_digest(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", FILES)
    out = subprocess.run(
        [sys.executable, sd.__file__, str(a)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == sd.source_digest(a)
    bad = subprocess.run(
        [sys.executable, sd.__file__, str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "no such directory" in bad.stderr
