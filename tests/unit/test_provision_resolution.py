"""Where a Go-built tool is found (variable, PATH, cache) and how a build enters the cache.

Pure file-system logic on temporary folders: no Go, no network.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wiber_harness.errors import ProvisionError
from wiber_harness.provision import base, gobuild


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("WIBER_HARNESS_CACHE", str(root))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("TOXIPROXY_BIN", raising=False)
    return root


def test_the_variable_comes_first_and_must_name_an_executable(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(tmp_path / "bin" / "toxiproxy-server")
    named = executable(tmp_path / "mine" / "toxiproxy-server")
    monkeypatch.setenv("TOXIPROXY_BIN", str(named))
    assert gobuild.find_toxiproxy(install=False).strategy == "TOXIPROXY_BIN"
    named.chmod(0o644)
    with pytest.raises(ProvisionError, match=r"TOXIPROXY_BIN=.* is not an executable file"):
        gobuild.find_toxiproxy(install=False)


def test_then_the_path_then_the_cache_then_one_sentence(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match=r"Toxiproxy: not found \(TOXIPROXY_BIN, PATH, "):
        gobuild.find_toxiproxy(install=False)
    entry = cache / f"toxiproxy-{gobuild.TOXIPROXY_VERSION}"
    build = tmp_path / "build"
    executable(build / "toxiproxy-server")
    base.swap_into_place(build, entry, base.manifest_of(build))
    assert not build.exists() and (entry / base.MARKER).exists()
    assert gobuild.find_toxiproxy(install=False).strategy == "cache"
    on_path = executable(tmp_path / "bin" / "toxiproxy-server")
    found = gobuild.find_toxiproxy(install=False)
    assert (found.strategy, found.path) == ("PATH", on_path)


def test_swap_into_place_replaces_an_old_entry(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    (entry / "old").mkdir(parents=True)
    new = tmp_path / "new"
    executable(new / "tool")
    base.swap_into_place(new, entry, base.manifest_of(new))
    assert sorted(os.listdir(entry)) == sorted(["tool", base.MARKER])
