"""The Go command a build uses: as it is, switched to a newer toolchain, or refused (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wiber_harness.errors import ProvisionError
from wiber_harness.provision import gotool


def _fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> Path:
    """A ``go`` on an otherwise empty PATH whose ``go env GOVERSION`` prints ``version``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo {version}\n')
    go.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    return go


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("go1.23.5", (1, 23, 5)),
        ("go1.24", (1, 24, 0)),
        ("devel go1.26-abcdef Tue", (1, 26, 0)),
        ("nothing", None),
    ],
)
def test_parse_go_version(text: str, want: tuple[int, int, int] | None) -> None:
    assert gotool.parse_go_version(text) == want


def test_a_new_enough_go_builds_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go = _fake_go(tmp_path, monkeypatch, "go1.24.2")
    assert gotool.go_for("1.24", "FerretDB", "FERRETDB_BIN") == (go, {})


def test_an_older_go_switches_toolchain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go = _fake_go(tmp_path, monkeypatch, "go1.23.5")
    assert gotool.go_for("1.23", "Toxiproxy", "TOXIPROXY_BIN") == (go, {})
    path, env = gotool.go_for("1.24", "FerretDB", "FERRETDB_BIN")
    assert path == go and env == {"GOTOOLCHAIN": gotool.GO_TOOLCHAIN}
    assert (gotool.parse_go_version(gotool.GO_TOOLCHAIN) or (0, 0, 0)) >= (1, 24, 0)


def test_a_users_gotoolchain_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go = _fake_go(tmp_path, monkeypatch, "go1.22.1")
    monkeypatch.setenv("GOTOOLCHAIN", "local")
    assert gotool.go_for("1.24", "FerretDB", "FERRETDB_BIN") == (go, {})


def test_a_go_too_old_to_switch_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_go(tmp_path, monkeypatch, "go1.19.8")
    with pytest.raises(ProvisionError) as e:
        gotool.go_for("1.24", "FerretDB", "FERRETDB_BIN")
    msg = str(e.value)
    assert "Go 1.19.8" in msg and "scripts/setup.sh" in msg and "FERRETDB_BIN" in msg
    assert "\n" not in msg
